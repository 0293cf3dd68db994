package i18n

import "strings"

// LocaleFor is the locale a record of marketplace takes when nobody gave it one: the
// marketplace's language (the one LanguageFor falls back to) in that country, such
// as de-DE, fr-FR, ja-JP, en-GB; English in a marketplace the keeper has no language
// for (en-NL), and en-US without a marketplace.
func LocaleFor(marketplace string) string {
	country := strings.ToUpper(strings.TrimSpace(marketplace))
	if country == "UK" {
		country = "GB"
	}
	if country == "" {
		return Default + "-US"
	}
	lang, ok := marketplaceLanguage[country]
	if !ok {
		lang = Default
	}
	return lang + "-" + country
}
