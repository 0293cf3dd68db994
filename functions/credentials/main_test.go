package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestSampleEvents feeds the credentials function's sample events in events/ to the
// handler main starts, against the emulators and the Amazon simulator, so the files
// that `sam local invoke CredentialsFunction -e events/<file>` documents never rot.
func TestSampleEvents(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, d deployment, out []byte)
	}{
		{"sqs-client-secret-new.json", func(t *testing.T, d deployment, out []byte) {
			wantNoBatchFailures(t, out)
			c, err := d.vault.ClientCredentials(context.Background())
			must(t, err)
			if c.ClientSecret.Reveal() != demo.RotatedClientSecret || !c.ClientSecretExpiresAt.Equal(demo.Expires) {
				t.Fatalf("the sample's secret was not stored (expiry %v)", c.ClientSecretExpiresAt)
			}
		}},
		{"sqs-client-secret-expiry.json", func(t *testing.T, d deployment, out []byte) {
			wantNoBatchFailures(t, out)
			if d.sim.Rotations() != 1 || d.sim.NotificationsSent() != 1 {
				t.Fatalf("rotations %d, notifications %d", d.sim.Rotations(), d.sim.NotificationsSent())
			}
		}},
		{"schedule-credentials.json", func(t *testing.T, d deployment, out []byte) {
			var r rotation.Result
			must(t, json.Unmarshal(out, &r))
			if r.Result != rotation.ResultRequested || r.DaysLeft == nil || *r.DaysLeft != 16 || d.sim.Rotations() != 1 {
				t.Fatalf("check %s", out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", tc.file))
			must(t, err)
			d := deploy(t)
			out, err := d.handler.Invoke(context.Background(), raw)
			must(t, err)
			tc.check(t, d, out)
		})
	}
}

type deployment struct {
	handler *rotation.Handler
	vault   *vault.Vault
	sim     *amazonsim.Sim
}

// deploy builds the graph main builds, over fresh resources: the demo client secret
// expiring in 16 days, the notifications queue registered with the simulator, which
// also accepts the sample's rotated secret.
func deploy(t *testing.T) deployment {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2027, 1, 16, 6, 20, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim := amazonsim.New(amazonsim.Config{AppID: demo.AppID, ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, Clock: clock})
	sim.SetClientSecrets(demo.ClientSecret, demo.RotatedClientSecret)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sq := testenv.SQS(t)
	sim.SetNotificationDestination(sq, testenv.NewQueue(t, "notifications"))

	cfg := config.Config{TableName: testenv.NewTable(t), SecretPrefix: testenv.Prefix(t), LWAEndpoint: srv.URL + "/auth/o2/token"}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	sm := testenv.SecretsManager(t)
	v := vault.New(sm, cfg.SecretPrefix, "").WithLogger(quiet)
	must(t, v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: demo.ClientID, ClientSecret: secret.Value(demo.ClientSecret),
		ClientSecretExpiresAt: now.Add(16 * 24 * time.Hour)}))
	h, _ := wire(app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: testenv.DynamoDB(t), Secrets: sm},
		Log: quiet, Clock: authz.ClockFunc(clock)}, options{SPAPIEndpoint: srv.URL})
	return deployment{handler: h, vault: v, sim: sim}
}

func wantNoBatchFailures(t *testing.T, out []byte) {
	t.Helper()
	var r events.SQSEventResponse
	if err := json.Unmarshal(out, &r); err != nil || len(r.BatchItemFailures) != 0 || r.BatchItemFailures == nil {
		t.Fatalf("want an SQSEventResponse without failures, got %s", out)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
