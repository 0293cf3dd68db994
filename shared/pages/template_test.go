package pages

import (
	"bytes"
	"html/template"
	"os"
	"strings"
	"testing"
)

// The page template (templates/page.html) must render what the page's original
// template, kept in testdata, made of the same page, byte for byte, for hostile
// values in every field.
func TestPageIsWhatHTMLTemplateRendered(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/page.html")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.New("page").Funcs(template.FuncMap{
		"around": func(line string) []string {
			before, after, _ := strings.Cut(line, "{support}")
			return []string{before, after}
		},
	}).Parse(string(src)))
	hostile := `"><script>alert('x')</script>&amp; +1 ` + "\x00"
	tests := []struct {
		name string
		page Page
	}{
		{"plain", Page{Title: "Renewed", Lead: "Done.", Reference: "r-1", AppName: "Acme"}},
		{"no reference, no app", Page{Title: "T", Lead: "L"}},
		{"hostile text", Page{Tone: ToneError, Title: hostile, Lead: hostile, Details: []string{hostile, "two"}, Steps: []string{hostile, "b"},
			ActionURL: "https://shop.example/a?x=1&y=<2>'\"", ActionLabel: hostile, Reference: hostile, AppName: hostile}},
		{"javascript action", Page{Title: "T", Lead: "L", ActionURL: "javascript:alert(1)", ActionLabel: "Go", Reference: "r"}},
		{"data and mixed-case schemes", Page{Title: "T", Lead: "L", ActionURL: "JaVaScRiPt:alert(1)", ActionLabel: "Go", Brand: Brand{LogoURL: "data:text/html,<b>"}}},
		{"relative and odd URLs", Page{Title: "T", Lead: "L", ActionURL: "/renew?t=a b é (x)%41", ActionLabel: "Go", Brand: Brand{LogoURL: "HTTPS://cdn.example/l o'go.png"}}},
		{"brand support email", Page{Title: "T", Lead: "L", Reference: "r", Lang: "de", Brand: Brand{SupportEmail: "help@shop.example", Color: "#123456"}}},
		{"brand support url", Page{Title: "T", Lead: "L", Reference: "r", Lang: "ja", Brand: Brand{SupportURL: "https://shop.example/help?a=1&b=2", LogoURL: "https://cdn.example/logo.png"}}},
		{"every language", Page{Title: "T", Lead: "L", Reference: "r", Lang: "fr", AppName: "L'app « Acme »", Brand: Brand{SupportURL: "https://x.example"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := newChrome(tc.page)
			if err != nil {
				t.Fatal(err)
			}
			// The original template cut the whole support line at its placeholder.
			old := struct {
				chrome
				SupportLine string
			}{c, c.SupportBefore + "{support}" + c.SupportAfter}
			var want bytes.Buffer
			if err := tmpl.Execute(&want, old); err != nil {
				t.Fatal(err)
			}
			got, err := c.html()
			if err != nil {
				t.Fatal(err)
			}
			if got != want.String() {
				t.Errorf("page differs from html/template's:\n got: %s\nwant: %s", got, want.String())
			}
		})
	}
}

// A colour that is not #rgb or #rrggbb (Brand.Check refuses it at start-up) gets the
// default colour, not html/template's "ZgotmplZ" in the style.
func TestPageKeepsAHostileColourOutOfTheStyle(t *testing.T) {
	t.Parallel()
	c, err := newChrome(Page{Title: "T", Lead: "L", Brand: Brand{Color: "red;}</style><script>x()</script>"}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := c.html()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(doc, "<script>") || strings.Contains(doc, "red;") || !strings.Contains(doc, "background:"+DefaultColor+";") {
		t.Errorf("hostile colour reached the page:\n%s", doc)
	}
}

// The button colour is the brand's when it is #rgb or #rrggbb, else the default:
// nothing else reaches the style.
func TestAccentColourIsAHexColourOrTheDefault(t *testing.T) {
	t.Parallel()
	for c, want := range map[string]string{
		"#abc": "#abc", "#A1B2C3": "#A1B2C3", "": DefaultColor, "red": DefaultColor, "#abcd": DefaultColor,
		"#12345g": DefaultColor, "#123;}</style>": DefaultColor, "expression(alert(1))": DefaultColor,
	} {
		if got := (Brand{Color: c}).AccentColor(); got != want {
			t.Errorf("AccentColor() of %q = %q, want %q", c, got, want)
		}
		if err := (Brand{Color: c}).Check(); (err == nil) != (c == "" || want == c) {
			t.Errorf("Check() of colour %q = %v", c, err)
		}
	}
}
