package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestSampleEvents feeds the token refresh's sample events in events/ to the handler
// main starts, against the emulators, so the files that `sam local invoke
// TokenRefreshFunction -e events/<file>` documents never rot.
func TestSampleEvents(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, out []byte, before, after authz.Authorization)
	}{
		{"refresh-one.json", func(t *testing.T, out []byte, before, after authz.Authorization) {
			var o refresh.Outcome
			must(t, json.Unmarshal(out, &o))
			if o.Result != refresh.ResultRefreshed || o.ConnectionID != demo.ConnectionID || after.Version != before.Version+1 {
				t.Fatalf("outcome %s; record version %d → %d", out, before.Version, after.Version)
			}
		}},
		{"sqs-refresh.json", func(t *testing.T, out []byte, before, after authz.Authorization) {
			var r events.SQSEventResponse
			must(t, json.Unmarshal(out, &r))
			if len(r.BatchItemFailures) != 0 || after.Version != before.Version+1 || after.LastRefreshAt.Equal(before.LastRefreshAt) {
				t.Fatalf("response %s; record version %d → %d", out, before.Version, after.Version)
			}
		}},
		{"schedule-refresh.json", func(t *testing.T, out []byte, before, after authz.Authorization) {
			var r refresh.SweepResult
			must(t, json.Unmarshal(out, &r))
			// The demo authorization sits in the swept slot; the sweep refreshes it itself.
			if r.Read != 1 || r.Canary == nil || r.Canary.Result != refresh.ResultRefreshed || after.Version != before.Version+1 {
				t.Fatalf("sweep %s", out)
			}
			if r.ClientSecretDaysLeft == nil {
				t.Fatalf("sweep did not check the client secret: %s", out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", tc.file))
			must(t, err)
			h, st, slotOf := deployment(t)
			ctx := context.Background()
			before, err := st.Get(ctx, demo.ConnectionID, authz.Region(demo.Region))
			must(t, err)
			if tc.file == "schedule-refresh.json" {
				var ev events.CloudWatchEvent
				must(t, json.Unmarshal(raw, &ev))
				before.RefreshSlot = slotOf(ev.Time)
				before, err = st.Update(ctx, before)
				must(t, err)
			}
			out, err := h.Invoke(ctx, raw)
			must(t, err)
			after, err := st.Get(ctx, demo.ConnectionID, authz.Region(demo.Region))
			must(t, err)
			tc.check(t, out, before, after)
		})
	}
}

// deployment seeds the demo authorization into fresh resources and returns the handler
// main would start, the ledger, and which slot an hour sweeps.
func deployment(t *testing.T) (*refresh.Handler, *store.Store, func(time.Time) int) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2027, 1, 16, 9, 0, 5, 0, time.UTC)
	clock := authz.ClockFunc(func() time.Time { return now })
	sim := amazonsim.New(amazonsim.Config{AppID: demo.AppID, ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, Clock: clock.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	ddb, sm, sq := testenv.DynamoDB(t), testenv.SecretsManager(t), testenv.SQS(t)
	refreshURL, _ := testenv.NewQueueWithDLQ(t, "refresh", 3)
	cfg := config.Config{
		TableName: testenv.NewTable(t), SecretPrefix: testenv.Prefix(t), RefreshQueueURL: refreshURL,
		ReminderQueueURL: testenv.NewQueue(t, "reminders"), LWAEndpoint: srv.URL + "/auth/o2/token",
		RefreshInterval: config.DefaultRefreshInterval, RefreshMaxPerSecond: 20, ReminderStages: config.DefaultReminderStages,
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	v := vault.New(sm, cfg.SecretPrefix, "").WithLogger(quiet)
	must(t, v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: demo.ClientID, ClientSecret: secret.Value(demo.ClientSecret), ClientSecretExpiresAt: now.AddDate(0, 3, 0)}))
	authorizedAt := now.AddDate(0, -2, 0)
	_, err := v.Put(ctx, demo.ConnectionID, authz.Region(demo.Region), vault.RefreshToken{
		Token: secret.Value(sim.IssueRefreshToken(demo.SellingPartnerID)), SellingPartnerID: demo.SellingPartnerID,
		Region: authz.Region(demo.Region), AuthorizedAt: authorizedAt,
	})
	must(t, err)
	st := store.New(ddb, cfg.TableName)
	_, err = st.Create(ctx, authz.Authorization{
		ConnectionID: demo.ConnectionID, Region: authz.Region(demo.Region), AccountType: authz.AccountSeller, Marketplace: demo.Marketplace,
		SellingPartnerID: demo.SellingPartnerID, ContactEmail: "seller@example.com", Locale: "en-GB", Status: authz.StatusActive,
		AuthorizedAt: authorizedAt, ExpiresAt: authorizedAt.Add(authz.Lifetime), LastRefreshAt: authorizedAt,
		RefreshSlot: authz.SlotFor(demo.ConnectionID, authz.Region(demo.Region), authz.DefaultRefreshSlots),
		SecretID:    v.SecretName(demo.ConnectionID, authz.Region(demo.Region)),
	})
	must(t, err)
	h, svc, err := wire(app.Deps{
		Config: cfg, Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm}, Log: quiet, Clock: clock,
	}, sq, nil, refresh.Config{})
	must(t, err)
	return h, st, func(at time.Time) int { return svc.SlotsAt(at)[0] }
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
