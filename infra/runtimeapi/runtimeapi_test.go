package runtimeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "runtimeapi-test")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

var (
	binDir    string
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// echoBinary builds testdata/echo the way the Makefile builds a function, for this OS.
func echoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := filepath.Abs(filepath.Join(".", "testdata", "echo"))
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(binDir, "bootstrap")
		out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", binary, dir).CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestInvokeRunsTheBinaryAsLambdaDoes(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r, err := runtimeapi.Start(runtimeapi.Function{Name: "EchoFunction", Binary: echoBinary(t), Stdout: &syncWriter{w: &logs}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	ctx := context.Background()
	if d, err := r.WaitReady(ctx); err != nil || d <= 0 {
		t.Fatalf("WaitReady = %s, %v", d, err)
	}
	ids := map[string]bool{}
	for i := 0; i < 3; i++ { // warm invocations reuse the process
		out, err := r.Invoke(ctx, []byte(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Event     json.RawMessage
			RequestID string
			Function  string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if string(got.Event) != `{"n":1}` || got.Function != "EchoFunction" || got.RequestID == "" || ids[got.RequestID] {
			t.Fatalf("response %s", out)
		}
		ids[got.RequestID] = true
	}
	_, err = r.Invoke(ctx, []byte(`{"fail":true}`))
	var ie *runtimeapi.InvokeError
	if !errors.As(err, &ie) || !strings.Contains(ie.Response.ErrorMessage, "failed on purpose") {
		t.Fatalf("error invocation: %v", err)
	}
}

func TestInitFailureIsReported(t *testing.T) {
	t.Parallel()
	r, err := runtimeapi.Start(runtimeapi.Function{Name: "EchoFunction", Binary: echoBinary(t), Env: map[string]string{"ECHO_INIT_FAIL": "1"}, Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.Invoke(ctx, []byte(`{}`)); !errors.Is(err, runtimeapi.ErrInitFailed) {
		t.Fatalf("Invoke = %v, want ErrInitFailed", err)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Parallel()
	_, err := runtimeapi.Start(runtimeapi.Function{Name: "Nope", Binary: "/nonexistent/bootstrap"})
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("Start = %v", err)
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	r, err := runtimeapi.Start(runtimeapi.Function{Name: "EchoFunction", Binary: echoBinary(t), Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	pid := r.PID()
	r.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still alive after Stop", pid)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
