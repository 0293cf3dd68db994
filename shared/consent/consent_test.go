package consent_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func signer(t testing.TB, key string) *consent.Signer {
	t.Helper()
	s, err := consent.NewSigner(secret.Value(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const key = "0123456789abcdef0123456789abcdef-test-key"

func TestLinkRoundTrip(t *testing.T) {
	t.Parallel()
	s := signer(t, key)
	tok := s.SignLink(consent.Link{ConnectionID: "acme-01", Region: authz.RegionEU, Expires: now.Add(45 * 24 * time.Hour)})
	got, err := s.VerifyLink(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnectionID != "acme-01" || got.Region != authz.RegionEU {
		t.Fatalf("got %+v", got)
	}
	if strings.ContainsAny(tok, "+/= ") {
		t.Fatalf("token %q is not URL-safe", tok)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	s := signer(t, key)
	other := signer(t, strings.Repeat("k", 40))
	link := s.SignLink(consent.Link{ConnectionID: "acme", Region: authz.RegionNA, Expires: now.Add(time.Hour)})
	state := s.SignState(consent.State{Nonce: "n1", ConnectionID: "acme", Region: authz.RegionNA, Expires: now.Add(time.Minute)})
	payload, sig, _ := strings.Cut(state, ".")
	flipped := []byte(payload)
	flipped[3] ^= 0x01

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", consent.ErrMalformed},
		{"no dot", payload, consent.ErrMalformed},
		{"truncated signature", payload + "." + sig[:10], consent.ErrMalformed},
		{"truncated payload", payload[:len(payload)-4] + "." + sig, consent.ErrBadSignature},
		{"tampered payload", string(flipped) + "." + sig, consent.ErrBadSignature},
		{"other key", other.SignState(consent.State{Nonce: "n1", ConnectionID: "acme", Region: authz.RegionNA, Expires: now.Add(time.Minute)}), consent.ErrBadSignature},
		{"oversized", state + strings.Repeat("A", consent.MaxTokenLen), consent.ErrMalformed},
		{"three parts", state + ".x", consent.ErrMalformed},
		{"link used as state", link, consent.ErrMalformed},
		{"expired", s.SignState(consent.State{Nonce: "n1", ConnectionID: "acme", Region: authz.RegionNA, Expires: now.Add(-time.Second)}), consent.ErrExpired},
		{"expires exactly now", s.SignState(consent.State{Nonce: "n1", ConnectionID: "acme", Region: authz.RegionNA, Expires: now}), consent.ErrExpired},
		{"bad region", s.SignState(consent.State{Nonce: "n1", ConnectionID: "acme", Region: "us", Expires: now.Add(time.Minute)}), consent.ErrMalformed},
		{"bad connection id", s.SignState(consent.State{Nonce: "n1", ConnectionID: "a/b", Region: "eu", Expires: now.Add(time.Minute)}), consent.ErrMalformed},
		{"no nonce", s.SignState(consent.State{ConnectionID: "acme", Region: "eu", Expires: now.Add(time.Minute)}), consent.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.VerifyState(tt.token, now); !errors.Is(err, tt.want) {
				t.Fatalf("VerifyState = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := s.VerifyState(state, now); err != nil {
		t.Fatalf("a good state was rejected: %v", err)
	}
	if _, err := s.VerifyLink(state, now); !errors.Is(err, consent.ErrMalformed) {
		t.Fatalf("state accepted as a link: %v", err)
	}
}

func TestExpiredLinkStillNamesItsAuthorization(t *testing.T) {
	t.Parallel()
	s := signer(t, key)
	tok := s.SignLink(consent.Link{ConnectionID: "acme", Region: authz.RegionFE, Expires: now.Add(-time.Hour)})
	l, err := s.VerifyLink(tok, now)
	if !errors.Is(err, consent.ErrExpired) || l.ConnectionID != "acme" {
		t.Fatalf("got %+v, %v", l, err)
	}
}

func TestShortKeyRefused(t *testing.T) {
	t.Parallel()
	if _, err := consent.NewSigner(secret.Value("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	} else if strings.Contains(err.Error(), "short") {
		t.Fatalf("error shows the key: %v", err)
	}
}

func TestConsentURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		typ        authz.AccountType
		market     string
		region     authz.Region
		draft      bool
		redirect   string
		wantPrefix string
		wantQuery  url.Values
	}{
		{"US seller published", authz.AccountSeller, "US", authz.RegionNA, false, "",
			"https://sellercentral.amazon.com/apps/authorize/consent?",
			url.Values{"application_id": {"amzn1.sp.solution.x"}, "state": {"S"}}},
		{"DE seller draft with redirect", authz.AccountSeller, "de", authz.RegionEU, true, "https://keeper.example/callback",
			"https://sellercentral.amazon.de/apps/authorize/consent?",
			url.Values{"application_id": {"amzn1.sp.solution.x"}, "state": {"S"}, "version": {"beta"}, "redirect_uri": {"https://keeper.example/callback"}}},
		{"JP vendor", authz.AccountVendor, "JP", authz.RegionFE, false, "",
			"https://vendorcentral.amazon.co.jp/apps/authorize/consent?",
			url.Values{"application_id": {"amzn1.sp.solution.x"}, "state": {"S"}}},
		{"no marketplace: region default", authz.AccountSeller, "", authz.RegionNA, false, "",
			"https://sellercentral.amazon.com/apps/authorize/consent?",
			url.Values{"application_id": {"amzn1.sp.solution.x"}, "state": {"S"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			central, err := consent.CentralURL(tt.typ, tt.market, tt.region, "")
			if err != nil {
				t.Fatal(err)
			}
			got := consent.ConsentURL(consent.ConsentRequest{CentralURL: central, AppID: "amzn1.sp.solution.x", State: "S", Draft: tt.draft, RedirectURI: tt.redirect})
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Fatalf("got %s, want prefix %s", got, tt.wantPrefix)
			}
			u, _ := url.Parse(got)
			if u.Query().Encode() != tt.wantQuery.Encode() {
				t.Fatalf("query = %s, want %s", u.Query().Encode(), tt.wantQuery.Encode())
			}
		})
	}
	if _, err := consent.CentralURL(authz.AccountSeller, "DE", authz.RegionNA, ""); err == nil {
		t.Error("DE accepted for region na")
	}
	if _, err := consent.CentralURL(authz.AccountSeller, "XX", authz.RegionNA, ""); err == nil {
		t.Error("unknown marketplace accepted")
	}
	if got, _ := consent.CentralURL(authz.AccountSeller, "DE", authz.RegionEU, "http://127.0.0.1:9000/"); got != "http://127.0.0.1:9000" {
		t.Errorf("override ignored: %s", got)
	}
}

func TestCheckCallbackURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, override string
		ok            bool
	}{
		{"https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.x", "", true},
		{"https://sellercentral-europe.amazon.com/apps/authorize/confirm/x", "", true},
		{"https://vendorcentral.amazon.co.jp/apps/authorize/confirm/x", "", true},
		{"https://SellerCentral.Amazon.De/apps/authorize/confirm/x", "", true},
		{"http://sellercentral.amazon.com/apps/authorize/confirm/x", "", false},
		{"https://sellercentral.amazon.com.evil.example/x", "", false},
		{"https://evil.example/?sellercentral.amazon.com", "", false},
		{"https://sellercentral.amazon.com@evil.example/x", "", false},
		{"//evil.example/x", "", false},
		{"javascript:alert(1)", "", false},
		{"", "", false},
		{"http://127.0.0.1:9000/apps/authorize/confirm/amzn1.sp.solution.x", "http://127.0.0.1:9000", true},
		{"http://127.0.0.1:9001/apps/authorize/confirm/amzn1.sp.solution.x", "http://127.0.0.1:9000", false},
		{"http://127.0.0.1:9000/apps/authorize/login-callback", "http://127.0.0.1:9000", false},
	}
	for _, tt := range tests {
		_, err := consent.CheckCallbackURI(tt.raw, tt.override)
		if (err == nil) != tt.ok {
			t.Errorf("CheckCallbackURI(%q, %q) = %v, want ok=%v", tt.raw, tt.override, err, tt.ok)
		}
	}
}

func TestLoginReturnURL(t *testing.T) {
	t.Parallel()
	cb, _ := consent.CheckCallbackURI("https://sellercentral.amazon.com/apps/authorize/confirm/app?x=1", "")
	got := consent.LoginReturnURL(cb, "https://keeper.example/callback", "AMZ", "ST", true)
	u, _ := url.Parse(got)
	q := u.Query()
	if u.Host != "sellercentral.amazon.com" || q.Has("x") || q.Get("amazon_state") != "AMZ" || q.Get("state") != "ST" ||
		q.Get("redirect_uri") != "https://keeper.example/callback" || q.Get("version") != "beta" {
		t.Fatalf("got %s", got)
	}
}

// FuzzVerifyState feeds arbitrary strings to the parser: it must never panic, and
// must accept only what the signer produced.
func FuzzVerifyState(f *testing.F) {
	s := signer(f, key)
	good := s.SignState(consent.State{Nonce: "n", ConnectionID: "acme", Region: authz.RegionEU, Expires: now.Add(time.Hour)})
	f.Add(good)
	f.Add(s.SignLink(consent.Link{ConnectionID: "acme", Region: authz.RegionEU, Expires: now.Add(time.Hour)}))
	f.Add("")
	f.Add(".")
	f.Add("e30.e30")
	f.Fuzz(func(t *testing.T, token string) {
		st, err := s.VerifyState(token, now)
		if err == nil && token != good {
			// A different string that verifies must re-sign to itself (canonical form).
			if again := s.SignState(st); again != token {
				t.Fatalf("accepted a token the signer did not produce: %q", token)
			}
		}
		_, _ = s.VerifyLink(token, now)
	})
}
