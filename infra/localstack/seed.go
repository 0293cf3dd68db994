package localstack

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// DemoSeller is one authorization of the local demo.
type DemoSeller struct {
	ConnectionID     string
	Region           authz.Region
	Marketplace      string
	SellingPartnerID string
	Name             string // the account's name on the consent page
	Email            string // where its reminders go
	ExpiresIn        time.Duration
	Expired, Revoked bool   // what the simulator says of its refresh token
	Locale           string // the record's locale; default en-US
}

// DemoSellers are the demo authorizations, one of each situation: one expiring in 3
// days, one expired 5 days ago, one healthy, one whose refresh token Amazon (the
// simulator) has revoked. The first is the account the consent page preselects, so
// that the reminder's link renews it with one click on Confirm.
var DemoSellers = []DemoSeller{
	{ConnectionID: "demo-expiring", Region: authz.RegionEU, Marketplace: "DE", SellingPartnerID: "A1EXPIRING3DAYS",
		Name: "Alpenblick Outdoor GmbH", Email: "owner@alpenblick.example", ExpiresIn: 3 * 24 * time.Hour},
	{ConnectionID: "demo-expired", Region: authz.RegionNA, Marketplace: "US", SellingPartnerID: "A2EXPIRED5DAYS",
		Name: "Lakeside Goods LLC", Email: "ops@lakeside.example", ExpiresIn: -5 * 24 * time.Hour, Expired: true},
	{ConnectionID: "demo-healthy", Region: authz.RegionEU, Marketplace: "GB", SellingPartnerID: "A3HEALTHY",
		Name: "Thames Tea Ltd", Email: "hello@thamestea.example", ExpiresIn: 200 * 24 * time.Hour},
	{ConnectionID: "demo-revoked", Region: authz.RegionFE, Marketplace: "JP", SellingPartnerID: "A4REVOKED",
		Name: "Sakura Supplies KK", Email: "shop@sakura.example", ExpiresIn: 120 * 24 * time.Hour, Revoked: true},
	// Its contact is SES's mailbox simulator bounce address: the reminder of its -9
	// stage bounces, the delivery function flags the contact, and no more email goes
	// to it until the vendor sets another (keeperctl list --bouncing shows it).
	{ConnectionID: "demo-bouncing", Region: authz.RegionEU, Marketplace: "FR", SellingPartnerID: "A5BOUNCING",
		Name: "Maison Lavande SARL", Email: "bounce@simulator.amazonses.com", ExpiresIn: 9 * 24 * time.Hour},
}

func sellersFor(seed Seed) []amazonsim.Seller {
	switch seed {
	case SeedDemo:
		var out []amazonsim.Seller
		for _, d := range DemoSellers {
			// The Sellers API answers with the account's store and its marketplace.
			out = append(out, amazonsim.Seller{ID: d.SellingPartnerID, Name: d.Name, Email: d.Email,
				StoreName: d.Name, CountryCodes: []string{d.Marketplace}})
		}
		return out
	case SeedSamples:
		return []amazonsim.Seller{{ID: demo.SellingPartnerID, Name: "Demo Seller", CountryCodes: []string{demo.Marketplace}}}
	}
	return []amazonsim.Seller{{ID: "A1LOCALSELLER", Name: "Local Seller"}}
}

func (s *Stack) seed(ctx context.Context) error {
	switch s.opts.Seed {
	case SeedDemo:
		return s.seedDemo(ctx)
	case SeedSamples:
		return s.seedSamples(ctx)
	}
	return nil
}

// authorize stores what a completed consent leaves behind: a refresh token the
// simulator knows, granted when the record says (so Seller Central's Manage Your Apps
// shows the ledger's expiry), in the vault, and the record.
func (s *Stack) authorize(ctx context.Context, a authz.Authorization, ev authz.Event) error {
	return putAuthorization(ctx, s.clients.Clients, s.Table, s.SecretPrefix, s.log, a, s.sim.IssueRefreshTokenAt(a.SellingPartnerID, a.AuthorizedAt), ev)
}

// putAuthorization stores token in the vault and then the record, as the callback
// does, in the deployment the clients, table and secret prefix name.
func putAuthorization(ctx context.Context, c awsclients.Clients, table, prefix string, log *slog.Logger, a authz.Authorization, token string, ev authz.Event) error {
	v := vault.New(c.Secrets, prefix, "").WithLogger(log).
		WithTable(c.DynamoDB, table, vault.LayoutPacked, vault.Packing{}) // the stack's default layout
	id, err := v.Put(ctx, a.ConnectionID, a.Region, vault.RefreshToken{Token: secret.Value(token), SellingPartnerID: a.SellingPartnerID,
		Region: a.Region, AuthorizedAt: a.AuthorizedAt})
	if err != nil {
		return fmt.Errorf("seed %s: %w", a.Key(), err)
	}
	a.SecretID = id
	if _, err := store.New(c.DynamoDB, table).Create(ctx, a, ev); err != nil {
		return fmt.Errorf("seed %s: %w", a.Key(), err)
	}
	return nil
}

func (s *Stack) seedDemo(ctx context.Context) error {
	now := time.Now().UTC()
	for _, d := range DemoSellers {
		exp := now.Add(d.ExpiresIn)
		a := authz.Authorization{
			ConnectionID: d.ConnectionID, Region: d.Region, AccountType: authz.AccountSeller, Marketplace: d.Marketplace,
			SellingPartnerID: d.SellingPartnerID, ContactEmail: d.Email, Locale: localeOr(d.Locale), Status: authz.StatusActive,
			AuthorizedAt: exp.Add(-authz.Lifetime), ExpiresAt: exp,
			// Last proven alive more than a day ago: the first refresh cycle proves each again.
			LastRefreshAt: now.Add(-25 * time.Hour),
			RefreshSlot:   authz.SlotFor(d.ConnectionID, d.Region, authz.DefaultRefreshSlots),
		}
		if d.Expired {
			a.Status = authz.StatusExpired
		}
		ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: a.AuthorizedAt, Kind: authz.EventAuthorized,
			Detail: "seeded by the local stack; valid until " + exp.Format(authz.DayLayout)}
		if err := s.authorize(ctx, a, ev); err != nil {
			return err
		}
		if d.Expired {
			s.sim.ExpireSeller(d.SellingPartnerID)
		}
		if d.Revoked {
			s.sim.RevokeSeller(d.SellingPartnerID)
		}
	}
	// As if the daily scan had last run a week ago: the first local scan then covers
	// the days since, as a real deployment catching up would, and the seller whose
	// authorization lapsed five days ago gets the email of its expiry day.
	lastRun := now.AddDate(0, 0, -7)
	return store.New(s.clients.DynamoDB, s.Table).SaveScanCursor(ctx, store.ScanCursor{LastDay: reminder.DayOf(lastRun).String(), At: lastRun})
}

// SampleExpiry is the demo authorization's expiry in events/sqs-reminder.json.
var SampleExpiry = time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)

// sampleAuthorization is the demo authorization the sample events name (expiring on
// the date the reminder sample names, in the refresh slot the refresh schedule sample
// sweeps), and the history event of its creation.
func sampleAuthorization(now time.Time) (authz.Authorization, authz.Event) {
	sweptAt := time.Date(2027, 1, 16, 9, 0, 0, 0, time.UTC) // events/schedule-refresh.json
	slot := refresh.New(refresh.Config{}, refresh.Deps{}).SlotsAt(sweptAt)[0]
	a := authz.Authorization{
		ConnectionID: demo.ConnectionID, Region: demo.Region, AccountType: authz.AccountSeller, Marketplace: demo.Marketplace,
		SellingPartnerID: demo.SellingPartnerID, ContactEmail: "seller@demo-acme.example", Locale: "en-US", Status: authz.StatusActive,
		AuthorizedAt: SampleExpiry.Add(-authz.Lifetime), ExpiresAt: SampleExpiry, LastRefreshAt: now.UTC().Add(-25 * time.Hour),
		RefreshSlot: slot,
	}
	return a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: a.AuthorizedAt, Kind: authz.EventAuthorized, Detail: "sample event fixture"}
}

// seedSamples stores what the sample events were made with (infra/demo): the demo
// authorization (expiring on the date the reminder sample names, in the refresh slot
// the refresh schedule sample sweeps), its refresh token, the state nonce and the
// authorization code of callback-good.json.
func (s *Stack) seedSamples(ctx context.Context) error {
	a, ev := sampleAuthorization(time.Now())
	if err := s.authorize(ctx, a, ev); err != nil {
		return err
	}
	if err := store.New(s.clients.DynamoDB, s.Table).PutNonce(ctx, demo.Nonce, demo.ConnectionID, demo.Region, demo.Expires); err != nil {
		return fmt.Errorf("seed sample nonce: %w", err)
	}
	s.sim.IssueCodeValue(demo.Code, demo.SellingPartnerID, s.FrontURL+"/callback")
	return s.seedImport(ctx) // imports.go: the file events/import-object-created.json names
}
