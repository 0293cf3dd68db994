package operator_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
)

// TestClientSecretNeedsTheFunction: against AWS, keeperctl must be told which
// function to invoke; it says so in one line, before touching AWS. (The commands
// themselves run against the local stack's real binary in infra/localstack.)
func TestClientSecretNeedsTheFunction(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"client-secret", "status"}, {"client-secret", "rotate", "--json"}} {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		code := c.Run(context.Background(), args)
		if code != operator.ExitFail || !strings.Contains(errOut.String(), "--credentials-function is required") ||
			strings.Count(errOut.String(), "\n") != 1 || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
	var out bytes.Buffer
	if code := (&operator.CLI{Stdout: &out, Stderr: &out}).Run(context.Background(), []string{"--help"}); code != 0 ||
		!strings.Contains(out.String(), "client-secret status") || !strings.Contains(out.String(), "client-secret rotate") {
		t.Errorf("--help does not list client-secret: %s", out.String())
	}
}
