// Package amazon is the one HTTP transport under every Amazon API the keeper calls:
// Login with Amazon's token endpoint and the Selling Partner APIs (Sellers, Product
// Fees, Application Management, App Integrations). It sends a request with a timeout
// per attempt and the keeper's User-Agent, retries what is worth retrying with capped
// exponential backoff and full jitter, honours Retry-After and, after a 429, the
// usage plan named in x-amzn-RateLimit-Limit, and reads Amazon's two error envelopes
// (SP-API's {"errors":[...]} and LWA's {error, error_description}) into one Error of
// a few kinds. No token, code or secret the request carries ever appears in an error
// or a log line. The API clients above it only build requests and read answers.
package amazon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// UserAgent names the keeper, as SP-API asks every application to do.
const UserAgent = "spapi-auth-keeper/1.0 (Language=Go)"

// Config configures a Transport. Zero fields take the defaults given to New.
type Config struct {
	API            string       // names the API in errors and log lines: "lwa", "sp-api"
	Envelope       Envelope     // how error answers are read
	HTTPClient     *http.Client // default: a client whose timeout is AttemptTimeout
	MaxAttempts    int          // requests per call, first included
	BaseDelay      time.Duration
	MaxDelay       time.Duration // cap of the backoff and of a Retry-After
	AttemptTimeout time.Duration // each request's own deadline
	// ReturnBeforeDeadline: when the caller's deadline would pass during the wait
	// before a retry, the last failure is returned at once, with its real cause,
	// instead of waiting for the deadline to end the call.
	ReturnBeforeDeadline bool
	UserAgent            string       // default UserAgent
	Logger               *slog.Logger // retries are logged here; default slog.Default()
}

// Defaults of each API. The Selling Partner API's usage plans are small (Sellers:
// 0.016 a second, burst 15), so its calls give up sooner than LWA's.
var (
	LWADefaults = Config{API: "lwa", Envelope: LWAEnvelope, MaxAttempts: 4,
		BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second, AttemptTimeout: 10 * time.Second}
	SellingPartnerDefaults = Config{API: "sp-api", Envelope: SellingPartnerEnvelope, MaxAttempts: 3,
		BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, AttemptTimeout: 3 * time.Second, ReturnBeforeDeadline: true}
	// SendOnceDefaults are for an SP-API operation the transport must not repeat (its
	// client keeps the usage plan or retries on its own terms).
	SendOnceDefaults = Config{API: "sp-api", Envelope: SellingPartnerEnvelope, MaxAttempts: 1,
		BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, AttemptTimeout: 10 * time.Second}
)

// Transport sends requests to one Amazon API. It is safe for concurrent use.
type Transport struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger
}

// New builds a Transport from cfg; its zero fields take defaults'.
func New(cfg, defaults Config) *Transport {
	if cfg.API == "" {
		cfg.API = defaults.API
	}
	if cfg.Envelope == 0 {
		cfg.Envelope = defaults.Envelope
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaults.HTTPClient
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = max(defaults.MaxAttempts, 1)
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = max(defaults.BaseDelay, time.Millisecond)
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = defaults.MaxDelay
	}
	cfg.MaxDelay = max(cfg.MaxDelay, cfg.BaseDelay)
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = defaults.AttemptTimeout
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 10 * time.Second
	}
	cfg.ReturnBeforeDeadline = cfg.ReturnBeforeDeadline || defaults.ReturnBeforeDeadline
	if cfg.UserAgent == "" {
		cfg.UserAgent = defaults.UserAgent
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = UserAgent
	}
	if cfg.Logger == nil {
		cfg.Logger = defaults.Logger
	}
	t := &Transport{cfg: cfg, http: cfg.HTTPClient, log: cfg.Logger}
	if t.http == nil {
		t.http = &http.Client{Timeout: cfg.AttemptTimeout}
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	return t
}

// Logger is where the transport logs, for its client's own lines.
func (t *Transport) Logger() *slog.Logger { return t.log }

// Request is one operation.
type Request struct {
	Op          string // the operation or grant, in errors and log lines
	Method      string
	URL         string
	Body        []byte
	ContentType string
	// AccessToken goes in x-amz-access-token (SP-API's LWA access token).
	AccessToken string
	// Secrets are the other values the request carries (a code, a refresh token, a
	// client secret): an answer that echoes one has it masked.
	Secrets []string
	// Idempotent: the request may be sent again after Amazon may already have acted
	// on it (a timeout or a dropped connection once it left, an unreadable answer).
	// A request that never left and a 429 or 5xx answer are retried regardless.
	Idempotent bool
	// Check, if set, vets a 2xx answer; its error (whose text must quote nothing of
	// the answer) fails the attempt as KindBadResponse, retried when Idempotent.
	Check func(body []byte) error
}

// Response is a 2xx answer.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	RequestID string // x-amzn-RequestId, cleaned
}

// maxAnswer bounds how much of an answer is read; Amazon's are a few KiB.
const maxAnswer = 1 << 20

// Do sends r, retrying throttling, server errors and transport failures while the
// attempts, r.Idempotent and the caller's context allow. Every error it returns is
// an *Error.
func (t *Transport) Do(ctx context.Context, r Request) (*Response, error) {
	for attempt := 1; ; attempt++ {
		res, e, retry := t.attempt(ctx, r)
		if e == nil {
			return res, nil
		}
		e.Attempts = attempt
		// A caller who stopped waiting gets that, unless Amazon's answer settled it.
		if ctx.Err() != nil && (retry || e.Status == 0 || e.Kind == KindThrottled || e.Kind == KindUnavailable) {
			return nil, ended(ctx, e)
		}
		if !retry || attempt >= t.cfg.MaxAttempts {
			return nil, e
		}
		delay := t.backoff(attempt, e.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && t.cfg.ReturnBeforeDeadline && time.Until(dl) < delay {
			return nil, e
		}
		t.log.WarnContext(ctx, t.cfg.API+" call failed, retrying", "operation", r.Op, "attempt", attempt,
			"status", e.Status, "code", e.Code, "description", e.Message, "delay", delay)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ended(ctx, e)
		}
	}
}

// ended is the error of a call whose context ended: KindUnavailable (Amazon did not
// answer within the time the caller gave it), wrapping the context's error.
func ended(ctx context.Context, last *Error) *Error {
	code := "canceled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = "deadline_exceeded"
	}
	return &Error{API: last.API, Op: last.Op, Kind: KindUnavailable, Code: code, Status: last.Status,
		Attempts: last.Attempts, Sent: last.Sent, RequestID: last.RequestID,
		Message: "the caller stopped waiting; last failure: " + last.Code, Cause: ctx.Err()}
}

// backoff is the wait before attempt+1: Amazon's Retry-After (or usage plan interval)
// when it gave one, otherwise a random duration in [0, min(MaxDelay,
// BaseDelay·2^(attempt-1))] ("full jitter", as the AWS Architecture Blog's
// "Exponential Backoff And Jitter" recommends), so many workers throttled together
// do not come back together. Both are capped at MaxDelay.
func (t *Transport) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, t.cfg.MaxDelay)
	}
	ceiling := t.cfg.MaxDelay
	if d := t.cfg.BaseDelay << min(attempt-1, 32); d > 0 && d < ceiling {
		ceiling = d
	}
	return rand.N(ceiling + 1)
}

// attempt sends r once. retry says whether the failure is worth another attempt.
func (t *Transport) attempt(ctx context.Context, r Request) (*Response, *Error, bool) {
	secrets := append([]string{r.AccessToken}, r.Secrets...)
	fail := func(e *Error) *Error { e.API, e.Op = t.cfg.API, r.Op; return e }

	actx, cancel := context.WithTimeout(ctx, t.cfg.AttemptTimeout)
	defer cancel()
	// Whether the request left in full decides if a request that is not idempotent
	// may be repeated, and whether Amazon may have acted on it.
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
	})
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, body)
	if err != nil {
		return nil, fail(&Error{Kind: KindBadRequest, Code: "invalid_endpoint",
			Message: "the " + t.cfg.API + " endpoint is not a valid URL"}), false
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.AccessToken != "" {
		req.Header.Set("x-amz-access-token", r.AccessToken)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", t.cfg.UserAgent)

	res, err := t.http.Do(req)
	if err != nil {
		e := fail(transportError(err, secrets))
		e.Sent = wrote.Load()
		return nil, e, r.Idempotent || !e.Sent
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	id := clean(res.Header.Get("x-amzn-RequestId"), 64, secrets)
	if err != nil {
		e := fail(transportError(err, secrets))
		e.Status, e.RequestID, e.Sent = res.StatusCode, id, true
		return nil, e, r.Idempotent
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if r.Check != nil {
			if err := r.Check(raw); err != nil {
				return nil, fail(&Error{Kind: KindBadResponse, Code: "invalid_response", Status: res.StatusCode,
					RequestID: id, Sent: true, Message: clean(err.Error(), maxText, secrets)}), r.Idempotent
			}
		}
		return &Response{Status: res.StatusCode, Header: res.Header, Body: raw, RequestID: id}, nil, true
	}
	e := fail(t.cfg.Envelope.classify(res.StatusCode, raw, secrets))
	e.RequestID, e.Sent = id, true
	e.RetryAfter = retryAfter(res.Header)
	if e.RetryAfter == 0 && res.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = rateInterval(res.Header)
	}
	return nil, e, e.Kind == KindThrottled || e.Kind == KindUnavailable
}
