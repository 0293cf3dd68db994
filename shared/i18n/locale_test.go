package i18n

import "testing"

func TestLocaleForAMarketplace(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ marketplace, want string }{
		{"DE", "de-DE"}, {"at", "de-AT"}, {"FR", "fr-FR"}, {"BE", "fr-BE"}, {"IT", "it-IT"}, {"ES", "es-ES"},
		{"MX", "es-MX"}, {"JP", "ja-JP"}, {"US", "en-US"}, {"GB", "en-GB"}, {"UK", "en-GB"}, {"NL", "en-NL"}, {"", "en-US"},
	} {
		got := LocaleFor(tt.marketplace)
		if got != tt.want {
			t.Errorf("LocaleFor(%q) = %q, want %q", tt.marketplace, got, tt.want)
		}
		if lang := LanguageFor(got, ""); lang != LanguageFor("", tt.marketplace) {
			t.Errorf("LocaleFor(%q) = %q reads as %s, the marketplace's language is %s", tt.marketplace, got, lang, LanguageFor("", tt.marketplace))
		}
	}
}
