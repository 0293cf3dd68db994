package amazonsim_test

import (
	"encoding/json"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
)

const (
	appID        = "amzn1.sp.solution.test-app"
	clientID     = "amzn1.application-oa2-client.test"
	clientSecret = "amzn1.oa2-cs.v1.topsecret"
	redirectA    = "https://app.example/callback"
	redirectB    = "https://app.example/callback2"
	loginURI     = "https://app.example/login"
)

type env struct {
	sim   *amazonsim.Sim
	srv   *httptest.Server
	clock *testenv.Clock
	logs  *testenv.Buffer
	http  *http.Client // does not follow redirects: the test is the browser
}

func start(t *testing.T, mutate func(*amazonsim.Config)) *env {
	t.Helper()
	c := testenv.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	logs := &testenv.Buffer{}
	cfg := amazonsim.Config{
		AppID:        appID,
		AppName:      "Keeper Test App",
		RedirectURIs: []string{redirectA, redirectB},
		ClientID:     clientID,
		ClientSecret: clientSecret,
		LoginURI:     loginURI,
		Sellers: []amazonsim.Seller{
			{ID: "A1SELLERONE", Name: "Acme Goods", Email: "ops@acme.example"},
			{ID: "A2SELLERTWO", Name: "Bravo Supplies"},
		},
		Clock:  c.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim := amazonsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{
		sim:   sim,
		srv:   srv,
		clock: c,
		logs:  logs,
		http: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

type page struct {
	status   int
	body     string
	location *url.URL
}

func (e *env) get(t *testing.T, path string, q url.Values) page {
	t.Helper()
	u := e.srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	res, err := e.http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return readPage(t, res)
}

func (e *env) postForm(t *testing.T, path string, f url.Values) page {
	t.Helper()
	res, err := e.http.PostForm(e.srv.URL+path, f)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return readPage(t, res)
}

func readPage(t *testing.T, res *http.Response) page {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	p := page{status: res.StatusCode, body: string(b)}
	if loc := res.Header.Get("Location"); loc != "" {
		p.location, err = url.Parse(loc)
		if err != nil {
			t.Fatalf("bad Location %q: %v", loc, err)
		}
	}
	return p
}

var (
	hiddenRe   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	selectedRe = regexp.MustCompile(`<option value="([^"]+)" selected>`)
)

// consentForm reads the form a browser would submit from a consent page: the hidden
// fields and the preselected account.
func consentForm(t *testing.T, p page) url.Values {
	t.Helper()
	if p.status != http.StatusOK {
		t.Fatalf("consent page status = %d, want 200; body: %s", p.status, p.body)
	}
	f := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	m := selectedRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("consent page has no preselected account: %s", p.body)
	}
	f.Set("selling_partner_id", html.UnescapeString(m[1]))
	return f
}

// consentQuery is an Authorize button's consent URL query.
func consentQuery(state, redirectURI string) url.Values {
	q := url.Values{"application_id": {appID}, "state": {state}}
	if redirectURI != "" {
		q.Set("redirect_uri", redirectURI)
	}
	return q
}

type tokenResult struct {
	status      int
	retryAfter  string
	contentType string
	raw         string
	Access      string `json:"access_token"`
	Refresh     string `json:"refresh_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (e *env) token(t *testing.T, f url.Values) tokenResult {
	t.Helper()
	if !f.Has("client_id") {
		f.Set("client_id", clientID)
	}
	if !f.Has("client_secret") {
		f.Set("client_secret", clientSecret)
	}
	res, err := e.http.PostForm(e.srv.URL+"/auth/o2/token", f)
	if err != nil {
		t.Fatalf("POST /auth/o2/token: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := tokenResult{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"),
		contentType: res.Header.Get("Content-Type"), raw: string(b)}
	if strings.HasPrefix(r.contentType, "application/json") {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("token answer is not JSON: %v: %s", err, b)
		}
	}
	return r
}

func exchange(code, redirectURI string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
}

func refresh(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
}

func (r tokenResult) wantOK(t *testing.T) tokenResult {
	t.Helper()
	if r.status != http.StatusOK || r.Access == "" {
		t.Fatalf("token answer = %d %s, want 200 with an access token", r.status, r.raw)
	}
	return r
}

func (r tokenResult) wantError(t *testing.T, status int, code string) tokenResult {
	t.Helper()
	if r.status != status || r.Error != code {
		t.Fatalf("token answer = %d %q (%s), want %d %q", r.status, r.Error, r.raw, status, code)
	}
	if r.Access != "" {
		t.Fatalf("error answer carries an access token")
	}
	return r
}
