package amazonsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
)

// manageRowRe reads one account's row of Manage Your Apps: its id, state, expiry day,
// the visible expiry text and the action's label.
var manageRowRe = regexp.MustCompile(`(?s)<tr id="seller-(\w+)" data-state="([^"]*)" data-expires="([^"]*)">.*?<td class="expires">([^<]*).*?</td>\s*<td>(?:<a class="action" [^>]*>(\w+)</a>)?</td>`)

// TestManageYourApps: each account's line says its state, the day its authorization
// expires on its marketplace's calendar, and Renew or Enable as the state implies.
func TestManageYourApps(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *amazonsim.Config) {
		c.Sellers = []amazonsim.Seller{
			{ID: "AACTIVE", Name: "Active", CountryCodes: []string{"DE"}},
			{ID: "AEXPIRING", Name: "Expiring", CountryCodes: []string{"JP"}},
			{ID: "AEXPIRED", Name: "Expired", CountryCodes: []string{"US"}},
			{ID: "AREVOKED", Name: "Revoked", CountryCodes: []string{"GB"}},
			{ID: "ANEVER", Name: "Never"},
			{ID: "ARENEWED", Name: "Renewed after removal", CountryCodes: []string{"FR"}},
		}
	})
	now := e.clock.Now() // 2025-03-01 12:00 UTC
	e.sim.IssueRefreshTokenAt("AACTIVE", now.AddDate(0, 0, -100))
	// Expires 2025-03-03 at 20:00 UTC, which is already 4 March in Tokyo.
	e.sim.IssueRefreshTokenAt("AEXPIRING", now.Add(2*24*time.Hour+8*time.Hour).Add(-amazonsim.AuthorizationLifetime))
	e.sim.IssueRefreshTokenAt("AEXPIRED", now.Add(-5*24*time.Hour).Add(-amazonsim.AuthorizationLifetime))
	e.sim.IssueRefreshTokenAt("AREVOKED", now.AddDate(0, 0, -10))
	e.sim.RevokeSeller("AREVOKED")
	e.sim.IssueRefreshTokenAt("ARENEWED", now.AddDate(0, 0, -10))
	e.sim.RevokeSeller("ARENEWED")
	// The admin API seeds a consent date too (the local stack's make invoke does).
	body, _ := json.Marshal(map[string]any{"sellingPartnerId": "ARENEWED", "authorizedAt": now.AddDate(0, 0, -1)})
	res, err := http.Post(e.srv.URL+"/_sim/refresh-token", "application/json", bytes.NewReader(body))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST /_sim/refresh-token: %v %v", res, err)
	}
	res.Body.Close()

	want := map[string]struct{ state, expires, text, action string }{
		"AACTIVE":   {"active", "2025-11-21", "on 2025-11-21 ", "Renew"},
		"AEXPIRING": {"expiring", "2025-03-04", "on 2025-03-04 ", "Renew"},
		"AEXPIRED":  {"expired", "2025-02-24", "expired on 2025-02-24 ", "Renew"},
		"AREVOKED":  {"revoked", "2026-02-19", "on 2026-02-19 ", "Enable"},
		"ANEVER":    {"not authorized", "", "", "Enable"},
		"ARENEWED":  {"active", "2026-02-28", "on 2026-02-28 ", "Renew"},
	}
	p := e.get(t, "/apps/manage", nil)
	rows := manageRowRe.FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(rows) != len(want) {
		t.Fatalf("Manage Your Apps: %d, %d rows, want %d:\n%s", p.status, len(rows), len(want), p.body)
	}
	for _, r := range rows {
		w := want[r[1]]
		if r[2] != w.state || r[3] != w.expires || r[4] != w.text || r[5] != w.action {
			t.Errorf("%s: state %q, expires %q, text %q, action %q; want %+v", r[1], r[2], r[3], r[4], r[5], w)
		}
	}
	if rows := e.sim.ManageRows(); rows[1].Zone != "Asia/Tokyo" || rows[4].Zone != "America/Los_Angeles" {
		t.Errorf("time zones: %+v (JP: Tokyo; no country: Amazon.com's)", rows)
	}
}
