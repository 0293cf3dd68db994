package amazonsim

import "strings"

// Marketplace is one Amazon marketplace as the Sellers API describes it.
type Marketplace struct {
	ID          string `json:"id"`
	CountryCode string `json:"countryCode"`
	Name        string `json:"name"`
	Currency    string `json:"defaultCurrencyCode"`
	Language    string `json:"defaultLanguageCode"`
	Domain      string `json:"domainName"`
}

// marketplaces are Amazon's marketplace ids (developer-docs "Marketplace IDs"), one per
// country code, in the three SP-API regions.
var marketplaces = []Marketplace{
	// North America (na)
	{ID: "ATVPDKIKX0DER", CountryCode: "US", Name: "Amazon.com", Currency: "USD", Language: "en_US", Domain: "www.amazon.com"},
	{ID: "A2EUQ1WTGCTBG2", CountryCode: "CA", Name: "Amazon.ca", Currency: "CAD", Language: "en_CA", Domain: "www.amazon.ca"},
	{ID: "A1AM78C64UM0Y8", CountryCode: "MX", Name: "Amazon.com.mx", Currency: "MXN", Language: "es_MX", Domain: "www.amazon.com.mx"},
	{ID: "A2Q3Y263D00KWC", CountryCode: "BR", Name: "Amazon.com.br", Currency: "BRL", Language: "pt_BR", Domain: "www.amazon.com.br"},
	// Europe (eu)
	{ID: "A1PA6795UKMFR9", CountryCode: "DE", Name: "Amazon.de", Currency: "EUR", Language: "de_DE", Domain: "www.amazon.de"},
	{ID: "A1F83G8C2ARO7P", CountryCode: "GB", Name: "Amazon.co.uk", Currency: "GBP", Language: "en_GB", Domain: "www.amazon.co.uk"},
	{ID: "A13V1IB3VIYZZH", CountryCode: "FR", Name: "Amazon.fr", Currency: "EUR", Language: "fr_FR", Domain: "www.amazon.fr"},
	{ID: "APJ6JRA9NG5V4", CountryCode: "IT", Name: "Amazon.it", Currency: "EUR", Language: "it_IT", Domain: "www.amazon.it"},
	{ID: "A1RKKUPIHCS9HS", CountryCode: "ES", Name: "Amazon.es", Currency: "EUR", Language: "es_ES", Domain: "www.amazon.es"},
	{ID: "A1805IZSGTT6HS", CountryCode: "NL", Name: "Amazon.nl", Currency: "EUR", Language: "nl_NL", Domain: "www.amazon.nl"},
	{ID: "AMEN7PMS3EDWL", CountryCode: "BE", Name: "Amazon.com.be", Currency: "EUR", Language: "fr_BE", Domain: "www.amazon.com.be"},
	{ID: "A2NODRKZP88ZB9", CountryCode: "SE", Name: "Amazon.se", Currency: "SEK", Language: "sv_SE", Domain: "www.amazon.se"},
	{ID: "A1C3SOZRARQ6R3", CountryCode: "PL", Name: "Amazon.pl", Currency: "PLN", Language: "pl_PL", Domain: "www.amazon.pl"},
	{ID: "A28R8C7NBKEWEA", CountryCode: "IE", Name: "Amazon.ie", Currency: "EUR", Language: "en_IE", Domain: "www.amazon.ie"},
	{ID: "A33AVAJ2PDY3EV", CountryCode: "TR", Name: "Amazon.com.tr", Currency: "TRY", Language: "tr_TR", Domain: "www.amazon.com.tr"},
	{ID: "ARBP9OOSHTCHU", CountryCode: "EG", Name: "Amazon.eg", Currency: "EGP", Language: "ar_EG", Domain: "www.amazon.eg"},
	{ID: "A17E79C6D8DWNP", CountryCode: "SA", Name: "Amazon.sa", Currency: "SAR", Language: "ar_SA", Domain: "www.amazon.sa"},
	{ID: "A2VIGQ35RCS4UG", CountryCode: "AE", Name: "Amazon.ae", Currency: "AED", Language: "en_AE", Domain: "www.amazon.ae"},
	{ID: "A21TJRUUN4KGV", CountryCode: "IN", Name: "Amazon.in", Currency: "INR", Language: "en_IN", Domain: "www.amazon.in"},
	{ID: "AE08WJ6YKNBMC", CountryCode: "ZA", Name: "Amazon.co.za", Currency: "ZAR", Language: "en_ZA", Domain: "www.amazon.co.za"},
	// Far East (fe)
	{ID: "A1VC38T7YXB528", CountryCode: "JP", Name: "Amazon.co.jp", Currency: "JPY", Language: "ja_JP", Domain: "www.amazon.co.jp"},
	{ID: "A39IBJ37TRP1C6", CountryCode: "AU", Name: "Amazon.com.au", Currency: "AUD", Language: "en_AU", Domain: "www.amazon.com.au"},
	{ID: "A19VAU5U5O7RUS", CountryCode: "SG", Name: "Amazon.sg", Currency: "SGD", Language: "en_SG", Domain: "www.amazon.sg"},
}

// DefaultMarketplaceID is where an account that names none participates: Amazon.com.
const DefaultMarketplaceID = "ATVPDKIKX0DER"

// MarketplaceByCountry finds the marketplace of a country code (DE, GB, JP; UK is GB).
func MarketplaceByCountry(cc string) (Marketplace, bool) {
	cc = strings.ToUpper(strings.TrimSpace(cc))
	if cc == "UK" {
		cc = "GB"
	}
	for _, m := range marketplaces {
		if m.CountryCode == cc {
			return m, true
		}
	}
	return Marketplace{}, false
}

// MarketplaceByID finds a marketplace by its id.
func MarketplaceByID(id string) (Marketplace, bool) {
	for _, m := range marketplaces {
		if m.ID == id {
			return m, true
		}
	}
	return Marketplace{}, false
}

// marketplaceOrStub is the marketplace of id, or a plain entry for an id the table
// does not know (a test's made-up id still answers).
func marketplaceOrStub(id string) Marketplace {
	if m, ok := MarketplaceByID(id); ok {
		return m
	}
	return Marketplace{ID: id, Name: id, Currency: "USD", Language: "en_US", Domain: "www.amazon.com"}
}
