package localstack_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// manageRowRe reads one account's row of the simulator's Manage Your Apps: id, state,
// expiry day, the visible expiry text and the action's label.
var manageRowRe = regexp.MustCompile(`(?s)<tr id="seller-(\w+)" data-state="([^"]*)" data-expires="([^"]*)">.*?<td class="expires">([^<]*).*?</td>\s*<td>(?:<a class="action" [^>]*>(\w+)</a>)?</td>`)

// checkSellerCentralAgrees compares the demo's Seller Central page (Manage Your Apps)
// with the ledger, seller by seller: the same state, the same expiry day on the
// marketplace's calendar (the day the emails and keeperctl's days left count to), and
// Renew, or Enable for an app the seller removed (revoked).
func checkSellerCentralAgrees(t *testing.T, s *localstack.Stack) {
	t.Helper()
	res, err := http.Get(s.SellerCentralURL + "/apps/manage")
	must(t, err)
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	must(t, err)
	page := map[string][]string{}
	for _, m := range manageRowRe.FindAllStringSubmatch(string(b), -1) {
		page[m[1]] = m
	}
	st := store.New(s.Clients().DynamoDB, s.Table)
	for _, d := range localstack.DemoSellers {
		a, err := st.Get(context.Background(), d.ConnectionID, d.Region)
		must(t, err)
		row, ok := page[d.SellingPartnerID]
		if !ok {
			t.Errorf("%s (%s) is not on Manage Your Apps:\n%s", d.ConnectionID, d.SellingPartnerID, b)
			continue
		}
		day := a.ExpiresAt.In(a.Location()).Format(time.DateOnly)
		text := "on " + day + " "
		if a.Status == authz.StatusExpired {
			text = "expired on " + day + " "
		}
		action := "Renew"
		if a.Status == authz.StatusRevoked {
			action = "Enable"
		}
		if row[2] != string(a.Status) || row[3] != day || row[4] != text || row[5] != action {
			t.Errorf("%s: Seller Central says %s, expires %q (%q), %s; the ledger: %s, expires %s in %s, so %s",
				d.ConnectionID, row[2], row[3], row[4], row[5], a.Status, day, a.Location(), action)
		}
	}
}
