package renewal_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

// TestRepairParked: the sweep stores a parked token once the vault takes it, applies
// the evidence rule where the callback could not, and discards what can never be
// stored.
func TestRepairParked(t *testing.T) {
	t.Parallel()
	acme := account(sellerA, "Acme Store", true)
	tests := []struct {
		name string
		// park runs a callback that parks; then meanwhile changes the world before the sweep.
		vaultDown, spapiDown bool
		meanwhile            func(w *world, token string)
		want                 renewal.RepairResult
		wantStored           bool
		wantKind             authz.EventKind
	}{
		{name: "the vault takes it now", vaultDown: true, want: renewal.RepairResult{Parked: 1, Stored: 1}, wantStored: true, wantKind: authz.EventRenewed},
		{name: "SP-API answers now, the same account", spapiDown: true, want: renewal.RepairResult{Parked: 1, Stored: 1}, wantStored: true, wantKind: authz.EventRenewed},
		{name: "SP-API answers now: another account", spapiDown: true, want: renewal.RepairResult{Parked: 1, Discarded: 1}, wantKind: authz.EventAccountMismatch,
			meanwhile: func(w *world, token string) { w.sp.set(token, account(sellerB, "Someone Else", true)) }},
		{name: "LWA refuses the parked token", spapiDown: true, want: renewal.RepairResult{Parked: 1, Discarded: 1}, wantKind: authz.EventTokenParked,
			meanwhile: func(w *world, token string) { w.lwa.live[token] = false }},
		{name: "the record is gone", vaultDown: true, want: renewal.RepairResult{Parked: 1, Discarded: 1}, wantKind: authz.EventTokenParked,
			meanwhile: func(w *world, _ string) { delete(w.ledger.recs, "acme/eu") }},
		{name: "the vault still fails", vaultDown: true, want: renewal.RepairResult{Parked: 1, Waiting: 1},
			meanwhile: func(w *world, _ string) { w.vault.putErr = errors.New("still throttled") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.active("acme", sellerA, acme)
			s := w.follow("acme")
			code, tok := w.consent(ptr(acme))
			if tt.vaultDown {
				w.vault.putErr = errors.New("throttled")
			}
			if tt.spapiDown {
				w.sp.err = errors.New("spapi: unavailable")
			}
			if _, err := w.complete(s, sellerA, code); !errors.Is(err, renewal.ErrParked) {
				t.Fatalf("Complete = %v, want ErrParked", err)
			}
			w.vault.putErr, w.sp.err = nil, nil
			if tt.meanwhile != nil {
				tt.meanwhile(w, tok)
			}
			got, err := w.svc.RepairParked(context.Background())
			if err != nil || got != tt.want {
				t.Fatalf("RepairParked = %+v, %v; want %+v", got, err, tt.want)
			}
			_, stillParked := w.ledger.parkedOf("acme")
			if stillParked != (tt.want.Waiting > 0) {
				t.Errorf("still parked = %v", stillParked)
			}
			if stored := w.vault.token("acme") == tok; stored != tt.wantStored {
				t.Errorf("token stored = %v, want %v", stored, tt.wantStored)
			}
			if tt.wantStored {
				if a := w.ledger.record(t, "acme"); a.Status != authz.StatusActive || !a.ExpiresAt.Equal(t0.Add(authz.Lifetime)) {
					t.Errorf("record %+v", a)
				}
			}
			if tt.wantKind != "" && !slices.Contains(w.ledger.kinds("acme"), tt.wantKind) {
				t.Errorf("history %v, want %s", w.ledger.kinds("acme"), tt.wantKind)
			}
			w.noSecretIn(tok, code)
		})
	}
}
