package tokensource_test

import (
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// TestRenewalIsPickedUpFromABucket: in the packed layout the consumer's vault keeps
// the bucket in memory, and still picks up a renewal made by the keeper (another
// process) on invalid_grant, with no restart.
func TestRenewalIsPickedUpFromABucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ddb, table := testenv.DynamoDB(t), testenv.NewTable(t)
	sm, _ := testenv.SecretsManagerInProcess(t)
	prefix := testenv.Prefix(t)
	keeper := vault.New(sm, prefix, "").WithTable(ddb, table, vault.LayoutPacked, vault.Packing{})
	consumer := vault.New(sm, prefix, "").WithTable(ddb, table, vault.LayoutPacked, vault.Packing{})
	authorize := func() string {
		token := e.sim.IssueRefreshToken(seller)
		if _, err := keeper.Put(e.ctx, conn, authz.RegionEU, vault.RefreshToken{
			Token: secret.Value(token), SellingPartnerID: seller, Region: authz.RegionEU, AuthorizedAt: e.clock.Now(),
		}); err != nil {
			t.Fatal(err)
		}
		return token
	}
	old := authorize()
	c := tokensource.New(consumer, e.lwa, tokensource.WithClock(e.clock.Now))
	if _, err := c.Token(e.ctx, conn, authz.RegionEU); err != nil {
		t.Fatal(err)
	}
	e.sim.Revoke(old)
	e.clock.Advance(2 * time.Hour)
	authorize()
	tok, err := c.Token(e.ctx, conn, authz.RegionEU)
	if err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	wantValid(t, e, tok)
	if got := consumer.Counters().SecretReads; got != 2 {
		t.Errorf("consumer read the bucket %d times, want 2 (at start, and once the index showed the renewal)", got)
	}
}
