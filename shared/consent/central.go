package consent

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// market is one Amazon marketplace as SP-API's "Seller Central URLs" table lists it.
type market struct {
	region        authz.Region
	sellerCentral string
	vendorCentral string
}

// markets maps a marketplace country code to its region and consent hosts. Seller
// Central and Vendor Central differ per marketplace; the consent page must be the one
// the seller signs in to, or they land on a login for an account they do not have.
var markets = map[string]market{
	// North America
	"US": {authz.RegionNA, "https://sellercentral.amazon.com", "https://vendorcentral.amazon.com"},
	"CA": {authz.RegionNA, "https://sellercentral.amazon.ca", "https://vendorcentral.amazon.ca"},
	"MX": {authz.RegionNA, "https://sellercentral.amazon.com.mx", "https://vendorcentral.amazon.com.mx"},
	"BR": {authz.RegionNA, "https://sellercentral.amazon.com.br", "https://vendorcentral.amazon.com.br"},
	// Europe (and the marketplaces served by the EU endpoint)
	"ES": {authz.RegionEU, "https://sellercentral.amazon.es", "https://vendorcentral.amazon.es"},
	"GB": {authz.RegionEU, "https://sellercentral.amazon.co.uk", "https://vendorcentral.amazon.co.uk"},
	"UK": {authz.RegionEU, "https://sellercentral.amazon.co.uk", "https://vendorcentral.amazon.co.uk"},
	"FR": {authz.RegionEU, "https://sellercentral.amazon.fr", "https://vendorcentral.amazon.fr"},
	"BE": {authz.RegionEU, "https://sellercentral.amazon.com.be", "https://vendorcentral.amazon.com.be"},
	"NL": {authz.RegionEU, "https://sellercentral.amazon.nl", "https://vendorcentral.amazon.nl"},
	"DE": {authz.RegionEU, "https://sellercentral.amazon.de", "https://vendorcentral.amazon.de"},
	"IT": {authz.RegionEU, "https://sellercentral.amazon.it", "https://vendorcentral.amazon.it"},
	"SE": {authz.RegionEU, "https://sellercentral.amazon.se", "https://vendorcentral.amazon.se"},
	"PL": {authz.RegionEU, "https://sellercentral.amazon.pl", "https://vendorcentral.amazon.pl"},
	"IE": {authz.RegionEU, "https://sellercentral.amazon.ie", "https://vendorcentral.amazon.ie"},
	"ZA": {authz.RegionEU, "https://sellercentral.amazon.co.za", "https://vendorcentral.amazon.co.za"},
	"EG": {authz.RegionEU, "https://sellercentral.amazon.eg", "https://vendorcentral.amazon.me"},
	"TR": {authz.RegionEU, "https://sellercentral.amazon.com.tr", "https://vendorcentral.amazon.com.tr"},
	"SA": {authz.RegionEU, "https://sellercentral.amazon.sa", "https://vendorcentral.amazon.me"},
	"AE": {authz.RegionEU, "https://sellercentral.amazon.ae", "https://vendorcentral.amazon.me"},
	"IN": {authz.RegionEU, "https://sellercentral.amazon.in", "https://www.vendorcentral.in"},
	// Far East
	"SG": {authz.RegionFE, "https://sellercentral.amazon.sg", "https://vendorcentral.amazon.com.sg"},
	"AU": {authz.RegionFE, "https://sellercentral.amazon.com.au", "https://vendorcentral.amazon.com.au"},
	"JP": {authz.RegionFE, "https://sellercentral.amazon.co.jp", "https://vendorcentral.amazon.co.jp"},
}

// defaultMarket is used when a record has no marketplace: the region's main one.
var defaultMarket = map[authz.Region]string{authz.RegionNA: "US", authz.RegionEU: "DE", authz.RegionFE: "JP"}

// CentralURL returns the Seller Central or Vendor Central base URL for a marketplace.
// override (SELLER_CENTRAL_URL, for the local simulator) wins when set.
func CentralURL(accountType authz.AccountType, marketplace string, region authz.Region, override string) (string, error) {
	if override != "" {
		return strings.TrimRight(override, "/"), nil
	}
	code := strings.ToUpper(marketplace)
	if code == "" {
		code = defaultMarket[region]
	}
	m, ok := markets[code]
	if !ok {
		return "", fmt.Errorf("unknown marketplace %q", marketplace)
	}
	if region != "" && m.region != region {
		return "", fmt.Errorf("marketplace %s belongs to region %s, not %s", code, m.region, region)
	}
	if accountType == authz.AccountVendor {
		return m.vendorCentral, nil
	}
	return m.sellerCentral, nil
}

// ValidMarketplace reports whether code is a marketplace of region.
func ValidMarketplace(code string, region authz.Region) error {
	_, err := CentralURL(authz.AccountSeller, code, region, "")
	return err
}

// centralHosts is every host the Login URI may send a seller back to.
var centralHosts = func() map[string]bool {
	hosts := map[string]bool{}
	for _, m := range markets {
		for _, u := range []string{m.sellerCentral, m.vendorCentral} {
			parsed, _ := url.Parse(u)
			hosts[parsed.Host] = true
		}
	}
	// Older pan-European and Japanese sign-in hosts that Amazon still redirects through.
	hosts["sellercentral-europe.amazon.com"] = true
	hosts["sellercentral-japan.amazon.com"] = true
	return hosts
}()

// confirmPath is the only path of amazon_callback_uri that Amazon's Login URI flow
// uses: {Seller or Vendor Central}/apps/authorize/confirm/{application id}, as in the
// SP-API "Selling Partner Appstore authorization workflow" (step 2: Amazon loads the
// Login URI with amazon_callback_uri=https://…/apps/authorize/confirm/amzn1.sp.solution…).
// One path segment follows, starting with a letter or digit, so no "..", no encoded
// slash and no second path can ride along. A trailing slash is tolerated: it changes
// nothing at Amazon and some integrations add one.
// It is compiled on first use: the bounded repetition compiles to some 3,000
// instructions (1 to 2 ms and 200 KB), which every function importing this package
// would otherwise pay at each cold start, and only the Login URI uses it.
var confirmPath = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/apps/authorize/confirm/[A-Za-z0-9][A-Za-z0-9._-]{0,199}/?$`)
})

// CheckCallbackURI accepts the amazon_callback_uri of a Login URI call only if it is
// Amazon's consent confirmation path (confirmPath) on a Seller Central or Vendor
// Central host over HTTPS, or on the configured override (the local simulator, which
// serves the same path). Anything else would make /login an open redirect: a
// /gp/redirect.html?location=… on an Amazon host is one too. The URL returned carries
// no query: amazon_callback_uri has none in Amazon's flow, and a parameter smuggled in
// (a second redirect_uri, say) must not travel on to Amazon under our name.
func CheckCallbackURI(raw, override string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil, fmt.Errorf("amazon_callback_uri is not a URL")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("amazon_callback_uri has user info or a fragment")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("amazon_callback_uri is not an absolute URL")
	}
	if !isOverride(u, override) {
		if u.Scheme != "https" || !centralHosts[strings.ToLower(u.Host)] {
			return nil, fmt.Errorf("amazon_callback_uri host %q is not an Amazon Seller Central or Vendor Central host", u.Host)
		}
	}
	if !confirmPath().MatchString(u.EscapedPath()) {
		return nil, fmt.Errorf("amazon_callback_uri path %q is not Amazon's consent confirmation path /apps/authorize/confirm/{application id}",
			truncate(u.EscapedPath(), 80))
	}
	return &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: u.Path, RawPath: u.RawPath}, nil
}

// isOverride says whether u is on SELLER_CENTRAL_URL's scheme and host.
func isOverride(u *url.URL, override string) bool {
	if override == "" {
		return false
	}
	o, err := url.Parse(override)
	return err == nil && o.Host != "" && strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Host, u.Host)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ConsentRequest is what the consent URL carries.
type ConsentRequest struct {
	CentralURL  string // from CentralURL
	AppID       string // the application id from Solution Provider Portal (amzn1.sp.solution...)
	State       string
	Draft       bool   // adds version=beta: Amazon authorizes only published apps without it
	RedirectURI string // sent only when set: needed when the app registers several
}

// ConsentURL builds {central}/apps/authorize/consent?application_id=..&state=..[&version=beta][&redirect_uri=..].
func ConsentURL(r ConsentRequest) string {
	q := url.Values{}
	q.Set("application_id", r.AppID)
	q.Set("state", r.State)
	if r.Draft {
		q.Set("version", "beta")
	}
	if r.RedirectURI != "" {
		q.Set("redirect_uri", r.RedirectURI)
	}
	return r.CentralURL + "/apps/authorize/consent?" + q.Encode()
}

// LoginReturnURL builds the redirect back to Amazon from the Login URI:
// amazon_callback_uri?redirect_uri=..&amazon_state=..&state=..[&version=beta]. The
// query is built from these alone: whatever query callback carried is dropped.
func LoginReturnURL(callback *url.URL, redirectURI, amazonState, state string, draft bool) string {
	u := *callback
	u.ForceQuery, u.Fragment, u.RawFragment = false, "", ""
	q := url.Values{}
	if redirectURI != "" {
		q.Set("redirect_uri", redirectURI)
	}
	q.Set("amazon_state", amazonState)
	q.Set("state", state)
	if draft {
		q.Set("version", "beta")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// RegionOfHost returns the region whose Seller or Vendor Central is host, or "".
func RegionOfHost(host string) authz.Region {
	host = strings.ToLower(host)
	for _, m := range markets {
		for _, u := range []string{m.sellerCentral, m.vendorCentral} {
			if strings.TrimPrefix(u, "https://") == host {
				return m.region
			}
		}
	}
	switch host {
	case "sellercentral-europe.amazon.com":
		return authz.RegionEU
	case "sellercentral-japan.amazon.com":
		return authz.RegionFE
	}
	return ""
}
