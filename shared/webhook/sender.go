package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// Schedule is the delay before each retry, after the first attempt: Standard
// Webhooks' example schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), 27.6 hours in
// all. The queue's maxReceiveCount (8: the first attempt and these 7) ends it in the
// DLQ; its retention (4 days) outlasts it.
var Schedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// maxVisibility is SQS's limit of a message's visibility timeout (12 hours).
const maxVisibility = 12 * time.Hour

// Timeout bounds one delivery attempt; a slow endpoint is retried later.
const Timeout = 10 * time.Second

// Delayer holds a received message back from its next receive for d: the queue
// itself keeps the message until its retry is due (queue.Delayer, on SQS's
// visibility timeout).
type Delayer interface {
	Delay(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Endpoints records endpoints disabled by a 410 (the store).
type Endpoints interface {
	EndpointDisabled(ctx context.Context, endpointID string) (store.DisabledEndpoint, bool, error)
	DisableEndpoint(ctx context.Context, d store.DisabledEndpoint) error
}

// KeySource returns the stack's webhook key (from Secrets Manager, cached).
type KeySource func(ctx context.Context) (secret.Value, error)

// Outcome is how one delivery attempt ended.
type Outcome string

const (
	Delivered Outcome = "delivered" // 2xx
	Rejected  Outcome = "rejected"  // 4xx other than 408/429 (and 3xx): not retried
	Disabled  Outcome = "disabled"  // 410, or the endpoint was disabled before
	Retry     Outcome = "retry"     // 408, 429, 5xx, timeout, network or TLS error
)

// Result is one attempt's outcome.
type Result struct {
	Outcome    Outcome
	Status     int
	RetryAfter time.Duration // from a 429's or 503's Retry-After
	Reason     string        // metric reason of a failure: status, timeout, network, tls
	Err        error
}

// ReasonUnknownEndpoint is the WebhookRejected reason of a message whose endpoint is
// not one of the configured ones: nothing is sent.
const ReasonUnknownEndpoint = "unknown_endpoint"

// Sender delivers queued messages.
type Sender struct {
	http      *http.Client
	allowed   map[string]bool // the configured endpoints' URLs: the only ones a message may name
	key       KeySource
	endpoints Endpoints
	delayer   Delayer
	now       func() time.Time
	timeout   time.Duration
	log       *slog.Logger
	metrics   *metrics.Emitter
}

// New returns a sender that delivers only to configured: the endpoints of
// WEBHOOK_URL, as the publisher reads them. A queue message is untrusted input (anyone
// who may send to the queue writes one), so a message that names any other URL is
// dropped unsent: the sender must not sign and post for whoever wrote it. client nil:
// an HTTP client with Timeout that follows no redirect (Standard Webhooks counts a
// redirect as a failure, and following one would let an endpoint send the signed
// payload elsewhere). delayer sets each retry's delay on its message; nil leaves a
// failed message to the queue's own visibility timeout (one-off sends).
func New(client *http.Client, key KeySource, configured []Endpoint, endpoints Endpoints, delayer Delayer, log *slog.Logger, m *metrics.Emitter) *Sender {
	if client == nil {
		client = &http.Client{Timeout: Timeout}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	allowed := make(map[string]bool, len(configured))
	for _, e := range configured {
		allowed[e.URL] = true
	}
	return &Sender{http: &c, allowed: allowed, key: key, endpoints: endpoints, delayer: delayer, now: time.Now, timeout: Timeout, log: log, metrics: m}
}

// WithClock sets the time source (tests).
func (s *Sender) WithClock(now func() time.Time) *Sender { s.now = now; return s }

// WithTimeout sets the time one attempt may take (tests).
func (s *Sender) WithTimeout(d time.Duration) *Sender { s.timeout = d; return s }

// CachedKey reads the webhook key once per execution environment through get.
func CachedKey(get func(ctx context.Context) (secret.Value, error)) KeySource {
	var mu sync.Mutex
	var key secret.Value
	return func(ctx context.Context) (secret.Value, error) {
		mu.Lock()
		defer mu.Unlock()
		if key.IsZero() {
			k, err := get(ctx)
			if err != nil {
				return "", err
			}
			key = k
		}
		return key, nil
	}
}

// Send makes one attempt to deliver m, signed now. An endpoint that is not configured
// is Rejected (ReasonUnknownEndpoint) before anything is signed or sent.
func (s *Sender) Send(ctx context.Context, m Message) Result {
	if !s.allowed[m.EndpointURL] || m.EndpointID != EndpointID(m.EndpointURL) {
		return Result{Outcome: Rejected, Reason: ReasonUnknownEndpoint,
			Err: fmt.Errorf("%q is not a configured webhook endpoint (WEBHOOK_URL): nothing sent", bounded(m.EndpointURL, 200))}
	}
	if d, off, err := s.endpoints.EndpointDisabled(ctx, m.EndpointID); err != nil {
		return Result{Outcome: Retry, Reason: "ledger", Err: err}
	} else if off {
		return Result{Outcome: Disabled, Reason: "disabled", Err: fmt.Errorf("endpoint %s disabled since %s: %s", d.URL, d.At.Format(time.RFC3339), d.Reason)}
	}
	key, err := s.key(ctx)
	if err != nil {
		return Result{Outcome: Retry, Reason: "key", Err: fmt.Errorf("read webhook key: %w", err)}
	}
	now := s.now()
	sig, err := Sign(SigningSecret(key, m.EndpointURL), m.EventID, now, m.Body)
	if err != nil {
		return Result{Outcome: Retry, Reason: "key", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.EndpointURL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Outcome: Rejected, Reason: "config", Err: fmt.Errorf("webhook request to %s: %w", m.EndpointURL, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spapi-keeper-webhooks/1")
	req.Header.Set("webhook-id", m.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.http.Do(req)
	if err != nil {
		return classifyError(m.EndpointURL, err, s.timeout)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := Result{Status: resp.StatusCode, Reason: strconv.Itoa(resp.StatusCode)}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		r.Outcome = Delivered
	case code == http.StatusGone:
		r.Outcome = Disabled
		r.Err = fmt.Errorf("%s answered 410 Gone: endpoint disabled", m.EndpointURL)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		r.Outcome = Retry
		r.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
		r.Err = fmt.Errorf("%s answered %d", m.EndpointURL, code)
	default:
		r.Outcome = Rejected
		r.Err = fmt.Errorf("%s answered %d: not retried", m.EndpointURL, code)
	}
	return r
}

// bounded cuts an untrusted string for a log line.
func bounded(v string, n int) string {
	if r := []rune(v); len(r) > n {
		return string(r[:n]) + "…"
	}
	return v
}

// classifyError tells a TLS configuration error (a certificate the sender does not
// trust, a host name it does not cover) from a timeout or a network error. All are
// retried: a receiver may fix its certificate within the 24 hours; the TLS reason has
// its own alarm, so a wrong endpoint is seen at the first send.
func classifyError(u string, err error, timeout time.Duration) Result {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var recordHeader tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify), errors.As(err, &recordHeader):
		return Result{Outcome: Retry, Reason: "tls", Err: fmt.Errorf("configuration error: TLS with %s failed (%v): the endpoint needs a certificate from a public CA for its host name", u, err)}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return Result{Outcome: Retry, Reason: "timeout", Err: fmt.Errorf("%s did not answer within %s", u, timeout)}
	}
	return Result{Outcome: Retry, Reason: "network", Err: fmt.Errorf("post to %s: %w", u, err)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// NextDelay is how long the message waits before its next attempt, after attempt
// number receiveCount (1 for the first) failed: the schedule's delay, or longer when
// the endpoint asked for it with Retry-After, at most SQS's 12 hours.
func NextDelay(receiveCount int, retryAfter time.Duration) time.Duration {
	i := min(max(receiveCount, 1), len(Schedule)) - 1
	return min(max(Schedule[i], retryAfter), maxVisibility)
}

// Handle delivers an SQS batch and reports the messages to retry. A retried message
// gets the visibility timeout of its next delay, so SQS itself holds it until then.
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return queue.Handle(ctx, ev, s.handleOne), nil
}

func (s *Sender) handleOne(ctx context.Context, sm events.SQSMessage) error {
	m, err := ParseMessage(sm.Body)
	if err != nil {
		s.metrics.Count(metrics.WebhookFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: "malformed"})
		s.log.ErrorContext(ctx, "malformed webhook message dropped", "error", err, "messageId", sm.MessageId)
		return nil
	}
	log := s.log.With("eventId", m.EventID, "endpointId", m.EndpointID, "detailType", m.DetailType)
	r := s.Send(ctx, m)
	switch r.Outcome {
	case Delivered:
		s.metrics.Count(metrics.WebhookDelivered, 1)
		log.InfoContext(ctx, "webhook delivered", "status", r.Status)
		return nil
	case Rejected:
		s.metrics.Count(metrics.WebhookRejected, 1, metrics.Dim{Name: metrics.DimReason, Value: r.Reason})
		if r.Reason == ReasonUnknownEndpoint {
			// An endpoint removed from WEBHOOK_URL with messages still queued for it, or
			// a message someone else put on the queue.
			log.ErrorContext(ctx, "webhook message names an endpoint that is not configured: dropped, nothing sent", "error", r.Err, "messageId", sm.MessageId)
			return nil
		}
		log.WarnContext(ctx, "webhook rejected by the endpoint; not retried", "error", r.Err)
		return nil
	case Disabled:
		if r.Status == http.StatusGone {
			if err := s.endpoints.DisableEndpoint(ctx, store.DisabledEndpoint{EndpointID: m.EndpointID, URL: m.EndpointURL,
				Reason: "answered 410 Gone", At: s.now()}); err != nil {
				log.ErrorContext(ctx, "record disabled webhook endpoint", "error", err)
				return err
			}
			s.metrics.Count(metrics.WebhookEndpointDisabled, 1)
			log.ErrorContext(ctx, "webhook endpoint answered 410 Gone: disabled", "url", m.EndpointURL)
		} else {
			s.metrics.Count(metrics.WebhookRejected, 1, metrics.Dim{Name: metrics.DimReason, Value: "disabled"})
			log.InfoContext(ctx, "webhook endpoint disabled: message dropped", "error", r.Err)
		}
		return nil
	}
	receives, _ := strconv.Atoi(sm.Attributes["ApproximateReceiveCount"])
	delay := NextDelay(receives, r.RetryAfter)
	s.metrics.Count(metrics.WebhookFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: r.Reason})
	if r.Reason == "tls" {
		log.ErrorContext(ctx, "webhook endpoint misconfigured", "error", r.Err, "attempt", receives, "nextIn", delay.String())
	} else {
		log.WarnContext(ctx, "webhook attempt failed; retrying", "error", r.Err, "attempt", receives, "nextIn", delay.String())
	}
	if s.delayer != nil && sm.ReceiptHandle != "" {
		if err := s.delayer.Delay(ctx, sm.ReceiptHandle, delay); err != nil {
			log.WarnContext(ctx, "set the retry delay", "error", err)
		}
	}
	return r.Err
}
