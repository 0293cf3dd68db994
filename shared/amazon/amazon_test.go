package amazon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/amazon"
)

// answer is what a scripted server says to one request.
type answer struct {
	status int
	header map[string]string
	body   string
	hang   time.Duration // held this long (or until the client hangs up) before answering
}

// script serves answers in order, the last one to every later request, and counts
// the requests and what each carried.
type script struct {
	url      string
	requests atomic.Int32
	agent    atomic.Value
}

func serve(t *testing.T, answers ...answer) *script {
	t.Helper()
	s := &script{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.requests.Add(1))
		s.agent.Store(r.Header.Get("User-Agent"))
		a := answers[min(n, len(answers))-1]
		if a.hang > 0 {
			select {
			case <-time.After(a.hang):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// fast is a transport with tiny backoff, logging to logs.
func fast(logs io.Writer, defaults amazon.Config, mutate func(*amazon.Config)) *amazon.Transport {
	cfg := amazon.Config{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mutate != nil {
		mutate(&cfg)
	}
	return amazon.New(cfg, defaults)
}

func asError(t *testing.T, err error) *amazon.Error {
	t.Helper()
	var ae *amazon.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *amazon.Error", err, err)
	}
	return ae
}

// delays are the waits the transport logged before its retries.
func delays(t *testing.T, logs string) []time.Duration {
	t.Helper()
	var out []time.Duration
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Msg   string `json:"msg"`
			Delay *int64 `json:"delay"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line.Delay != nil && strings.Contains(line.Msg, "retrying") {
			out = append(out, time.Duration(*line.Delay))
		}
	}
	return out
}

const spErr = `{"errors":[{"code":"InvalidInput","message":"the input is wrong","details":"field x"}]}`

func TestRetriesAndKinds(t *testing.T) {
	t.Parallel()
	ok := answer{status: 200, body: `{"payload":{}}`}
	tests := []struct {
		name       string
		defaults   amazon.Config
		answers    []answer
		idempotent bool
		check      func([]byte) error
		wantKind   amazon.Kind // 0: success
		wantCode   string
		wantMsg    string
		wantSeen   int32
	}{
		{name: "429 twice, then success", defaults: amazon.SellingPartnerDefaults, idempotent: true,
			answers: []answer{{status: 429}, {status: 429}, ok}, wantSeen: 3},
		{name: "503 on every attempt", defaults: amazon.SellingPartnerDefaults, idempotent: true,
			answers: []answer{{status: 503}}, wantKind: amazon.KindUnavailable, wantCode: "http_503", wantSeen: 3},
		{name: "an answered 500 is retried even when not idempotent", defaults: amazon.SellingPartnerDefaults,
			answers: []answer{{status: 500}, ok}, wantSeen: 2},
		{name: "SP-API 400 envelope", defaults: amazon.SellingPartnerDefaults, idempotent: true,
			answers:  []answer{{status: 400, body: spErr}},
			wantKind: amazon.KindBadRequest, wantCode: "InvalidInput", wantMsg: "the input is wrong (field x)", wantSeen: 1},
		{name: "SP-API 403", defaults: amazon.SellingPartnerDefaults, idempotent: true,
			answers:  []answer{{status: 403, body: `{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied."}]}`}},
			wantKind: amazon.KindForbidden, wantCode: "Unauthorized", wantMsg: "Access to requested resource is denied.", wantSeen: 1},
		{name: "SP-API 401", defaults: amazon.SellingPartnerDefaults, idempotent: true,
			answers: []answer{{status: 401}}, wantKind: amazon.KindForbidden, wantCode: "http_401", wantSeen: 1},
		{name: "LWA bare 401", defaults: amazon.LWADefaults, idempotent: true,
			answers: []answer{{status: 401, body: "Unauthorized"}}, wantKind: amazon.KindClient, wantCode: "http_401", wantSeen: 1},
		{name: "LWA bare 403", defaults: amazon.LWADefaults, idempotent: true,
			answers: []answer{{status: 403}}, wantKind: amazon.KindBadRequest, wantCode: "http_403", wantSeen: 1},
		{name: "LWA invalid_grant", defaults: amazon.LWADefaults, idempotent: true,
			answers:  []answer{{status: 400, body: `{"error":"invalid_grant","error_description":"The request has an invalid grant parameter : refresh_token"}`}},
			wantKind: amazon.KindInvalidGrant, wantCode: "invalid_grant", wantMsg: "The request has an invalid grant parameter : refresh_token", wantSeen: 1},
		{name: "LWA invalid_client", defaults: amazon.LWADefaults, idempotent: true,
			answers:  []answer{{status: 401, body: `{"error":"invalid_client","error_description":"Client authentication failed"}`}},
			wantKind: amazon.KindClient, wantCode: "invalid_client", wantMsg: "Client authentication failed", wantSeen: 1},
		{name: "LWA temporarily_unavailable then success", defaults: amazon.LWADefaults,
			answers: []answer{{status: 503, body: `{"error":"temporarily_unavailable"}`}, ok}, wantSeen: 2},
		{name: "LWA server_error on a 400 is still retried", defaults: amazon.LWADefaults, idempotent: true,
			answers: []answer{{status: 400, body: `{"error":"server_error"}`}}, wantKind: amazon.KindUnavailable, wantCode: "server_error", wantSeen: 3},
		{name: "unreadable success, idempotent: asked again", defaults: amazon.LWADefaults, idempotent: true,
			answers: []answer{{status: 200, body: "<html>"}}, check: func([]byte) error { return errors.New("not the JSON") },
			wantKind: amazon.KindBadResponse, wantCode: "invalid_response", wantMsg: "not the JSON", wantSeen: 3},
		{name: "unreadable success, not idempotent: once", defaults: amazon.LWADefaults,
			answers: []answer{{status: 200, body: "<html>"}}, check: func([]byte) error { return errors.New("not the JSON") },
			wantKind: amazon.KindBadResponse, wantCode: "invalid_response", wantMsg: "not the JSON", wantSeen: 1},
		{name: "send once", defaults: amazon.SendOnceDefaults,
			answers: []answer{{status: 503}}, wantKind: amazon.KindUnavailable, wantCode: "http_503", wantSeen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, tt.answers...)
			tr := fast(io.Discard, tt.defaults, func(c *amazon.Config) {
				if tt.defaults.MaxAttempts == 1 {
					c.MaxAttempts = 0 // the defaults' one attempt
				}
			})
			res, err := tr.Do(context.Background(), amazon.Request{Op: "op", Method: http.MethodPost, URL: s.url,
				Idempotent: tt.idempotent, Check: tt.check})
			if got := s.requests.Load(); got != tt.wantSeen {
				t.Errorf("server saw %d requests, want %d", got, tt.wantSeen)
			}
			if tt.wantKind == 0 {
				if err != nil || res.Status != 200 || string(res.Body) != `{"payload":{}}` {
					t.Fatalf("Do = %+v, %v; want the 200 answer", res, err)
				}
				return
			}
			ae := asError(t, err)
			if ae.Kind != tt.wantKind || ae.Code != tt.wantCode || ae.Attempts != int(tt.wantSeen) || ae.Message != tt.wantMsg {
				t.Errorf("error = %+v, want %v, %s, %q after %d attempts", ae, tt.wantKind, tt.wantCode, tt.wantMsg, tt.wantSeen)
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ set, want string }{{"", amazon.UserAgent}, {"vendor-app/2.0 (Language=Go)", "vendor-app/2.0 (Language=Go)"}} {
		s := serve(t, answer{status: 204})
		tr := amazon.New(amazon.Config{UserAgent: tt.set}, amazon.SellingPartnerDefaults)
		if _, err := tr.Do(context.Background(), amazon.Request{Op: "op", Method: http.MethodGet, URL: s.url}); err != nil {
			t.Fatal(err)
		}
		if got := s.agent.Load(); got != tt.want {
			t.Errorf("User-Agent %q, want %q", got, tt.want)
		}
	}
}

// TestRetryAfter: the wait before a retry is what Amazon asked for (seconds or an
// HTTP date), or after a 429 the usage plan's interval, capped at MaxDelay.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		header       map[string]string
		maxDelay     time.Duration
		least, most  time.Duration // the logged wait and the elapsed time
		wantReported time.Duration // Error.RetryAfter with one attempt; -1: not checked
	}{
		{name: "seconds", status: 503, header: map[string]string{"Retry-After": "1"}, maxDelay: 3 * time.Second,
			least: time.Second, most: time.Second, wantReported: time.Second},
		{name: "seconds, capped", status: 429, header: map[string]string{"Retry-After": "30"}, maxDelay: 20 * time.Millisecond,
			least: 20 * time.Millisecond, most: 20 * time.Millisecond, wantReported: 30 * time.Second},
		{name: "HTTP date", status: 503, header: map[string]string{"Retry-After": "in 2s"}, // written when the subtest runs
			maxDelay: 5 * time.Second, least: 500 * time.Millisecond, most: 2 * time.Second, wantReported: -1},
		{name: "a date past", status: 503, header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
			maxDelay: 5 * time.Second, least: 0, most: time.Millisecond, wantReported: 0},
		{name: "429 names the usage plan", status: 429, header: map[string]string{"x-amzn-RateLimit-Limit": "2.0"},
			maxDelay: 5 * time.Second, least: 500 * time.Millisecond, most: 500 * time.Millisecond, wantReported: 500 * time.Millisecond},
		{name: "429 usage plan, capped", status: 429, header: map[string]string{"x-amzn-RateLimit-Limit": "0.0167"},
			maxDelay: 30 * time.Millisecond, least: 30 * time.Millisecond, most: 30 * time.Millisecond, wantReported: 59880239520},
		{name: "Retry-After wins over the usage plan", status: 429, header: map[string]string{"Retry-After": "1", "x-amzn-RateLimit-Limit": "100"},
			maxDelay: 3 * time.Second, least: time.Second, most: time.Second, wantReported: time.Second},
		{name: "a 503's usage plan is no wait", status: 503, header: map[string]string{"x-amzn-RateLimit-Limit": "0.0167"},
			maxDelay: 3 * time.Second, least: 0, most: time.Millisecond, wantReported: 0},
		{name: "garbage", status: 429, header: map[string]string{"Retry-After": "soon", "x-amzn-RateLimit-Limit": "NaN"},
			maxDelay: 3 * time.Second, least: 0, most: time.Millisecond, wantReported: 0},
		{name: "absurd", status: 429, header: map[string]string{"Retry-After": "99999999999999"},
			maxDelay: 10 * time.Millisecond, least: 10 * time.Millisecond, most: 10 * time.Millisecond, wantReported: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.header["Retry-After"] == "in 2s" {
				tt.header = map[string]string{"Retry-After": time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}
			}
			s := serve(t, answer{status: tt.status, header: tt.header}, answer{status: 200})
			logs := &testenv.Buffer{}
			tr := fast(logs, amazon.SellingPartnerDefaults, func(c *amazon.Config) { c.MaxDelay = tt.maxDelay })
			began := time.Now()
			if _, err := tr.Do(context.Background(), amazon.Request{Op: "op", Method: http.MethodGet, URL: s.url, Idempotent: true}); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(began)
			d := delays(t, logs.String())
			if len(d) != 1 || d[0] < tt.least || d[0] > tt.most {
				t.Fatalf("logged waits %v, want one in [%v, %v]", d, tt.least, tt.most)
			}
			if elapsed < d[0] {
				t.Errorf("retried after %v, before the %v wait", elapsed, d[0])
			}
			if tt.wantReported < 0 {
				return
			}
			s = serve(t, answer{status: tt.status, header: tt.header})
			_, err := fast(io.Discard, amazon.SendOnceDefaults, func(c *amazon.Config) { c.MaxAttempts = 1 }).
				Do(context.Background(), amazon.Request{Op: "op", Method: http.MethodGet, URL: s.url})
			if got := asError(t, err).RetryAfter; got != tt.wantReported {
				t.Errorf("Error.RetryAfter = %v, want %v", got, tt.wantReported)
			}
		})
	}
}

// TestRateLimitFromTheSimulator: SP-API's throttled answer names the operation's rate;
// the transport waits one request's worth of the usage plan, and the retry is served.
func TestRateLimitFromTheSimulator(t *testing.T) {
	t.Parallel()
	const seller = "A1TRANSPORTSELLER"
	sim := amazonsim.New(amazonsim.Config{AppID: "amzn1.sp.solution.transport", ClientID: "cid", ClientSecret: "csecret",
		Sellers: []amazonsim.Seller{{ID: seller, Name: "Transport GmbH", CountryCodes: []string{"DE"}}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	lwa := amazon.New(amazon.Config{}, amazon.LWADefaults)
	res, err := lwa.Do(context.Background(), amazon.Request{Op: "refresh_token", Method: http.MethodPost, URL: srv.URL + "/auth/o2/token",
		ContentType: "application/x-www-form-urlencoded",
		Body:        []byte("grant_type=refresh_token&client_id=cid&client_secret=csecret&refresh_token=" + sim.IssueRefreshToken(seller))})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(res.Body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer %s: %v", res.Body, err)
	}
	fees := amazon.Request{Op: "getMyFeesEstimateForASIN", Method: http.MethodPost, URL: srv.URL + "/products/fees/v0/items/B00V5DG6IQ/feesEstimate",
		ContentType: "application/json", AccessToken: tok.AccessToken, Idempotent: true,
		Body: []byte(`{"FeesEstimateRequest":{"MarketplaceId":"A1PA6795UKMFR9","IsAmazonFulfilled":false,"Identifier":"transport-test",` +
			`"PriceToEstimateFees":{"ListingPrice":{"CurrencyCode":"EUR","Amount":10},"Shipping":{"CurrencyCode":"EUR","Amount":0}}}}`)}

	// One attempt: the 429 says how long the usage plan needs (burst 2, 1 a second).
	once := fast(io.Discard, amazon.SellingPartnerDefaults, func(c *amazon.Config) { c.MaxAttempts = 1 })
	var throttled *amazon.Error
	for i := 0; i < 3 && throttled == nil; i++ {
		if _, err := once.Do(context.Background(), fees); err != nil {
			throttled = asError(t, err)
		}
	}
	if throttled == nil || throttled.Kind != amazon.KindThrottled || throttled.RetryAfter != time.Duration(float64(time.Second)/amazonsim.FeesRate) ||
		throttled.Code != "QuotaExceeded" || throttled.RequestID == "" {
		t.Fatalf("third call in a row: %+v, want QuotaExceeded naming a 1s wait and a request id", throttled)
	}

	// Retries allowed: the wait is the plan's, and the retry gets through.
	logs := &testenv.Buffer{}
	patient := fast(logs, amazon.SellingPartnerDefaults, func(c *amazon.Config) { c.MaxDelay = 3 * time.Second })
	if _, err := patient.Do(context.Background(), fees); err != nil {
		t.Fatalf("with the usage plan's wait: %v", err)
	}
	if d := delays(t, logs.String()); len(d) != 1 || d[0] != time.Second {
		t.Fatalf("logged waits %v, want one of 1s", d)
	}
}

// TestTimeoutPerAttempt: AttemptTimeout bounds each request, not the call: a call
// whose first two attempts hang still gets the third answer.
func TestTimeoutPerAttempt(t *testing.T) {
	t.Parallel()
	const attempt = 300 * time.Millisecond
	hang := answer{status: 200, hang: 10 * time.Second}
	tests := []struct {
		name       string
		answers    []answer
		idempotent bool
		wantErr    bool
		wantSeen   int32
		wantSent   bool
	}{
		{name: "two hang, the third answers", answers: []answer{hang, hang, {status: 200, body: "{}"}}, idempotent: true, wantSeen: 3},
		{name: "every attempt hangs", answers: []answer{hang}, idempotent: true, wantErr: true, wantSeen: 3, wantSent: true},
		{name: "not idempotent: no repeat once sent", answers: []answer{hang, {status: 200}}, wantErr: true, wantSeen: 1, wantSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, tt.answers...)
			tr := fast(io.Discard, amazon.LWADefaults, func(c *amazon.Config) { c.AttemptTimeout = attempt })
			began := time.Now()
			_, err := tr.Do(context.Background(), amazon.Request{Op: "op", Method: http.MethodPost, URL: s.url, Idempotent: tt.idempotent})
			elapsed := time.Since(began)
			if got := s.requests.Load(); got != tt.wantSeen {
				t.Errorf("server saw %d requests, want %d", got, tt.wantSeen)
			}
			if elapsed < time.Duration(min(tt.wantSeen, 2))*attempt {
				t.Errorf("call ended after %v, before its attempts could time out", elapsed)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Do: %v, want the third answer", err)
				}
				return
			}
			ae := asError(t, err)
			if ae.Kind != amazon.KindUnavailable || ae.Code != "timeout" || ae.Attempts != int(tt.wantSeen) || ae.Sent != tt.wantSent || ae.Status != 0 {
				t.Errorf("error = %+v, want a timeout after %d attempts, sent %v", ae, tt.wantSeen, tt.wantSent)
			}
		})
	}
}

// TestNotSentIsRetried: a request that never left may be repeated, even a code
// exchange: Amazon cannot have acted on it.
func TestNotSentIsRetried(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/auth/o2/token"
	ln.Close()
	_, err = fast(io.Discard, amazon.LWADefaults, nil).Do(context.Background(), amazon.Request{Op: "authorization_code", Method: http.MethodPost, URL: url})
	if ae := asError(t, err); ae.Kind != amazon.KindUnavailable || ae.Code != "network_error" || ae.Attempts != 3 || ae.Sent {
		t.Fatalf("error = %+v, want network_error after 3 attempts, not sent", ae)
	}
}

func TestContextEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answers  []answer
		deadline bool
		defaults amazon.Config
		wantCode string
		wantIs   error
	}{
		{name: "canceled while waiting to retry", answers: []answer{{status: 503, header: map[string]string{"Retry-After": "10"}}},
			defaults: amazon.LWADefaults, wantCode: "canceled", wantIs: context.Canceled},
		{name: "deadline during a slow answer", answers: []answer{{status: 200, hang: 10 * time.Second}}, deadline: true,
			defaults: amazon.LWADefaults, wantCode: "deadline_exceeded", wantIs: context.DeadlineExceeded},
		{name: "a deadline before the wait ends gives the real cause", answers: []answer{{status: 429, header: map[string]string{"Retry-After": "10"}}},
			deadline: true, defaults: amazon.SellingPartnerDefaults, wantCode: "http_429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, tt.answers...)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
			} else {
				time.AfterFunc(200*time.Millisecond, cancel)
			}
			defer cancel()
			tr := fast(io.Discard, tt.defaults, func(c *amazon.Config) { c.MaxDelay = 20 * time.Second })
			_, err := tr.Do(ctx, amazon.Request{Op: "op", Method: http.MethodGet, URL: s.url, Idempotent: true})
			ae := asError(t, err)
			if ae.Code != tt.wantCode || ae.Attempts != 1 || s.requests.Load() != 1 {
				t.Errorf("error = %+v after %d requests, want %s after 1", ae, s.requests.Load(), tt.wantCode)
			}
			if tt.wantIs != nil && (!errors.Is(err, tt.wantIs) || ae.Kind != amazon.KindUnavailable) {
				t.Errorf("error %v: want KindUnavailable matching %v", err, tt.wantIs)
			}
		})
	}
}

// TestNothingSecretShows: a hostile or buggy server that echoes the access token and
// every secret the request carried, in both envelopes, in codes, messages, details
// and the request id, never gets one into an error or a log line.
func TestNothingSecretShows(t *testing.T) {
	t.Parallel()
	const (
		token        = "Atza|IwEBIsecret-access-token-0123456789"
		clientSecret = "amzn1.oa2-cs.v1.secret-client-secret"
		refresh      = "Atzr|IwEBIsecret-refresh-token"
	)
	secrets := []string{token, clientSecret, refresh}
	echoAll := strings.Join(secrets, " ")
	spEcho, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": token, "message": "refused " + echoAll, "details": echoAll}}})
	lwaEcho, _ := json.Marshal(map[string]string{"error": clientSecret, "error_description": "refused " + echoAll})
	tests := []struct {
		name     string
		defaults amazon.Config
		a        answer
		check    func([]byte) error
	}{
		{"SP-API envelope, 503 retried", amazon.SellingPartnerDefaults, answer{status: 503, body: string(spEcho), header: map[string]string{"x-amzn-RequestId": token}}, nil},
		{"SP-API envelope, 403", amazon.SellingPartnerDefaults, answer{status: 403, body: string(spEcho)}, nil},
		{"LWA envelope, 503 retried", amazon.LWADefaults, answer{status: 503, body: string(lwaEcho)}, nil},
		{"LWA envelope, 400", amazon.LWADefaults, answer{status: 400, body: string(lwaEcho)}, nil},
		{"a check that quotes a secret", amazon.LWADefaults, answer{status: 200, body: "{}"}, func([]byte) error { return errors.New("bad " + refresh) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, tt.a)
			logs := &testenv.Buffer{}
			_, err := fast(logs, tt.defaults, nil).Do(context.Background(), amazon.Request{Op: "op", Method: http.MethodPost, URL: s.url,
				AccessToken: token, Secrets: []string{clientSecret, refresh}, Idempotent: true, Check: tt.check})
			ae := asError(t, err)
			if !strings.Contains(ae.Message, "[redacted]") {
				t.Errorf("the echo was not masked: %q", ae.Message)
			}
			shown := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, ae), logs.String()}
			for _, sec := range secrets {
				for _, text := range shown {
					if strings.Contains(text, sec) {
						t.Errorf("a secret shows in: %s", text)
					}
				}
			}
		})
	}
}
