package operator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// TestExportJSONLinesTyped: every JSON line decodes to typed values a program can use
// as they are: days left and refresh failures as numbers, expiryKnown as a boolean,
// times as RFC 3339 strings; a value the record does not have is left out, as the
// CSV leaves its cell blank.
func TestExportJSONLinesTyped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.seed(t, "soon", authz.RegionEU, authz.StatusExpiring, 10)
	e.seed(t, "lapsed", authz.RegionNA, authz.StatusExpired, -3)
	e.seed(t, "new", authz.RegionEU, authz.StatusPending, 0)
	failing := e.seed(t, "failing", authz.RegionFE, authz.StatusActive, 200)
	failing.RefreshFailures = 3
	failing.LastRefreshError = "invalid_grant"
	failing.LastRefreshAt = now.Add(-time.Hour)
	failing.ExpiryUnknown = true
	_, err := e.st.Update(ctx, failing)
	must(t, err)

	var out bytes.Buffer
	n, err := e.op.Export(ctx, &out, "jsonl", operator.Filter{})
	must(t, err)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if n != 4 || len(lines) != 4 {
		t.Fatalf("%d written, %d lines:\n%s", n, len(lines), out.String())
	}
	got := map[string]map[string]any{}
	for _, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		id, _ := obj["connectionId"].(string)
		got[id] = obj
	}
	absent := struct{}{}
	tests := []struct {
		id   string
		want map[string]any
	}{
		{"soon", map[string]any{"region": "eu", "status": "expiring", "expiryKnown": true, "daysLeft": float64(10),
			"expiresAt": now.AddDate(0, 0, 10).Format(time.RFC3339), "refreshFailures": float64(0), "lastRefreshAt": absent, "lastRefreshError": absent}},
		{"lapsed", map[string]any{"region": "na", "expiryKnown": true, "daysLeft": float64(-3), "refreshFailures": float64(0)}},
		{"new", map[string]any{"status": "pending", "expiryKnown": true, "daysLeft": absent, "expiresAt": absent, "authorizedAt": absent}},
		{"failing", map[string]any{"expiryKnown": false, "daysLeft": float64(200), "refreshFailures": float64(3),
			"lastRefreshAt": now.Add(-time.Hour).Format(time.RFC3339), "lastRefreshError": "invalid_grant"}},
	}
	for _, tc := range tests {
		obj := got[tc.id]
		if obj == nil {
			t.Errorf("%s: no line", tc.id)
			continue
		}
		for k, w := range tc.want {
			v, ok := obj[k]
			switch {
			case w == absent && ok:
				t.Errorf("%s.%s = %#v, want it left out", tc.id, k, v)
			case w != absent && v != w:
				t.Errorf("%s.%s = %#v (%T), want %#v (%T)", tc.id, k, v, v, w, w)
			}
		}
		for k := range obj {
			if !strings.Contains(","+strings.Join(operator.ExportColumns, ",")+",", ","+k+",") {
				t.Errorf("%s: key %q is not an export column", tc.id, k)
			}
		}
	}
	if strings.Contains(out.String(), "Atzr") {
		t.Error("the export holds a token")
	}
}
