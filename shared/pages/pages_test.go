package pages_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/pages"
)

func TestRenderEscapesAndSetsHeaders(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	pages.Render(rec, pages.Page{
		Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "Link <b>broken</b>",
		Lead: `"><script>alert(1)</script>`, Steps: []string{"step <i>1</i>"}, Reference: "ref-123",
		ActionURL: "javascript:alert(1)", ActionLabel: "Go",
	})
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d", rec.Code)
	}
	for _, bad := range []string{"<script>", "<b>broken", "<i>1", `href="javascript:`} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"ref-123", "Link &lt;b&gt;broken&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Type": "text/html; charset=utf-8"} {
		if got := rec.Header().Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

func TestRenderSpeaksThePageLanguageAndShowsTheBrand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang  string
		brand pages.Brand
		want  []string
		csp   string
	}{
		{"de", pages.Brand{SupportEmail: "help@shop.example", Color: "#123456"}, []string{`lang="de"`, "Referenz: <code>r-1</code>.", `href="mailto:help@shop.example"`, "#123456"}, ""},
		{"ja", pages.Brand{SupportURL: "https://shop.example/help", LogoURL: "https://cdn.shop.example/logo.png"},
			[]string{`lang="ja"`, "参照番号:<code>r-1</code>", `href="https://shop.example/help"`, `src="https://cdn.shop.example/logo.png"`}, "img-src https://cdn.shop.example"},
		{"", pages.Brand{}, []string{`lang="en"`, "Reference: <code>r-1</code>.", "Quote this reference if you contact Acme support."}, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		pages.Render(rec, pages.Page{Title: "T", Lead: "L", Reference: "r-1", AppName: "Acme", Lang: tc.lang, Brand: tc.brand})
		body := rec.Body.String()
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%q page lacks %q:\n%s", tc.lang, w, body)
			}
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, tc.csp) || (tc.csp == "" && strings.Contains(csp, "img-src")) {
			t.Errorf("%q page CSP %q", tc.lang, csp)
		}
	}
}
