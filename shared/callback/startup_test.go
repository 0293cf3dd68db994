package callback_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// The callback reads its state key in the background when it starts, so a Secrets
// Manager that does not answer then no longer fails the function's start (which API
// Gateway would show the seller as a bare 502). A request that comes while the key
// cannot be read gets the "try again" page and changes nothing; the next request
// reads the key again and goes on.
func TestARequestBeforeTheStateKeyIsReadGetsTryAgainAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("warm", otherSeller, 20)
	e.get(e.link("warm", time.Hour)).want(http.StatusFound) // the env's own handler has read its key
	before := e.onboard("acme-de", seller, 20)

	e.Secrets.FailNext("GetSecretValue", 100, "InternalServiceError")
	h, err := deploy.Callback(e.Deps, nil)
	if err != nil {
		t.Fatalf("the function did not start: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	link := strings.Replace(e.link("acme-de", time.Hour), e.server.URL, srv.URL, 1)

	e.get(link).want(http.StatusServiceUnavailable, "Please try again in a few minutes", "Nothing was changed")
	after, err := e.Store.Get(e.Ctx, "acme-de", authz.RegionEU)
	must(t, err)
	if after.Version != before.Version || after.LinkGeneration != before.LinkGeneration || after.Status != before.Status {
		t.Errorf("the record changed: %+v, was %+v", after, before)
	}
	if !strings.Contains(e.Logs.String(), `"reason":"unavailable"`) || !strings.Contains(e.Logs.String(), "the state key") {
		t.Errorf("no log line says the state key was not read:\n%s", e.Logs.String())
	}

	e.Secrets.ClearFaults()
	res := e.get(link).want(http.StatusFound)
	if !strings.HasPrefix(res.location, e.SimURL) {
		t.Errorf("once the key is read the link goes to %q, want Amazon's consent page", res.location)
	}
}
