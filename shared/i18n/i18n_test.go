package i18n_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/i18n"
)

// TestEveryLanguageHasEveryMessage fails on a missing translation, an extra key (a
// typo), or a translation whose placeholders differ from the English message's.
func TestEveryLanguageHasEveryMessage(t *testing.T) {
	t.Parallel()
	langs := i18n.Languages()
	if want := []string{"de", "en", "es", "fr", "it", "ja"}; !reflect.DeepEqual(langs, want) {
		t.Fatalf("languages %v, want %v", langs, want)
	}
	for _, lang := range langs {
		for _, key := range i18n.Keys() {
			en, _ := i18n.Raw("en", key)
			m, ok := i18n.Raw(lang, key)
			if !ok {
				t.Errorf("%s lacks %q", lang, key)
				continue
			}
			if m == "" {
				t.Errorf("%s %q is empty", lang, key)
			}
			if got, want := i18n.Placeholders(m), i18n.Placeholders(en); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q has placeholders %v, English has %v", lang, key, got, want)
			}
			if lang != "en" && m == en {
				t.Errorf("%s %q is the English text", lang, key)
			}
		}
	}
}

func TestMessageNeverFallsBack(t *testing.T) {
	t.Parallel()
	var missing *i18n.ErrMissing
	if _, err := i18n.Message("de", "no.such.key", nil); !errors.As(err, &missing) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := i18n.Message("de", "email.button.renew", i18n.Vars{}); !errors.As(err, &missing) {
		t.Errorf("missing value: %v", err)
	}
	got, err := i18n.Message("de", "email.button.renew", i18n.Vars{"app": "Acme {x}"})
	if err != nil || got != "Zugriff für Acme {x} verlängern" {
		t.Errorf("got %q, %v (a value is inserted as it is, never expanded)", got, err)
	}
}

func TestLanguageFor(t *testing.T) {
	t.Parallel()
	tests := []struct{ locale, marketplace, want string }{
		{"de-DE", "US", "de"}, {"fr_CA", "CA", "fr"}, {"ja", "", "ja"}, {"", "JP", "ja"}, {"", "DE", "de"},
		{"", "MX", "es"}, {"nl-NL", "NL", "en"}, {"pt-BR", "BR", "en"}, {"", "", "en"}, {"EN-gb", "FR", "en"}, {"xx", "IT", "it"},
	}
	for _, tc := range tests {
		if got := i18n.LanguageFor(tc.locale, tc.marketplace); got != tc.want {
			t.Errorf("LanguageFor(%q, %q) = %q, want %q", tc.locale, tc.marketplace, got, tc.want)
		}
	}
}

func TestDatesInTheMarketplaceTimeZone(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	late := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC) // already the 5th in Tokyo
	tests := []struct {
		lang, marketplace string
		t                 time.Time
		want              string
	}{
		{"de", "DE", at, "4. Dezember 2026"},
		{"ja", "JP", at, "2026年12月4日"},
		{"ja", "JP", late, "2026年12月5日"},
		{"fr", "FR", time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC), "1er février 2027"},
		{"it", "IT", at, "4 dicembre 2026"},
		{"es", "ES", at, "4 de diciembre de 2026"},
		{"en", "GB", at, "4 Dec 2026"},
		{"en", "US", time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), "4 Dec 2026"}, // evening of the 4th in Seattle
	}
	for _, tc := range tests {
		if got := i18n.Date(tc.lang, tc.t, i18n.Location(tc.marketplace)); got != tc.want {
			t.Errorf("Date(%s, %s, %s) = %q, want %q", tc.lang, tc.t, tc.marketplace, got, tc.want)
		}
	}
	now := time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC) // already 2 Dec in Tokyo
	if got := i18n.DaysBetween(now, late, i18n.Location("JP")); got != 3 {
		t.Errorf("days from 2 Dec to 5 Dec in Tokyo = %d, want 3", got)
	}
}
