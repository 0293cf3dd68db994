package tablekeys_test

import (
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// TestEveryItemKindsKeyShape lists every item kind of the table with the key it is
// stored under: the strings are the table's contract (DESIGN.md), and items written
// before a change must still be found after it.
func TestEveryItemKindsKeyShape(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 30, 5, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		kind   string
		pk, sk string
		wantPK string
		wantSK string
	}{
		{"authorization", tablekeys.ConnPK("acme"), tablekeys.AuthSK("eu"), "CONN#acme", "AUTH#eu"},
		{"history event", tablekeys.ConnPK("acme"), tablekeys.EventSK(at, "renewed"), "CONN#acme", "EVENT#2026-03-01T08:30:05.000000000Z#renewed"},
		{"history event without a time", tablekeys.ConnPK("acme"), tablekeys.EventSK(time.Time{}, "renewed"), "CONN#acme", "EVENT##renewed"},
		{"state nonce", tablekeys.StatePK("n0nce"), tablekeys.StateSK, "STATE#n0nce", "STATE"},
		{"seller binding", tablekeys.SellerPK("na", "A1SELLER"), tablekeys.BindingSK, "SELLER#na#A1SELLER", "BINDING"},
		{"parked token", tablekeys.ParkedPK, tablekeys.ParkedSK("acme", "fe"), "PARKED", "acme#fe"},
		{"expiry scan cursor", tablekeys.ExpiryScanPK, tablekeys.ExpiryScanSK, "META#expiryscan", "CURSOR"},
		{"client secret rotation", tablekeys.ClientSecretPK, tablekeys.ClientSecretStateSK, "META#client-secret", "ROTATION"},
		{"client secret history", tablekeys.ClientSecretPK, tablekeys.EventSK(at, "rotated"), "META#client-secret", "EVENT#2026-03-01T08:30:05.000000000Z#rotated"},
		{"funnel day", tablekeys.FunnelPK("2026-03-01"), tablekeys.FunnelSK, "META#funnel#2026-03-01", "COUNTS"},
		{"remote import", tablekeys.ImportPK("imp-1"), tablekeys.ImportSK, "META#import#imp-1", "IMPORT"},
		{"webhook endpoint", tablekeys.WebhooksPK, tablekeys.EndpointSK("ep-1"), "META#webhooks", "ENDPOINT#ep-1"},
		{"pace budget", tablekeys.PacePK, "ses", "META#pace", "ses"},
		{"vault index entry", tablekeys.VaultEntryPK("acme/eu"), tablekeys.VaultEntrySK, "VAULT#entry#acme/eu", "ENTRY"},
		{"vault bucket", tablekeys.VaultBucketPK(42), tablekeys.VaultBucketSK, "VAULT#bucket#000042", "BUCKET"},
		{"vault open bucket", tablekeys.VaultOpenPK, tablekeys.VaultOpenSK, "VAULT#open", "OPEN"},
		{"vault write budget", tablekeys.VaultWriteBudgetPK, tablekeys.VaultWriteBudget, "VAULT#pace#budget", "secretsmanager-writes"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			if tt.pk != tt.wantPK || tt.sk != tt.wantSK {
				t.Errorf("%s: key (%q, %q), want (%q, %q)", tt.kind, tt.pk, tt.sk, tt.wantPK, tt.wantSK)
			}
		})
	}
}

// TestEventKeysSortAsTheirTimes: history is read in sort-key order, so a time with a
// fraction must sort after the same second without one.
func TestEventKeysSortAsTheirTimes(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 9, 30, 5, 0, time.UTC)
	times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(time.Second), base.Add(10 * time.Second)}
	for i := 1; i < len(times); i++ {
		a, b := tablekeys.EventSK(times[i-1], "k"), tablekeys.EventSK(times[i], "k")
		if a >= b {
			t.Errorf("%s sorts at or after %s", a, b)
		}
	}
}
