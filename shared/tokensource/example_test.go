package tokensource_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Example is the README's: a service that calls SP-API for a seller the keeper looks
// after. In production, sm is secretsmanager.NewFromConfig(cfg) and the LWA client's
// Endpoint is left empty (LWA itself).
func Example() {
	ctx := context.Background()
	sm, lwaEndpoint := exampleWorld()

	v := vault.New(sm, "spapi-keeper", "") // the keeper's SECRET_PREFIX
	client := lwa.NewClient(lwa.Config{Endpoint: lwaEndpoint, Credentials: clientcreds.New(v, 0)})
	tokens := tokensource.New(v, client) // one per process; safe for concurrent use

	token, err := tokens.Token(ctx, "acme-de", authz.RegionEU)
	if err != nil {
		log.Fatal(err) // errors.Is(err, lwa.ErrInvalidGrant): the seller must renew
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://sellingpartnerapi-eu.amazon.com/sellers/v1/marketplaceParticipations", nil)
	req.Header.Set("x-amz-access-token", token.Reveal())

	fmt.Println(strings.HasPrefix(req.Header.Get("x-amz-access-token"), "Atza|"))
	// Output: true
}

// exampleWorld stands in for AWS and Amazon: a Secrets Manager emulator holding what
// the keeper would have stored, and the LWA simulator.
func exampleWorld() (*secretsmanager.Client, string) {
	ctx := context.Background()
	const id, cs = "amzn1.application-oa2-client.example", "example-client-secret"
	sim := amazonsim.New(amazonsim.Config{ClientID: id, ClientSecret: cs})
	lwaURL := httptest.NewServer(sim).URL + "/auth/o2/token"
	sm := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(httptest.NewServer(secretsemu.New()).URL)
	})
	v := vault.New(sm, "spapi-keeper", "")
	if err := v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: id, ClientSecret: cs}); err != nil {
		log.Fatal(err)
	}
	if _, err := v.Put(ctx, "acme-de", authz.RegionEU, vault.RefreshToken{
		Token: secret.Value(sim.IssueRefreshToken("A1EXAMPLE")), SellingPartnerID: "A1EXAMPLE", Region: authz.RegionEU, AuthorizedAt: time.Now(),
	}); err != nil {
		log.Fatal(err)
	}
	return sm, lwaURL
}
