package domainevent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/domainevent"
)

type schema struct {
	Title      string                    `json:"title"`
	Required   []string                  `json:"required"`
	Additional bool                      `json:"additionalProperties"`
	Properties map[string]map[string]any `json:"properties"`
}

func load(t *testing.T, detailType string) schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("schemas", strings.ReplaceAll(strings.ToLower(detailType), " ", "-")+".json"))
	if err != nil {
		t.Fatalf("%s: no schema: %v", detailType, err)
	}
	var s schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEachDetailTypeHasASchemaThatFitsTheDetail checks the schema files against the
// Go type: the same field names, and a real detail of each kind validates.
func TestEachDetailTypeHasASchemaThatFitsTheDetail(t *testing.T) {
	var fields []string
	rt := reflect.TypeOf(domainevent.Detail{})
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	for _, dt := range domainevent.Types() {
		s := load(t, dt)
		if s.Title != dt {
			t.Errorf("%s: schema title %q", dt, s.Title)
		}
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		want := slices.Clone(fields)
		slices.Sort(want)
		if !slices.Equal(props, want) {
			t.Errorf("%s: schema properties %v, Detail fields %v", dt, props, want)
		}
	}
	kinds := []authz.EventKind{authz.EventCreated, authz.EventAuthorized, authz.EventRenewed, authz.EventExpiring, authz.EventExpired,
		authz.EventRevoked, authz.EventRestored, authz.EventRefreshFailed, authz.EventAccountMismatch, authz.EventMismatchedSeller,
		authz.EventForgotten, authz.EventReminded, authz.EventReminderRejected, authz.EventReminderBounced, authz.EventImported,
		authz.EventAccountUnverified}
	for _, k := range kinds {
		h := authz.Event{ConnectionID: "acme", Region: authz.RegionEU, At: time.Now(), Kind: k, StatusBefore: authz.StatusActive,
			StatusAfter: authz.StatusRevoked, SellingPartnerID: "A1", ExpiresAt: time.Now()}
		ev, err := domainevent.FromHistory("CONN#acme", "EVENT#x#"+string(k), h)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		validate(t, load(t, ev.DetailType), ev.DetailJSON())
	}
}

// validate checks what the schemas use: required, additionalProperties false, const,
// enum, pattern and string types.
func validate(t *testing.T, s schema, detail string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(detail), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Required {
		if _, ok := doc[r]; !ok {
			t.Errorf("%s: %s lacks required %s", s.Title, detail, r)
		}
	}
	for k, v := range doc {
		p, ok := s.Properties[k]
		if !ok {
			t.Errorf("%s: %s not in the schema", s.Title, k)
			continue
		}
		if c, ok := p["const"]; ok && c != v {
			t.Errorf("%s: %s = %v, want %v", s.Title, k, v, c)
		}
		if enum, ok := p["enum"].([]any); ok && !slices.Contains(enum, v) {
			t.Errorf("%s: %s = %v not in %v", s.Title, k, v, enum)
		}
		if pat, ok := p["pattern"].(string); ok && !regexp.MustCompile(pat).MatchString(v.(string)) {
			t.Errorf("%s: %s = %v does not match %s", s.Title, k, v, pat)
		}
		if p["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, v.(string)); err != nil {
				t.Errorf("%s: %s = %v is not a date-time", s.Title, k, v)
			}
		}
	}
}

func TestWebhookType(t *testing.T) {
	for in, want := range map[string]string{"Authorization Renewed": "authorization.renewed", "Authorization Refresh Failed": "authorization.refresh_failed",
		"Reminder Sent": "reminder.sent", "Client Secret Rotation Failed": "client.secret_rotation_failed"} {
		if got := domainevent.WebhookType(in); got != want {
			t.Errorf("WebhookType(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := domainevent.TypeOf("teleported"); err == nil {
		t.Error("an unknown kind has a type")
	}
}
