package markup_test

import (
	"bytes"
	"html/template"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/markup"
)

// Text and URL escape as html/template escapes the same value in the same place.
func TestEscapesAsHTMLTemplateDoes(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("").Parse(`<p title="{{.}}">{{.}}</p><a href="{{.}}">`))
	for _, s := range []string{
		"", "plain", `"><script>alert(1)</script>`, "Tom & Jerry's +1", "\x00nul", "l'appli « x » é 日本",
		"https://shop.example/a?x=1&y=2#frag", "/relative/path?q=a b", "mailto:help@shop.example",
		"javascript:alert(1)", "JavaScript:alert(1)", " javascript:x", "data:text/html,<b>x</b>", "vbscript:msgbox",
		"HTTPS://cdn.example/l o'go.png", "%41%zz", "//host.example/x", "ftp://x.example/", "a:b/c",
	} {
		var want bytes.Buffer
		if err := tmpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		var b markup.Builder
		b.Raw(`<p title="`).Text(s).Raw(`">`).Text(s).Raw(`</p><a href="`).URL(s).Raw(`">`)
		if b.String() != want.String() {
			t.Errorf("%q:\n got %s\nwant %s", s, b.String(), want.String())
		}
	}
}

func TestColourIsAHexColourOrTheFallback(t *testing.T) {
	t.Parallel()
	for c, want := range map[string]string{
		"#abc": "#abc", "#A1B2C3": "#A1B2C3", "": "#ff9900", "red": "#ff9900", "#abcd": "#ff9900",
		"#12345g": "#ff9900", "#123;}</style>": "#ff9900", "expression(alert(1))": "#ff9900",
	} {
		var b markup.Builder
		if got := b.Color(c, "#ff9900").String(); got != want {
			t.Errorf("Color(%q) = %q, want %q", c, got, want)
		}
	}
	if strings.Contains(markup.Escape("<>"), "<") {
		t.Error("Escape left a <")
	}
}
