package sesmail_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
)

// sesAnswer is one recorded SES v2 (REST-JSON) error answer: status, the
// x-amzn-ErrorType header AWS sets, and the body.
type sesAnswer struct {
	status    int
	errorType string
	body      string
}

// recordedSESErrors are the error answers of SES v2 SendEmail, in AWS's wire form
// (status, x-amzn-ErrorType with its namespace suffix, {"message"} body), plus the form
// aws-ses-v2-local uses (a "type" field in the body and no header).
var recordedSESErrors = map[string]sesAnswer{
	"rate exceeded": {429, "TooManyRequestsException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
		`{"message":"Maximum sending rate exceeded."}`},
	"daily quota": {400, "LimitExceededException:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"Daily message quota exceeded."}`},
	"recipient not verified (sandbox)": {400, "MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: seller@example.com"}`},
	"suppressed address": {400, "MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"Address blacklisted."}`},
	"configuration set missing": {404, "NotFoundException:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"Configuration set <keeper-reminders> does not exist."}`},
	"mail-from domain": {400, "MailFromDomainNotVerifiedException:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"The message can't be sent because the sending domain isn't verified."}`},
	"bad request": {400, "BadRequestException:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"Missing final '@domain'"}`},
	"code in body only": {400, "", `{"__type":"com.amazonaws.sesv2#MessageRejected","message":"Email address is on the suppression list."}`},
	"sending paused": {400, "SendingPausedException:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"Sending is paused for this account."}`},
	"account suspended": {400, "AccountSuspendedException:http://internal.amazon.com/coral/com.amazonaws.sesv2/",
		`{"message":"The message can't be sent because the account has been suspended."}`},
	"internal failure": {500, "InternalFailure", `{"message":"An internal error occurred."}`},
	"access denied": {403, "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
		`{"Message":"User: arn:aws:sts::123456789012:assumed-role/keeper/ReminderFunction is not authorized to perform: ses:SendEmail"}`},
	"emulator not found":   {404, "", `{"type":"NotFoundException","message":"The resource you attempted to access doesn't exist."}`},
	"emulator bad request": {400, "", `{"message":"Bad Request Exception","detail":"aws-ses-v2-local: Schema validation failed"}`},
	"emulator throttled":   {429, "", `{"type":"TooManyRequestsException","message":"Too Many Requests"}`},
}

func TestClassifyWithRecordedAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		answer string
		want   error
		reason string
	}{
		{"rate exceeded", reminder.ErrThrottled, "throttled"},
		{"daily quota", reminder.ErrThrottled, "throttled"},
		{"emulator throttled", reminder.ErrThrottled, "throttled"},
		{"recipient not verified (sandbox)", reminder.ErrRejected, "rejected"},
		{"suppressed address", reminder.ErrRejected, "rejected"},
		{"configuration set missing", reminder.ErrRejected, "rejected"},
		{"mail-from domain", reminder.ErrRejected, "rejected"},
		{"bad request", reminder.ErrRejected, "rejected"},
		{"code in body only", reminder.ErrRejected, "rejected"},
		{"emulator not found", reminder.ErrRejected, "rejected"},
		{"emulator bad request", reminder.ErrRejected, "rejected"},
		{"sending paused", reminder.ErrPaused, "paused"},
		{"account suspended", reminder.ErrPaused, "paused"},
		{"internal failure", reminder.ErrUnavailable, "unavailable"},
		{"access denied", reminder.ErrUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.answer, func(t *testing.T) {
			t.Parallel()
			a, ok := recordedSESErrors[tt.answer]
			if !ok {
				t.Fatalf("no recorded answer %q", tt.answer)
			}
			_, err := sendThrough(t, a)
			if err == nil {
				t.Fatal("SendEmail succeeded against an error answer")
			}
			got := sesmail.Classify(err)
			if !errors.Is(got, tt.want) {
				t.Fatalf("Classify(%v) = %v, want kind %v", err, got, tt.want)
			}
			if r := reminder.Reason(got); r != tt.reason {
				t.Errorf("Reason = %q, want %q", r, tt.reason)
			}
			for _, other := range []error{reminder.ErrThrottled, reminder.ErrRejected, reminder.ErrPaused, reminder.ErrUnavailable} {
				if other != tt.want && errors.Is(got, other) {
					t.Errorf("classified as %v as well as %v", other, tt.want)
				}
			}
		})
	}
}

func TestClassifyNetworkAndContext(t *testing.T) {
	t.Parallel()
	if got := sesmail.Classify(nil); got != nil {
		t.Fatalf("Classify(nil) = %v", got)
	}
	// A server that is gone: the SDK's request fails before any answer.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := sesClient(url).SendEmail(context.Background(), sampleInput())
	if got := sesmail.Classify(err); !errors.Is(got, reminder.ErrUnavailable) {
		t.Errorf("connection refused: %v, want unavailable", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = sesClient("http://127.0.0.1:9").SendEmail(ctx, sampleInput())
	if got := sesmail.Classify(err); !errors.Is(got, reminder.ErrUnavailable) {
		t.Errorf("cancelled: %v, want unavailable", got)
	}
}

// sendThrough sends one email with the production SES v2 client to a server that
// answers a, and counts the attempts the SDK made.
func sendThrough(t *testing.T, a sesAnswer) (attempts int, err error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts++
		if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
			t.Errorf("SDK called %s %s", r.Method, r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-RequestId", "4f6d2a1c-6a3e-4bbf-9a43-3b1f0b6a8d2e")
		if a.errorType != "" {
			w.Header().Set("x-amzn-ErrorType", a.errorType)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	_, err = sesClient(srv.URL).SendEmail(context.Background(), sampleInput())
	return attempts, err
}

// sesClient is the production SES v2 client with the SDK's standard retryer (its
// attempts and retryable codes) but millisecond backoff.
func sesClient(url string) *sesv2.Client {
	return sesv2.NewFromConfig(testenv.Config(), func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter = ratelimit.None
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
}

func sampleInput() *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("reminders@keeper.example.com"),
		Destination:      &types.Destination{ToAddresses: []string{"seller@example.com"}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("s")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String("b")}},
		}},
	}
}

// The message SES gives is kept for the record and the log: it says which address or
// limit, and the classification never loses it.
func TestClassifyKeepsTheMessage(t *testing.T) {
	t.Parallel()
	_, err := sendThrough(t, recordedSESErrors["recipient not verified (sandbox)"])
	got := sesmail.Classify(err).Error()
	if !strings.Contains(got, "MessageRejected") || !strings.Contains(got, "failed the check") {
		t.Fatalf("classified error %q lost SES's code or message", got)
	}
}
