package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
)

// TestRunSaysWhatItDoes runs `make run`'s command as a newcomer meets it: every step
// of the start is shown as it happens, "ready in" counts from when make began (the
// -started-at the Makefile passes), and scan and sweep typed at the prompt print what
// they did.
func TestRunSaysWhatItDoes(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := localstack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := localstack.ReadState(root); err == nil {
		t.Skipf("a local stack (process %d) is running from this repository: this test starts its own", st.PID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdin, typed := io.Pipe()
	defer typed.Close()
	var out syncBuffer
	makeBegan := time.Now().Add(-2 * time.Minute) // npm, Go modules and the command's build, say
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-started-at", strconv.FormatInt(makeBegan.Unix(), 10)}, stdin, &out, &out, time.Now())
	}()
	waitFor := func(re *regexp.Regexp, n int) []string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			if m := re.FindAllStringSubmatch(out.String(), -1); len(m) >= n {
				return m[n-1]
			}
			select {
			case err := <-done:
				t.Fatalf("run ended: %v\n%s", err, out.String())
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatalf("no %q (%d) within 5 minutes:\n%s", re, n, out.String())
		return nil
	}

	ready := waitFor(regexp.MustCompile(`ready in (\S+)`), 1)
	if d, err := time.ParseDuration(ready[1]); err != nil || d < 2*time.Minute {
		t.Errorf("ready in %s: it must count from when make began, 2 minutes ago", ready[1])
	}
	startup := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`building \d+ functions for this machine`),
		regexp.MustCompile(`\n  built in \S+\n`),
		regexp.MustCompile(`\n  starting the emulators \(DynamoDB Local, aws-ses-v2-local, fauxqs\)\.\.\. \S+s\n`),
		regexp.MustCompile(`\n  creating the table, queues, secrets and KMS key\.\.\. \S+s\n`),
		regexp.MustCompile(`\n  starting \d+ functions behind the local Lambda Runtime API\.\.\. \S+s\n`),
		regexp.MustCompile(`\n  seeding\.\.\. \S+s\n`),
		regexp.MustCompile(`expiry scan: read 3, queued 3, .*; emails sent 3, failed 0; tokens refreshed 0, failed 0`),
		regexp.MustCompile(`refresh cycle: read 5, queued \d+; emails sent 1, failed 0; tokens refreshed 3, failed 1 \(revoked 1\)`),
	} {
		if !want.MatchString(startup) {
			t.Errorf("the start does not show %q:\n%s", want, startup)
		}
	}

	// At the prompt: a second scan finds the reminders already sent, a sweep proves the
	// healthy ones again.
	if _, err := io.WriteString(typed, "scan\n"); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(regexp.MustCompile(`expiry scan: read (\d+), queued (\d+).*; emails sent (\d+)`), 2); got[2] != "0" || got[3] != "0" {
		t.Errorf("second scan %q: want nothing queued or sent again", got[0])
	}
	if _, err := io.WriteString(typed, "sweep\n"); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(regexp.MustCompile(`refresh cycle: read \d+, queued \d+; .*tokens refreshed (\d+)`), 2); got[1] == "0" {
		t.Errorf("sweep at the prompt %q: want the healthy tokens refreshed", got[0])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("what make run printed:\n%s", out.String())
	if !strings.Contains(out.String(), "stopped; nothing left running") {
		t.Errorf("no stop line:\n%s", out.String())
	}
}

// TestMakeRunShowsTheFirstSteps: the Makefile says what it does before the command
// starts (npm packages, Go modules, the command's build) and passes when make began.
func TestMakeRunShowsTheFirstSteps(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	cmd := exec.Command("make", "-n", "-B", "run")
	cmd.Dir = "../../.."
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, b)
	}
	for _, want := range []string{"npm: installing the emulators' packages", "go: downloading the modules", "go: building the local stack's command",
		".local/bin/localstack -started-at "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("make run does not say %q:\n%s", want, b)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
