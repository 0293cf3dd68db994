package consent_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/consent"
)

const simOverride = "http://127.0.0.1:9000"

// TestCheckCallbackURIAcceptsOnlyTheConfirmPath: the Login URI sends the seller back
// only to Amazon's consent confirmation path. Any other path on an Amazon host is an
// open redirect in waiting (Seller Central has redirectors of its own).
func TestCheckCallbackURIAcceptsOnlyTheConfirmPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, override string
		ok                  bool
	}{
		{"Seller Central, solution id", "https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.8d796277-a1b2-4c3d-b059-bb78ef5bc5c4", "", true},
		{"Appstore app id", "https://sellercentral.amazon.de/apps/authorize/confirm/amzn1.sellerapps.app.2eca283f-9f5a-4d13-b16c-474EXAMPLE57", "", true},
		{"Vendor Central", "https://vendorcentral.amazon.co.jp/apps/authorize/confirm/amzn1.sp.solution.x", "", true},
		{"trailing slash", "https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.x/", "", true},
		{"the simulator through the override", simOverride + "/apps/authorize/confirm/amzn1.sp.solution.x", simOverride, true},

		{"Amazon's redirector", "https://sellercentral.amazon.com/gp/redirect.html?location=https://evil.example/", "", false},
		{"sign-in page with a return URL", "https://sellercentral.amazon.com/ap/signin?openid.return_to=https://evil.example", "", false},
		{"the consent page itself", "https://sellercentral.amazon.com/apps/authorize/consent", "", false},
		{"confirm without an application id", "https://sellercentral.amazon.com/apps/authorize/confirm", "", false},
		{"confirm with an empty application id", "https://sellercentral.amazon.com/apps/authorize/confirm/", "", false},
		{"a second segment", "https://sellercentral.amazon.com/apps/authorize/confirm/x/y", "", false},
		{"dot-dot out of confirm", "https://sellercentral.amazon.com/apps/authorize/confirm/../../gp/redirect.html", "", false},
		{"a dot-dot segment", "https://sellercentral.amazon.com/apps/authorize/confirm/..", "", false},
		{"an encoded slash", "https://sellercentral.amazon.com/apps/authorize/confirm/x%2F..%2F..%2Fgp", "", false},
		{"an encoded dot-dot", "https://sellercentral.amazon.com/apps/authorize/confirm/%2E%2E", "", false},
		{"a double slash", "https://sellercentral.amazon.com//apps/authorize/confirm/x", "", false},
		{"a prefix path", "https://sellercentral.amazon.com/x/apps/authorize/confirm/x", "", false},
		{"upper-case path", "https://sellercentral.amazon.com/APPS/authorize/confirm/x", "", false},
		{"a semicolon", "https://sellercentral.amazon.com/apps/authorize/confirm/x;jsessionid=1", "", false},
		{"an explicit port", "https://sellercentral.amazon.com:443/apps/authorize/confirm/x", "", false},
		{"a trailing-dot host", "https://sellercentral.amazon.com./apps/authorize/confirm/x", "", false},
		{"userinfo", "https://evil.example@sellercentral.amazon.com/apps/authorize/confirm/x", "", false},
		{"a fragment", "https://sellercentral.amazon.com/apps/authorize/confirm/x#https://evil.example", "", false},
		{"an empty fragment", "https://sellercentral.amazon.com/apps/authorize/confirm/x#", "", false},
		{"a relative path", "/apps/authorize/confirm/amzn1.sp.solution.x", "", false},
		{"scheme-relative", "//sellercentral.amazon.com/apps/authorize/confirm/x", "", false},
		{"opaque", "https:sellercentral.amazon.com/apps/authorize/confirm/x", "", false},
		{"http", "http://sellercentral.amazon.com/apps/authorize/confirm/x", "", false},
		{"a look-alike host", "https://sellercentral.amazon.com.evil.example/apps/authorize/confirm/x", "", false},
		{"the override's host, another path", simOverride + "/gp/redirect.html?location=https://evil.example", simOverride, false},
		{"the override's host, another scheme", "https://127.0.0.1:9000/apps/authorize/confirm/x", simOverride, false},
		{"an empty override matches nothing", "http:///apps/authorize/confirm/x", "http://", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := consent.CheckCallbackURI(tt.raw, tt.override)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckCallbackURI(%q, %q) = %v, %v; want ok=%v", tt.raw, tt.override, u, err, tt.ok)
			}
		})
	}
}

// TestLoginReturnURLDropsUnknownParameters: whatever query amazon_callback_uri
// carried, the way back to Amazon carries only the Login URI flow's four parameters,
// with our values: a smuggled redirect_uri or state never reaches Amazon.
func TestLoginReturnURLDropsUnknownParameters(t *testing.T) {
	t.Parallel()
	raw := "https://sellercentral.amazon.co.uk/apps/authorize/confirm/amzn1.sp.solution.x?" +
		"redirect_uri=https://evil.example/cb&state=evil&amazon_state=evil&version=beta&next=https://evil.example&location=//evil.example"
	tests := []struct {
		name        string
		redirectURI string
		draft       bool
		want        url.Values
	}{
		{"published app, redirect URI set", "https://keeper.example/callback", false,
			url.Values{"redirect_uri": {"https://keeper.example/callback"}, "amazon_state": {"AMZ"}, "state": {"ST"}}},
		{"draft app, no redirect URI", "", true,
			url.Values{"amazon_state": {"AMZ"}, "state": {"ST"}, "version": {"beta"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cb, err := consent.CheckCallbackURI(raw, "")
			if err != nil {
				t.Fatal(err)
			}
			if cb.RawQuery != "" {
				t.Fatalf("CheckCallbackURI kept the query %q", cb.RawQuery)
			}
			got, err := url.Parse(consent.LoginReturnURL(cb, tt.redirectURI, "AMZ", "ST", tt.draft))
			if err != nil {
				t.Fatal(err)
			}
			if got.Scheme != "https" || got.Host != "sellercentral.amazon.co.uk" || got.Path != "/apps/authorize/confirm/amzn1.sp.solution.x" {
				t.Fatalf("return URL %s", got)
			}
			if q := got.Query(); q.Encode() != tt.want.Encode() {
				t.Fatalf("return URL query %v, want %v", q, tt.want)
			}
		})
	}
	// Even a URL that never went through CheckCallbackURI keeps none of its query.
	u, _ := url.Parse("https://sellercentral.amazon.com/apps/authorize/confirm/x?redirect_uri=https://evil.example#frag")
	got, _ := url.Parse(consent.LoginReturnURL(u, "", "A", "S", false))
	if got.Query().Get("redirect_uri") != "" || got.Fragment != "" {
		t.Fatalf("LoginReturnURL kept %s", got)
	}
}

var fuzzConfirmPath = regexp.MustCompile(`^/apps/authorize/confirm/[A-Za-z0-9][A-Za-z0-9._-]*/?$`)

// FuzzCheckCallbackURI feeds arbitrary amazon_callback_uri values (and overrides) to
// the Login URI's parser. Whatever it accepts is an Amazon Central host over HTTPS (or
// exactly the override's scheme and host), on the confirm path, with no userinfo, no
// fragment and no query; and LoginReturnURL's output stays on that host with only the
// flow's own parameters.
func FuzzCheckCallbackURI(f *testing.F) {
	for _, s := range []struct{ raw, override string }{
		{"https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.x", ""},
		{"https://sellercentral.amazon.com/gp/redirect.html?location=https://evil.example/", ""},
		{"https://sellercentral.amazon.com/apps/authorize/confirm/x%2F..%2Fgp", ""},
		{"https://evil.example@sellercentral.amazon.com/apps/authorize/confirm/x", ""},
		{"https://sellercentral.amazon.com.evil.example/apps/authorize/confirm/x", ""},
		{simOverride + "/apps/authorize/confirm/amzn1.sp.solution.x?redirect_uri=x", simOverride},
		{"HTTPS://SELLERCENTRAL.AMAZON.DE/apps/authorize/confirm/X/", ""},
		{"//sellercentral.amazon.com/apps/authorize/confirm/x", ""},
	} {
		f.Add(s.raw, s.override)
	}
	f.Fuzz(func(t *testing.T, raw, override string) {
		u, err := consent.CheckCallbackURI(raw, override)
		if err != nil {
			return
		}
		viaOverride := false
		if o, err := url.Parse(override); override != "" && err == nil && o.Host != "" {
			viaOverride = strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Host, u.Host)
		}
		if !viaOverride && (u.Scheme != "https" || consent.RegionOfHost(u.Host) == "") {
			t.Fatalf("accepted %q (override %q): %s is not an Amazon Central host over HTTPS", raw, override, u)
		}
		if u.User != nil || u.Fragment != "" || u.RawQuery != "" || u.Opaque != "" {
			t.Fatalf("accepted %q with userinfo, fragment, query or opaque part: %#v", raw, u)
		}
		if !fuzzConfirmPath.MatchString(u.EscapedPath()) {
			t.Fatalf("accepted %q: path %q", raw, u.EscapedPath())
		}
		out, err := url.Parse(consent.LoginReturnURL(u, "https://keeper.example/callback", "amz&state=x", "st#frag", true))
		if err != nil {
			t.Fatalf("LoginReturnURL of %q does not parse: %v", raw, err)
		}
		if !strings.EqualFold(out.Host, u.Host) || out.Scheme != u.Scheme || out.User != nil || out.Fragment != "" || out.EscapedPath() != u.EscapedPath() {
			t.Fatalf("LoginReturnURL of %q left for %s", raw, out)
		}
		q := out.Query()
		for k := range q {
			switch k {
			case "redirect_uri", "amazon_state", "state", "version":
			default:
				t.Fatalf("LoginReturnURL of %q carries %q", raw, k)
			}
		}
		if q.Get("amazon_state") != "amz&state=x" || q.Get("state") != "st#frag" || len(q["state"]) != 1 {
			t.Fatalf("LoginReturnURL of %q: query %v", raw, q)
		}
	})
}
