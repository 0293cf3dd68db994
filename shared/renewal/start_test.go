package renewal_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

func TestStartFromLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		token   func(w *world) string
		wantErr error
		check   func(t *testing.T, w *world, st renewal.Start, err error)
	}{
		{name: "a valid link goes to the marketplace's consent page", token: func(w *world) string { return w.link("acme") },
			check: func(t *testing.T, w *world, st renewal.Start, err error) {
				u, _ := url.Parse(st.URL)
				q := u.Query()
				if u.Host != "sellercentral.amazon.de" || u.Path != "/apps/authorize/consent" || q.Get("application_id") != appID || q.Get("redirect_uri") != redirect {
					t.Errorf("consent URL %s", st.URL)
				}
				state, verr := w.signer.VerifyState(q.Get("state"), w.now)
				if verr != nil || state.ConnectionID != "acme" || state.Region != authz.RegionEU || state.SellerCentral {
					t.Fatalf("state %+v: %v", state, verr)
				}
				if !w.signer.CheckBrowserBinding(state.Nonce, []string{st.Binding}) {
					t.Error("the binding does not bind the state's nonce")
				}
				if n, ok := w.ledger.nonces[state.Nonce]; !ok || n.conn != "acme" || !n.exp.Equal(w.now.Add(15*time.Minute)) {
					t.Errorf("nonce item %+v", n)
				}
			}},
		{name: "no token", token: func(*world) string { return "" }, wantErr: renewal.ErrMissingParameter},
		{name: "a tampered token", token: func(w *world) string { return w.link("acme") + "x" }, wantErr: renewal.ErrLinkInvalid},
		{name: "an expired link says where to renew by hand", wantErr: renewal.ErrLinkExpired,
			token: func(w *world) string {
				return w.signer.SignLink(consent.Link{ConnectionID: "acme", Region: authz.RegionEU, Expires: w.now.Add(-time.Hour), Generation: 2})
			},
			check: func(t *testing.T, _ *world, _ renewal.Start, err error) {
				var le *renewal.LinkError
				if !errors.As(err, &le) || le.CentralURL != "https://sellercentral.amazon.de" {
					t.Errorf("link error %+v", le)
				}
			}},
		{name: "a link older than the last renewal", wantErr: renewal.ErrLinkSuperseded,
			token: func(w *world) string {
				return w.signer.SignLink(consent.Link{ConnectionID: "acme", Region: authz.RegionEU, Expires: w.now.Add(time.Hour), Generation: 1})
			},
			check: func(t *testing.T, w *world, _ renewal.Start, err error) {
				var le *renewal.LinkError
				if !errors.As(err, &le) || !le.ExpiresAt.Equal(w.ledger.record(t, "acme").ExpiresAt) || le.Marketplace != "DE" {
					t.Errorf("link error %+v", le)
				}
				if len(w.ledger.nonces) != 0 {
					t.Error("a superseded link opened a state")
				}
			}},
		{name: "the ledger is down", wantErr: renewal.ErrUnavailable,
			token: func(w *world) string {
				tok := w.link("acme")
				w.ledger.getErr = authz.ErrStoreUnavailable
				return tok
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.active("acme", sellerA, account(sellerA, "Acme Store", true))
			st, err := w.svc.StartFromLink(context.Background(), tt.token(w))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("StartFromLink = %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, w, st, err)
			}
		})
	}
}

// TestStartFromLoginTellsNoSellerApart: the Login URI answers a known and an unknown
// seller alike (a state that names no connection, a binding, the way back to Amazon),
// and never redirects anywhere but Amazon's confirmation path.
func TestStartFromLoginTellsNoSellerApart(t *testing.T) {
	t.Parallel()
	const confirm = "https://sellercentral.amazon.de/apps/authorize/confirm/" + appID
	tests := []struct {
		name     string
		req      renewal.LoginRequest
		wantErr  error
		wantConn string
	}{
		{"known seller", renewal.LoginRequest{CallbackURI: confirm, AmazonState: "s1", SellingPartnerID: sellerA}, nil, "acme"},
		{"unknown seller", renewal.LoginRequest{CallbackURI: confirm, AmazonState: "s1", SellingPartnerID: sellerB}, nil, ""},
		{"not an Amazon host", renewal.LoginRequest{CallbackURI: "https://evil.example/apps/authorize/confirm/x", AmazonState: "s1", SellingPartnerID: sellerA},
			renewal.ErrBadCallbackURI, ""},
		{"an open redirect on an Amazon host", renewal.LoginRequest{CallbackURI: "https://sellercentral.amazon.de/gp/redirect.html?location=https://evil.example",
			AmazonState: "s1", SellingPartnerID: sellerA}, renewal.ErrBadCallbackURI, ""},
		{"no amazon_state", renewal.LoginRequest{CallbackURI: confirm, SellingPartnerID: sellerA}, renewal.ErrMissingParameter, ""},
		{"no seller", renewal.LoginRequest{CallbackURI: confirm, AmazonState: "s1"}, renewal.ErrMissingParameter, ""},
		{"an overlong seller id", renewal.LoginRequest{CallbackURI: confirm, AmazonState: "s1", SellingPartnerID: strings.Repeat("A", 65)},
			renewal.ErrMissingParameter, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.active("acme", sellerA, account(sellerA, "Acme Store", true))
			st, err := w.svc.StartFromLogin(context.Background(), tt.req)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("StartFromLogin = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if st.URL != "" || len(w.ledger.nonces) != 0 {
					t.Errorf("refused, yet %q and %d nonces", st.URL, len(w.ledger.nonces))
				}
				return
			}
			u, _ := url.Parse(st.URL)
			q := u.Query()
			if u.Scheme+"://"+u.Host+u.Path != confirm || q.Get("amazon_state") != "s1" || q.Get("redirect_uri") != redirect {
				t.Errorf("return URL %s", st.URL)
			}
			state, verr := w.signer.VerifyState(q.Get("state"), w.now)
			if verr != nil || !state.SellerCentral || state.ConnectionID != "" || state.Region != "" {
				t.Fatalf("state %+v names what it must not (%v)", state, verr)
			}
			if n := w.ledger.nonces[state.Nonce]; n.conn != tt.wantConn || n.region != authz.RegionEU {
				t.Errorf("nonce item %+v, want connection %q in eu", n, tt.wantConn)
			}
		})
	}
}
