package amazon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Kind is what a failure means for the caller. Each API client maps the kinds onto
// its own error kinds, the ones the rest of the code branches on.
type Kind int

const (
	// KindUnavailable: 5xx, server_error, temporarily_unavailable, a timeout or a
	// network error, or the caller's context ended. Trying later may succeed.
	KindUnavailable Kind = iota + 1
	// KindThrottled: 429, over the operation's usage plan.
	KindThrottled
	// KindForbidden: SP-API's 401 or 403: the access token was refused, or the app
	// lacks the operation's role.
	KindForbidden
	// KindClient: LWA refused the client credentials (invalid_client,
	// unauthorized_client, or a bare 401).
	KindClient
	// KindInvalidGrant: LWA refused the code or refresh token.
	KindInvalidGrant
	// KindBadRequest: another 4xx (invalid_request, unsupported_grant_type,
	// invalid_scope, 400, 404, ...), or a request that could not be built.
	KindBadRequest
	// KindBadResponse: a 2xx answer the request's Check refused.
	KindBadResponse
)

func (k Kind) String() string {
	switch k {
	case KindUnavailable:
		return "unavailable"
	case KindThrottled:
		return "throttled"
	case KindForbidden:
		return "forbidden"
	case KindClient:
		return "client"
	case KindInvalidGrant:
		return "invalid_grant"
	case KindBadRequest:
		return "bad_request"
	case KindBadResponse:
		return "bad_response"
	}
	return "kind_" + strconv.Itoa(int(k))
}

// Error is a failed call. Its text never holds a token, a code or a secret: every
// value the request carried is masked from what Amazon's answer echoes, and
// Amazon's text is bounded and stripped of control characters, so it may be logged.
type Error struct {
	API        string
	Op         string
	Kind       Kind
	Status     int    // HTTP status of the last answer; 0 if none came
	Code       string // Amazon's error code, or http_<status>, timeout, network_error, invalid_response, canceled, ...
	Message    string // Amazon's message (and details), masked and bounded
	RequestID  string // x-amzn-RequestId, for Amazon's support
	Attempts   int
	Sent       bool          // the last request left in full: Amazon may have acted on it
	RetryAfter time.Duration // Amazon's Retry-After, or after a 429 the usage plan's interval
	Cause      error         // the transport's or the context's error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.API, e.Op, e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [request id " + e.RequestID + "]")
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

// Unwrap matches the cause (context.Canceled, context.DeadlineExceeded, a net error).
func (e *Error) Unwrap() error { return e.Cause }

// Envelope says how an API words its error answers.
type Envelope int

const (
	// SellingPartnerEnvelope: {"errors":[{"code","message","details"}]}; the HTTP
	// status decides the kind.
	SellingPartnerEnvelope Envelope = iota + 1
	// LWAEnvelope: {"error","error_description"} (RFC 6749 section 5.2); the error
	// code decides the kind when it is one of OAuth's, the HTTP status otherwise.
	LWAEnvelope
)

// Bounds of what an answer can put into an error string and a log line.
const (
	maxCode = 64
	maxText = 300
)

// classify reads an error answer. A 429 or a proxy's 502 may carry no JSON at all:
// the status then decides alone.
func (env Envelope) classify(status int, raw []byte, secrets []string) *Error {
	e := &Error{Status: status}
	var code string
	switch env {
	case LWAEnvelope:
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(raw, &body)
		code = body.Error
		e.Code, e.Message = clean(body.Error, maxCode, secrets), clean(body.Description, maxText, secrets)
	default:
		var body struct {
			Errors []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Details string `json:"details"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(raw, &body)
		if len(body.Errors) > 0 {
			first := body.Errors[0]
			e.Code, e.Message = clean(first.Code, maxCode, secrets), clean(first.Message, maxText, secrets)
			if d := clean(first.Details, maxText, secrets); d != "" {
				e.Message = strings.TrimSpace(e.Message + " (" + d + ")")
			}
		}
	}
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(status)
	}
	if env == LWAEnvelope {
		switch code {
		case "invalid_grant":
			e.Kind = KindInvalidGrant
			return e
		case "invalid_client", "unauthorized_client":
			e.Kind = KindClient
			return e
		case "invalid_request", "unsupported_grant_type", "invalid_scope":
			e.Kind = KindBadRequest
			return e
		case "server_error", "temporarily_unavailable":
			e.Kind = KindUnavailable
			return e
		}
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = KindThrottled
	case status >= 500:
		e.Kind = KindUnavailable
	case status == http.StatusUnauthorized && env == LWAEnvelope:
		e.Kind = KindClient
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && env != LWAEnvelope:
		e.Kind = KindForbidden
	default:
		e.Kind = KindBadRequest
	}
	return e
}

// transportError is a request that got no (whole) answer: KindUnavailable, with the
// transport's error as its cause.
func transportError(err error, secrets []string) *Error {
	e := &Error{Kind: KindUnavailable, Code: "network_error", Cause: transportCause(err, secrets)}
	if isTimeout(err) {
		e.Code = "timeout"
	}
	return e
}

// transportCause drops the *url.Error wrapper, whose text repeats the URL, and masks
// any secret should anything below quote one.
func transportCause(err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if text := err.Error(); masked(text, secrets) != text {
		return errors.New(masked(text, secrets))
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

func masked(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, secret.Redacted)
		}
	}
	return s
}

// clean masks every secret an answer echoes, drops control characters and bounds the
// length, so Amazon's text can go into an error and a log line.
func clean(s string, n int, secrets []string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, masked(s, secrets))
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return strings.TrimSpace(s)
}

// Clean is clean for a client's own reading of an answer (a store name): masked,
// printable and at most n runes.
func Clean(s string, n int, secrets ...string) string { return clean(s, n, secrets) }

// retryAfter reads Retry-After (RFC 9110 section 10.2.3): seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(min(max(secs, 0), maxWaitSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// rateInterval is the time one request of the operation's usage plan takes to come
// back, from the x-amzn-RateLimit-Limit header (requests per second) SP-API sends:
// after a 429 without Retry-After, retrying sooner is refused again. 0 if absent.
func rateInterval(h http.Header) time.Duration {
	rate, err := strconv.ParseFloat(strings.TrimSpace(h.Get("x-amzn-RateLimit-Limit")), 64)
	if err != nil || !(rate > 0) {
		return 0
	}
	return time.Duration(min(1/rate, maxWaitSeconds) * float64(time.Second))
}

// maxWaitSeconds bounds what an answer can ask for before the MaxDelay cap applies,
// so that no header overflows a time.Duration.
const maxWaitSeconds = 24 * 60 * 60
