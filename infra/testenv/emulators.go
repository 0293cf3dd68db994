package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
)

// Run is a package's TestMain body: it runs the tests, then stops the emulators that
// this test binary started (none when make test already runs a shared set).
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
//
// Without it the emulators still die with the test binary, but Run stops them cleanly
// and reports an emulator that crashed during the run.
func Run(m *testing.M) int {
	code := m.Run()
	if err := stopStarted(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop emulators:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// started is one emulator kind this binary started, at most once.
type started struct {
	once sync.Once
	set  *emulators.Set
	url  string
	err  error
}

var (
	startedDynamoDB, startedSES, startedSQS started
	startedMu                               sync.Mutex
	startedSets                             []*emulators.Set
)

// endpoint returns the base URL of one emulator: the SDK's endpoint variable when it
// is set (make test runs one set for every package), otherwise an emulator this test
// binary starts on first use and shares with all its tests. It also sets the variable,
// so production code that builds its clients from the environment finds the emulator.
func endpoint(t testing.TB, envVar string) string {
	t.Helper()
	if url := os.Getenv(envVar); url != "" {
		return url
	}
	s, opts := &startedSQS, emulators.Options{SQS: true}
	switch envVar {
	case emulators.EnvDynamoDB:
		s, opts = &startedDynamoDB, emulators.Options{DynamoDB: true}
	case emulators.EnvSES:
		s, opts = &startedSES, emulators.Options{SES: true}
	}
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), emulators.DefaultStartTimeout)
		defer cancel()
		s.set, s.err = emulators.Start(ctx, opts)
		if s.err != nil {
			return
		}
		startedMu.Lock()
		startedSets = append(startedSets, s.set)
		startedMu.Unlock()
		s.url = s.set.Endpoints()[envVar]
		s.err = os.Setenv(envVar, s.url)
	})
	if s.err != nil {
		t.Fatalf("testenv: %s is not set and starting the emulator failed: %v", envVar, s.err)
	}
	return s.url
}

func stopStarted() error {
	startedMu.Lock()
	defer startedMu.Unlock()
	var errs []error
	for _, s := range startedSets {
		errs = append(errs, s.Stop())
	}
	startedSets = nil
	return errors.Join(errs...)
}

// fastRetryer is the SDK's standard retry policy (three attempts; throttling, 5xx and
// connection errors retried) with millisecond backoff and no client-side retry quota,
// so tests that provoke failures stay fast and parallel tests never starve each other.
func fastRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = retry.DefaultMaxAttempts
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// resourceName is a name unique to this call that still says which test made it, for
// tables and queues: letters, digits, '-' and '_' only, at most max characters.
func resourceName(t testing.TB, suffix string, max int) string {
	t.Helper()
	name := Prefix(t) + "-" + unsafeName.ReplaceAllString(t.Name(), "_")
	if suffix != "" {
		suffix = "-" + unsafeName.ReplaceAllString(suffix, "_")
	}
	if len(name)+len(suffix) > max {
		name = name[:max-len(suffix)]
	}
	return name + suffix
}
