// Package i18n holds the seller-facing text of the keeper in English, German, French,
// Italian, Spanish and Japanese: one message catalog per language, the choice of
// language from a record's locale or its marketplace, and dates written as a reader
// of each language writes them, in the marketplace's time zone. A translation is a
// new catalog file; the tests fail when a catalog lacks a key or a placeholder.
package i18n

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Lambda's provided.al2023 image has no zoneinfo
)

// Default is the language of a locale and marketplace the keeper has no text for.
const Default = "en"

// catalogs holds every language's messages, by key, each built the first time it
// is used: a cold start that renders no page and no email builds none of the six.
// Each language file registers its own in an init function.
var catalogs = map[string]func() map[string]string{}

func register(lang string, messages func() map[string]string) {
	catalogs[lang] = sync.OnceValue(messages)
}

// catalog is lang's messages (nil for a language the keeper has no text in).
func catalog(lang string) map[string]string {
	if c, ok := catalogs[lang]; ok {
		return c()
	}
	return nil
}

// Languages lists the languages with a catalog, sorted.
func Languages() []string {
	out := make([]string, 0, len(catalogs))
	for l := range catalogs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Keys lists the keys of the default catalog, sorted.
func Keys() []string {
	def := catalog(Default)
	out := make([]string, 0, len(def))
	for k := range def {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Raw is a language's message for key before its placeholders are filled, and
// whether the catalog has it.
func Raw(lang, key string) (string, bool) {
	m, ok := catalog(lang)[key]
	return m, ok
}

// marketplaceLanguage is the language of each marketplace's Seller Central.
var marketplaceLanguage = map[string]string{
	"DE": "de", "AT": "de", "FR": "fr", "BE": "fr", "IT": "it", "ES": "es", "MX": "es", "JP": "ja",
}

// LanguageFor picks the language of a record: its locale ("de-DE", "fr_CA", "ja") if
// the keeper has that language, else the marketplace's, else English.
func LanguageFor(locale, marketplace string) string {
	lang, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(locale), "_", "-")), "-")
	if _, ok := catalogs[lang]; ok {
		return lang
	}
	if lang, ok := marketplaceLanguage[strings.ToUpper(marketplace)]; ok {
		return lang
	}
	return Default
}

// marketplaceZone is the time zone Amazon's Seller Central of each marketplace uses.
var marketplaceZone = map[string]string{
	"US": "America/Los_Angeles", "CA": "America/Los_Angeles", "MX": "America/Mexico_City", "BR": "America/Sao_Paulo",
	"GB": "Europe/London", "UK": "Europe/London", "IE": "Europe/Dublin", "DE": "Europe/Berlin", "AT": "Europe/Vienna",
	"FR": "Europe/Paris", "BE": "Europe/Brussels", "NL": "Europe/Amsterdam", "IT": "Europe/Rome", "ES": "Europe/Madrid",
	"SE": "Europe/Stockholm", "PL": "Europe/Warsaw", "TR": "Europe/Istanbul", "AE": "Asia/Dubai", "SA": "Asia/Riyadh",
	"EG": "Africa/Cairo", "ZA": "Africa/Johannesburg", "IN": "Asia/Kolkata", "JP": "Asia/Tokyo", "AU": "Australia/Sydney",
	"SG": "Asia/Singapore",
}

// Location is the marketplace's time zone; UTC for one the keeper does not know.
func Location(marketplace string) *time.Location {
	if name, ok := marketplaceZone[strings.ToUpper(marketplace)]; ok {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.UTC
}

var months = map[string][12]string{
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
}

// Date writes the day of t in loc as readers of lang write it: 15 Feb 2027,
// 15. Februar 2027, 1er février 2027, 15 febbraio 2027, 15 de febrero de 2027,
// 2027年2月15日.
func Date(lang string, t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	d, m, y := t.Day(), t.Month(), t.Year()
	switch lang {
	case "de":
		return fmt.Sprintf("%d. %s %d", d, months["de"][m-1], y)
	case "fr":
		if d == 1 {
			return fmt.Sprintf("1er %s %d", months["fr"][m-1], y)
		}
		return fmt.Sprintf("%d %s %d", d, months["fr"][m-1], y)
	case "it":
		return fmt.Sprintf("%d %s %d", d, months["it"][m-1], y)
	case "es":
		return fmt.Sprintf("%d de %s de %d", d, months["es"][m-1], y)
	case "ja":
		return fmt.Sprintf("%d年%d月%d日", y, int(m), d)
	}
	return t.Format("2 Jan 2006")
}

// DaysBetween counts the calendar days in loc from now's day to t's day, so that
// "in N days" agrees with the date printed beside it.
func DaysBetween(now, t time.Time, loc *time.Location) int {
	if loc == nil {
		loc = time.UTC
	}
	a, b := now.In(loc), t.In(loc)
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da) / (24 * time.Hour))
}

// Vars fill a message's placeholders: {app} is replaced by Vars["app"].
type Vars map[string]string

// ErrMissing says a catalog lacks a message or a message lacks a value.
type ErrMissing struct{ Lang, Key, Detail string }

func (e *ErrMissing) Error() string {
	return fmt.Sprintf("i18n: %s message %q: %s", e.Lang, e.Key, e.Detail)
}

// Message is key in lang with vars filled in. A key the language lacks is an error,
// never an English fallback: the tests catch it, and so does a render.
func Message(lang, key string, vars Vars) (string, error) {
	m, ok := catalog(lang)[key]
	if !ok {
		return "", &ErrMissing{lang, key, "no such key"}
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(m, '{')
		if i < 0 {
			b.WriteString(m)
			break
		}
		j := strings.IndexByte(m[i:], '}')
		if j < 0 {
			b.WriteString(m)
			break
		}
		name := m[i+1 : i+j]
		v, ok := vars[name]
		if !ok {
			return "", &ErrMissing{lang, key, "no value for {" + name + "}"}
		}
		b.WriteString(m[:i])
		b.WriteString(v)
		m = m[i+j+1:]
	}
	return b.String(), nil
}

// Placeholders lists the {names} a message uses, sorted.
func Placeholders(m string) []string {
	var out []string
	for {
		i := strings.IndexByte(m, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(m[i:], '}')
		if j < 0 {
			break
		}
		out = append(out, m[i+1:i+j])
		m = m[i+j+1:]
	}
	sort.Strings(out)
	return out
}

// Messages fills every key with prefix in lang, keyed by the rest of the key
// ("email.greeting" with prefix "email." → "greeting").
func Messages(lang, prefix string, vars Vars) (map[string]string, error) {
	out := map[string]string{}
	for _, k := range Keys() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		m, err := Message(lang, k, vars)
		if err != nil {
			return nil, err
		}
		out[rest] = m
	}
	return out, nil
}
