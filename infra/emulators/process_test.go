package emulators

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is not a test: the tests below run the test binary itself as a
// stand-in emulator, so process handling is checked without Java or Node.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("EMULATOR_HELPER")
	if mode == "" {
		t.Skip("helper process only")
	}
	port := os.Getenv("EMULATOR_HELPER_PORT")
	fmt.Println("helper starting on", port)
	fmt.Fprintln(os.Stderr, "helper warming up")
	switch mode {
	case "exit":
		fmt.Println("fatal: config broken")
		os.Exit(3)
	case "hang":
		time.Sleep(time.Minute)
		os.Exit(0)
	case "bindfail":
		fmt.Println("listen EADDRINUSE: address already in use 127.0.0.1:" + port)
		os.Exit(1)
	case "launcher":
		p, err := launch(context.Background(), helper("serve"), newLineLog(nil), func(error) {})
		if err != nil {
			panic(err)
		}
		fmt.Printf("emulator pid %d\n", p.pid)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	// serve, serve-stubborn: answer on the port; a grandchild shows group signalling.
	grandchild := exec.Command("sleep", "60")
	if err := grandchild.Start(); err != nil {
		panic(err)
	}
	fmt.Println("grandchild", grandchild.Process.Pid)
	if mode == "serve-stubborn" {
		signal.Ignore(syscall.SIGTERM)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	panic(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })))
}

func helper(mode string) emulator {
	return emulator{
		name:   "helper(" + mode + ")",
		tag:    "helper",
		envVar: "HELPER",
		command: func(port int) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), "EMULATOR_HELPER="+mode, "EMULATOR_HELPER_PORT="+strconv.Itoa(port))
			return cmd
		},
		probe: func(ctx context.Context, base string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
			if err != nil {
				return err
			}
			return expect(req, "ok")
		},
	}
}

// needLinux skips tests that watch processes through /proc or rely on Pdeathsig.
func needLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("process checks use /proc and Pdeathsig")
	}
}

func alive(pid int) bool {
	// A zombie still accepts signal 0; /proc says whether it really runs.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

func grandchildPid(t *testing.T, p *process) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.out.tail(), "\n") {
			if pid, ok := strings.CutPrefix(strings.TrimSpace(line), "grandchild "); ok {
				n, err := strconv.Atoi(pid)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("helper never printed its grandchild's pid:\n%s", p.out.tail())
	return 0
}

// cancelAfter is an emulator log that cancels a start once every one of lines has
// been logged: the start timeout runs out after the emulator said something, however
// slowly the machine runs.
type cancelAfter struct {
	mu     sync.Mutex
	seen   strings.Builder
	lines  []string
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen.Write(p)
	for _, l := range c.lines {
		if !strings.Contains(c.seen.String(), l) {
			return len(p), nil
		}
	}
	c.cancel()
	return len(p), nil
}

func TestLaunchFailuresQuoteTheLastOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode        string
		cancelAfter []string // nil: the helper ends on its own
		kind        error
		want        []string
	}{
		{"exit", nil, ErrExited, []string{"helper(exit)", "exit status 3", "fatal: config broken", "helper warming up"}},
		{"hang", []string{"helper starting on", "helper warming up"}, ErrNotReady, []string{"helper(hang)", "did not answer", "helper starting on", "helper warming up"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			log := newLineLog(nil)
			if tt.cancelAfter != nil {
				log = newLineLog(&cancelAfter{lines: tt.cancelAfter, cancel: cancel})
			}
			var reported atomic.Int32
			p, err := launch(ctx, helper(tt.mode), log, func(error) { reported.Add(1) })
			if p != nil || !errors.Is(err, tt.kind) {
				t.Fatalf("launch = %v, %v; want %v", p, err, tt.kind)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if reported.Load() != 0 {
				t.Error("a failed start was reported as an unexpected exit")
			}
		})
	}
}

func TestLaunchRetriesABindRace(t *testing.T) {
	t.Parallel()
	e := helper("serve")
	var calls atomic.Int32
	serve := e.command
	e.command = func(port int) *exec.Cmd {
		if calls.Add(1) == 1 { // someone took the port first
			return helper("bindfail").command(port)
		}
		return serve(port)
	}
	p, err := launch(t.Context(), e, newLineLog(nil), func(error) {})
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	defer p.stop(time.Second)
	if calls.Load() != 2 {
		t.Errorf("started %d times, want 2 (one bind failure, one retry)", calls.Load())
	}
}

func TestStopSignalsTheWholeGroup(t *testing.T) {
	t.Parallel()
	needLinux(t)
	tests := []struct {
		mode   string
		grace  time.Duration
		killed bool // needed the SIGKILL after grace
	}{
		{"serve", time.Minute, false},                    // leaves on SIGTERM, long before the grace ends
		{"serve-stubborn", 200 * time.Millisecond, true}, // ignores SIGTERM
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			p, err := launch(t.Context(), helper(tt.mode), newLineLog(nil), func(error) {})
			if err != nil {
				t.Fatal(err)
			}
			gc := grandchildPid(t, p)
			start := time.Now()
			if err := p.stop(tt.grace); err != nil {
				t.Fatalf("stop: %v", err)
			}
			took := time.Since(start)
			if tt.killed && took < tt.grace || !tt.killed && took >= tt.grace {
				t.Errorf("stop took %s with a %s grace; SIGKILL needed: %v", took, tt.grace, tt.killed)
			}
			if alive(p.pid) {
				t.Errorf("emulator %d still runs", p.pid)
			}
			deadline := time.Now().Add(20 * time.Second)
			for alive(gc) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // reaped by init, not by us
			}
			if alive(gc) {
				t.Errorf("grandchild %d still runs: the group was not signalled", gc)
			}
		})
	}
}

func TestExitedReportsAnEmulatorThatDies(t *testing.T) {
	t.Parallel()
	s := &Set{exited: make(chan error, 1)}
	p, err := launch(t.Context(), helper("serve"), newLineLog(nil), s.reportExit)
	if err != nil {
		t.Fatal(err)
	}
	s.procs = append(s.procs, p)
	grandchildPid(t, p)                                           // its output is there to be quoted
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil { // a crash, not our Stop
		t.Fatal(err)
	}
	select {
	case err := <-s.Exited():
		if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "grandchild") {
			t.Errorf("Exited = %v, want ErrExited with the last output", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Exited reported nothing")
	}
	if err := s.Stop(); !errors.Is(err, ErrExited) {
		t.Errorf("Stop after a crash = %v, want ErrExited", err)
	}
}

func TestEmulatorsDieWithTheProcessThatStartedThem(t *testing.T) {
	t.Parallel()
	needLinux(t)
	// A launcher (this binary again) starts an emulator and is then killed outright,
	// as go test does to a binary that overruns its timeout: nothing calls Stop.
	launcher := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	launcher.Env = append(os.Environ(), "EMULATOR_HELPER=launcher")
	out, err := launcher.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := launcher.Start(); err != nil {
		t.Fatal(err)
	}
	defer launcher.Wait()
	defer launcher.Process.Kill()
	var child int
	buf := make([]byte, 4096)
	var seen string
	deadline := time.Now().Add(30 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		n, err := out.Read(buf)
		seen += string(buf[:n])
		if i := strings.Index(seen, "emulator pid "); i >= 0 && strings.Contains(seen[i:], "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(seen[i+len("emulator pid ") : i+strings.Index(seen[i:], "\n")]))
		}
		if err != nil {
			break
		}
	}
	if child == 0 {
		t.Fatalf("launcher never reported its emulator:\n%s", seen)
	}
	if err := launcher.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stillAlive := alive(child)
	// The emulator's own child (a sleep) is ours too, through the launcher: end it.
	_ = syscall.Kill(-child, syscall.SIGKILL)
	if stillAlive {
		t.Fatalf("emulator %d outlived the process that started it", child)
	}
}
