package operator_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// TestVaultMigrateAndPurgeFromTheCommandLine: keeperctl vault migrate moves a
// deployment's tokens into buckets and points the records at them; forget --purge
// removes a token from its bucket.
func TestVaultMigrateAndPurgeFromTheCommandLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ddb, table := testenv.DynamoDB(t), testenv.NewTable(t)
	sm, _ := testenv.SecretsManagerInProcess(t)
	prefix := testenv.Prefix(t)
	st := store.New(ddb, table)
	v := vault.New(sm, prefix, "").WithLogger(slog.New(slog.DiscardHandler)).WithTable(ddb, table, vault.LayoutPacked, vault.Packing{})
	old := vault.New(sm, prefix, "").WithLogger(slog.New(slog.DiscardHandler)) // the layout before
	for _, c := range []string{"shop-a", "shop-b"} {
		id, err := old.Put(ctx, c, authz.RegionEU, vault.RefreshToken{Token: secret.Value("Atzr|" + c + strings.Repeat("z", 300)), SellingPartnerID: "A1" + c, AuthorizedAt: now.Add(-time.Hour)})
		must(t, err)
		_, err = st.Create(ctx, authz.Authorization{ConnectionID: c, Region: authz.RegionEU, AccountType: authz.AccountSeller, SellingPartnerID: "A1" + c,
			Status: authz.StatusActive, AuthorizedAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0), SecretID: id, ContactEmail: c + "@example.com", Locale: "en-GB"})
		must(t, err)
	}
	op := operator.New(operator.Config{BaseURL: "https://keeper.example.com"}, st, v, nil, authz.ClockFunc(func() time.Time { return now }))
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			Connect: func(context.Context, *operator.CLI, operator.Globals) (*operator.Operator, error) { return op, nil }}
		return c.Run(ctx, args), out.String(), errOut.String()
	}
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"vault"}, 2, "", "vault needs migrate"},
		{[]string{"vault", "migrate"}, 2, "", "--to packed"},
		{[]string{"vault", "migrate", "--to", "sideways"}, 2, "", "--to"},
		{[]string{"vault", "migrate", "--to", "packed", "--recovery-days", "3"}, 2, "", "7 to 30"},
		{[]string{"vault", "migrate", "--to", "packed", "--dry-run"}, 0, "2 found, would move 2", ""},
		{[]string{"vault", "migrate", "--to", "packed"}, 0, "2 found, moved 2, 0 already there, 2 verified, 2 removed", ""},
		{[]string{"vault", "migrate", "--to", "packed", "--json"}, 0, `"found": 0`, ""},
		{[]string{"forget", "shop-a", "--purge", "--yes"}, 0, "refresh token:  deleted, no recovery window, no copy left in its bucket's previous version either", ""},
	}
	for _, tc := range tests {
		code, out, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("keeperctl %v: exit %d\nstdout %q\nstderr %q", tc.args, code, out, errOut)
		}
	}
	b, err := st.Get(ctx, "shop-b", authz.RegionEU)
	must(t, err)
	if !strings.Contains(b.SecretID, v.BucketName(1)) {
		t.Errorf("shop-b's record names %q, want its bucket", b.SecretID)
	}
	if _, err := v.Get(ctx, "shop-a", authz.RegionEU); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("shop-a's token after forget --purge: %v", err)
	}
	if got, err := v.Get(ctx, "shop-b", authz.RegionEU); err != nil || !strings.HasPrefix(got.Token.Reveal(), "Atzr|shop-b") {
		t.Errorf("shop-b's token after the migration: %v", err)
	}
}
