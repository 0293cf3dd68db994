package testenv

import (
	"crypto/rand"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
)

// SecretsManagerEndpointEnv is the SDK's own variable naming a Secrets Manager endpoint.
const SecretsManagerEndpointEnv = "AWS_ENDPOINT_URL_SECRETS_MANAGER"

var (
	sharedSecretsOnce sync.Once
	sharedSecretsURL  string
)

// SecretsManager returns a Secrets Manager client for tests: pointed at
// AWS_ENDPOINT_URL_SECRETS_MANAGER when it is set, otherwise at one in-process
// emulator shared by the whole test binary (it lives until the binary exits). Tests
// sharing it keep apart by naming their secrets under Prefix(t).
func SecretsManager(t testing.TB) *secretsmanager.Client {
	t.Helper()
	if url := os.Getenv(SecretsManagerEndpointEnv); url != "" {
		return secretsClient(url)
	}
	sharedSecretsOnce.Do(func() {
		sharedSecretsURL = httptest.NewServer(secretsemu.New()).URL
	})
	return secretsClient(sharedSecretsURL)
}

// SecretsManagerInProcess starts a fresh in-process emulator for this test alone, and
// a client for it, whatever AWS_ENDPOINT_URL_SECRETS_MANAGER says: fault injection
// (FailNext) and call counts (Calls) must not see other tests' requests. The server
// stops when the test ends.
func SecretsManagerInProcess(t testing.TB) (*secretsmanager.Client, *secretsemu.Server) {
	t.Helper()
	emu := secretsemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return secretsClient(srv.URL), emu
}

// secretsClient is the production client with the SDK's standard retry policy (three
// attempts, 5xx and throttling retried) but millisecond backoff, so tests that inject
// faults stay fast.
func secretsClient(url string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(Config(), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = retry.DefaultMaxAttempts
			so.RateLimiter = ratelimit.None
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
}

// Prefix returns a short name prefix unique to this call, such as "tq3z7kd2a": a test
// puts its secrets, table items or queues under it so tests can share emulators and
// run in parallel. It uses only lowercase letters and digits, which every AWS name
// accepts.
func Prefix(t testing.TB) string {
	t.Helper()
	return "t" + strings.ToLower(rand.Text()[:8])
}
