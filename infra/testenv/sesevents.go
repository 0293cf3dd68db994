package testenv

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/sesevents"
)

// SESWithEvents is SESv2 behind the SES event simulator: the client sends through it
// to aws-ses-v2-local, and the events a real SES would publish for configuration set
// set (mailbox simulator addresses included) go to deliver as EventBridge events.
// Wait on the simulator before reading what the events did.
func SESWithEvents(t testing.TB, set string, deliver sesevents.Deliver) (*sesv2.Client, *SESStore, *sesevents.Simulator) {
	t.Helper()
	_, mail := SESv2(t)
	sim, err := sesevents.New(endpoint(t, emulators.EnvSES), deliver, sesevents.Options{
		ConfigurationSet: set, Delay: 20 * time.Millisecond, RetryDelay: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	client := sesv2.NewFromConfig(Config(), func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.Retryer = fastRetryer()
	})
	return client, mail, sim
}
