package operator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// TestLocalFromAnyDirectory: while `make run` is up, keeperctl --local works from any
// directory for every command, not only inside the repository: the ledger, the
// webhook endpoints and the client secret all find the stack through the pointer its
// state write leaves in the user's cache.
func TestLocalFromAnyDirectory(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	s := newStack(t)
	st := s.state
	prefix := st.Env["KEEPER_SECRET_PREFIX"]

	key := secret.Value(strings.Repeat("k", 48))
	sm := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(st.Env[localstate.EnvSecretsManager])
	})
	_, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(prefix + "/webhook-key"), SecretString: aws.String(key.Reveal())})
	must(t, err)

	// The stack's Lambda Invoke endpoint, as far as client-secret needs it: the
	// credentials function's status for the function the state file names.
	invoked := make(chan string, 1)
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case invoked <- r.URL.Path:
		default:
		}
		w.Write([]byte(`{"clientId":"amzn1.application-oa2-client.ops","rotateBefore":"30d","history":[]}`))
	}))
	t.Cleanup(lambda.Close)
	st.Env[localstate.EnvLambda] = lambda.URL
	st.Env[operator.CredentialsFunctionEnv] = "CredentialsFunction"
	must(t, localstate.WriteState(s.root, st))

	t.Chdir(t.TempDir()) // outside any repository
	hook := "https://hooks.example/keeper"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "(no authorizations match)"},
		{[]string{"webhooks", "secret", hook}, webhook.SigningSecret(key, hook).Reveal()},
		{[]string{"client-secret", "status"}, "amzn1.application-oa2-client.ops"},
	} {
		var out, errOut strings.Builder
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }, Now: func() time.Time { return now }}
		code := c.Run(context.Background(), append([]string{"--local"}, tc.args...))
		if code != operator.ExitOK || !strings.Contains(out.String(), tc.want) {
			t.Errorf("keeperctl --local %s from outside the repository: exit %d\nstdout:\n%s\nstderr:\n%s",
				strings.Join(tc.args, " "), code, out.String(), errOut.String())
		}
	}
	select {
	case p := <-invoked:
		if p != "/2015-03-31/functions/CredentialsFunction/invocations" {
			t.Errorf("client-secret invoked %s, not the credentials function the stack names", p)
		}
	default:
		t.Error("client-secret did not invoke the stack's credentials function")
	}
}
