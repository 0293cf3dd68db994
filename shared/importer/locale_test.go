package importer_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
)

// A row without a locale takes its marketplace's language, so a German, French or
// Japanese seller gets mail in their language; a locale the file or the record gives
// is kept.
func TestImportLocaleFromTheMarketplace(t *testing.T) {
	t.Parallel()
	marketplaceIDs := map[string]string{
		"DE": "A1PA6795UKMFR9", "IT": "APJ6JRA9NG5V4", "FR": "A13V1IB3VIYZZH", "JP": "A1VC38T7YXB528",
		"US": "ATVPDKIKX0DER", "GB": "A1F83G8C2ARO7P",
	}
	const tok = "Atzr|tok-locale-0123456789abcdef"
	tests := []struct {
		name        string
		region      authz.Region
		marketplace string               // the row's
		locale      string               // the row's
		onFile      *authz.Authorization // a pending record the vendor onboarded
		sellsIn     string               // the account's marketplace, when the row gives none
		want        string
	}{
		{name: "Germany", region: authz.RegionEU, marketplace: "DE", want: "de-DE"},
		{name: "Italy", region: authz.RegionEU, marketplace: "IT", want: "it-IT"},
		{name: "France", region: authz.RegionEU, marketplace: "FR", want: "fr-FR"},
		{name: "Japan", region: authz.RegionFE, marketplace: "JP", want: "ja-JP"},
		{name: "United States", region: authz.RegionNA, marketplace: "US", want: "en-US"},
		{name: "United Kingdom", region: authz.RegionEU, marketplace: "GB", want: "en-GB"},
		{name: "no marketplace", region: authz.RegionNA, sellsIn: "US", want: "en-US"},
		{name: "an explicit locale is kept", region: authz.RegionEU, marketplace: "DE", locale: "en-GB", want: "en-GB"},
		{name: "re-import keeps the record's locale", region: authz.RegionEU, marketplace: "DE",
			onFile: &authz.Authorization{Marketplace: "DE", Locale: "fr-FR"}, want: "fr-FR"},
		{name: "re-import keeps the record's en-US", region: authz.RegionEU, marketplace: "DE",
			onFile: &authz.Authorization{Marketplace: "DE", Locale: "en-US"}, want: "en-US"},
		{name: "re-import of a record without a locale takes the record's marketplace", region: authz.RegionFE,
			onFile: &authz.Authorization{Marketplace: "JP"}, want: "ja-JP"},
		{name: "re-import with an explicit en-US replaces the record's", region: authz.RegionEU, marketplace: "DE", locale: "en-US",
			onFile: &authz.Authorization{Marketplace: "DE", Locale: "de-DE"}, want: "en-US"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sells := tt.marketplace
			if sells == "" && tt.onFile != nil {
				sells = tt.onFile.Marketplace
			}
			if sells == "" {
				sells = tt.sellsIn
			}
			amazon := fakeAmazon{accounts: map[string]authz.Account{tok: {StoreName: "Shop", MarketplaceIDs: []string{marketplaceIDs[sells]}}}}
			ledger, vault := newFakeLedger(), &fakeVault{tokens: map[string]authz.RefreshToken{}}
			if tt.onFile != nil {
				a := *tt.onFile
				a.ConnectionID, a.Region, a.AccountType, a.Status = "shop", tt.region, authz.AccountSeller, authz.StatusPending
				ledger.records[key(a.ConnectionID, a.Region)] = a
			}
			im := importer.New(importer.Config{MaxPerSecond: 1000}, importer.Deps{Ledger: ledger, Tokens: vault, Writer: vault,
				LWA: amazon, Accounts: amazon, Clock: authz.SystemClock, Log: slog.New(slog.DiscardHandler)})
			row := strings.Join([]string{"shop", string(tt.region), tok, "", tt.marketplace, "shop@example.com", tt.locale, "2026-06-01"}, ",")
			rep, err := im.Run(context.Background(), strings.NewReader(header+row+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := ledger.Get(context.Background(), "shop", tt.region)
			if err != nil {
				t.Fatalf("no record written (report %+v)", rep)
			}
			if a.Locale != tt.want {
				t.Errorf("locale %q, want %q", a.Locale, tt.want)
			}
		})
	}
}
