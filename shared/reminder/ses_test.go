package reminder_test

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
)

// sesAnswer is one recorded SES v2 (REST-JSON) error answer: status, the
// x-amzn-ErrorType header AWS sets, and the body.
type sesAnswer struct {
	status    int
	errorType string
	body      string
}

// recordedSESErrors are the SES v2 SendEmail error answers the sender's tests put in
// front of the emulator, in AWS's wire form. shared/sesmail's classification test
// holds the full set.
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
