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
