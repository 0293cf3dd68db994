package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// TestClientSecretRotationOnTheLocalStack runs CredentialsFunction's built binary in the
// local stack, with its notifications queue polled as Lambda's event source would: the
// operator asks for a rotation with keeperctl, the simulator puts the new secret on the
// queue, the function stores it, and keeperctl shows it. A second request within the
// minute is refused on this side, without calling Amazon (0.0167 calls a second).
func TestClientSecretRotationOnTheLocalStack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	endpoints := map[string]string{}
	for _, k := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		if v := os.Getenv(k); v != "" {
			endpoints[k] = v // make test's emulators; otherwise the stack starts its own
		}
	}
	var logs testenv.Buffer
	s, err := localstack.Start(ctx, localstack.Options{BinDir: binDir, Functions: []string{localstack.CredentialsFunction},
		Endpoints: endpoints, Name: "keeper-rotation-" + testenv.Prefix(t), Log: &logs})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	defer s.Stop()
	if s.QueueURL("ClientSecretNotificationsQueue") == "" {
		t.Fatal("the stack has no notifications queue")
	}
	root := stateRoot(t, s)
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Root: root, Getenv: func(string) string { return "" }}
		code := c.Run(ctx, append([]string{"--local"}, args...))
		return code, out.String(), errOut.String()
	}
	status := func() rotation.Status {
		t.Helper()
		code, out, errOut := cli("client-secret", "status", "--json")
		var st rotation.Status
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("client-secret status: exit %d %s %s", code, out, errOut)
		}
		return st
	}

	if st := status(); st.ClientID != demo.ClientID || st.DaysLeft == nil || *st.DaysLeft < 148 || !st.LastRotatedAt.IsZero() || !st.PendingSince.IsZero() {
		t.Fatalf("status before: %+v", st)
	}
	if code, out, errOut := cli("client-secret", "rotate"); code != 0 || !strings.Contains(out, "rotation requested") {
		t.Fatalf("client-secret rotate: exit %d %s %s", code, out, errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	st := status()
	for st.LastRotatedAt.IsZero() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		st = status()
	}
	if st.LastRotatedAt.IsZero() || !st.PendingSince.IsZero() || *st.DaysLeft != 179 || len(st.History) != 2 {
		t.Fatalf("status after the notification: %+v\n%s", st, logs.String())
	}
	c, err := vault.New(s.Clients().Secrets, s.SecretPrefix, "").ClientCredentials(ctx)
	must(t, err)
	newSecret := s.Sim().CurrentClientSecret()
	if c.ClientSecret.Reveal() != newSecret || newSecret == demo.ClientSecret {
		t.Fatal("the lwa-client secret does not hold the rotated secret")
	}
	code, out, errOut := cli("client-secret", "status")
	if code != 0 || !strings.Contains(out, "179 days left") || !strings.Contains(out, "rotated") || !strings.Contains(out, "rotation pending:  no") {
		t.Fatalf("client-secret status: exit %d\n%s%s", code, out, errOut)
	}

	// A second rotation within the minute: refused before Amazon is asked.
	code, _, errOut = cli("client-secret", "rotate")
	if code != operator.ExitFail || !strings.Contains(errOut, "throttled") || s.Sim().RotationRequests() != 1 {
		t.Fatalf("second rotate: exit %d %q; Amazon saw %d requests", code, errOut, s.Sim().RotationRequests())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client-secret"}, "needs status or rotate"},
		{[]string{"client-secret", "spin"}, "needs status or rotate"},
		{[]string{"client-secret", "status", "--colour"}, "flag provided but not defined"},
	} {
		code, _, errOut := cli(tc.args...)
		if code != operator.ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("keeperctl %v: exit %d %q; want exit 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	for _, secret := range []string{demo.ClientSecret, newSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("a client secret appears in the stack's logs")
		}
	}
}
