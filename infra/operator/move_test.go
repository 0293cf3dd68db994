package operator_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// TestMoveSeller: a seller bound to one connection is moved to another only with the
// seller id repeated in --confirm; the old record turns pending without its token, and
// both histories say so.
func TestMoveSeller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	old := e.seed(t, "acme", authz.RegionEU, authz.StatusActive, 100)
	// Bind the seller as a renewal does (the binding item rides along the record write).
	_, err := e.st.UpdateBound(context.Background(), old, now)
	must(t, err)
	e.seed(t, "acme-2", authz.RegionEU, authz.StatusPending, 0)
	seller := old.SellingPartnerID
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			Connect: func(context.Context, *operator.CLI, operator.Globals) (*operator.Operator, error) { return e.op, nil }}
		return c.Run(context.Background(), args), out.String(), errOut.String()
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no region", []string{"move", seller, "--to", "acme-2"}, 2, "", "needs --region"},
		{"no target", []string{"move", seller, "--region", "eu"}, 2, "", "needs a seller id and --to"},
		{"unknown target", []string{"move", seller, "--to", "ghost", "--region", "eu"}, 1, "", "does not exist"},
		{"unbound seller", []string{"move", "A9NOBODY", "--to", "acme-2", "--region", "eu"}, 1, "", "not bound"},
		{"wrong confirmation", []string{"move", seller, "--to", "acme-2", "--region", "eu", "--confirm", "A1OTHER"}, 2, "", "does not repeat"},
		{"dry run", []string{"move", seller, "--to", "acme-2", "--region", "eu"}, 0, "Repeat with --confirm " + seller, ""},
	}
	for _, tt := range tests {
		code, out, errOut := run(tt.args...)
		if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.name, code, out, errOut, tt.code, tt.stdout, tt.stderr)
		}
	}
	if a, _ := e.st.Get(context.Background(), "acme", authz.RegionEU); a.SellingPartnerID != seller {
		t.Fatalf("a refused move changed the record: %+v", a)
	}

	code, out, errOut := run("move", seller, "--to", "acme-2", "--region", "eu", "--confirm", seller)
	if code != 0 || !strings.Contains(out, "moved selling partner "+seller) {
		t.Fatalf("move: exit %d, %q, %q", code, out, errOut)
	}
	a, _ := e.st.Get(context.Background(), "acme", authz.RegionEU)
	if a.Status != authz.StatusPending || a.SellingPartnerID != "" {
		t.Fatalf("old record after the move: %+v", a)
	}
	if _, err := e.vault.Get(context.Background(), "acme", authz.RegionEU); err == nil {
		t.Fatal("the old connection still holds the seller's refresh token")
	}
	if bound, _ := e.st.SellerBinding(context.Background(), authz.RegionEU, seller); bound != "acme-2" {
		t.Fatalf("binding names %q, want acme-2", bound)
	}
	for _, c := range []string{"acme", "acme-2"} {
		h, _ := e.st.History(context.Background(), c, 1)
		if len(h) != 1 || h[0].Kind != authz.EventSellerMoved {
			t.Errorf("history of %s = %+v", c, h)
		}
	}
}
