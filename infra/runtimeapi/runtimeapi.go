// Package runtimeapi runs a built Lambda bootstrap binary the way AWS Lambda does:
// it serves the Lambda Runtime API (2018-06-01) on 127.0.0.1, starts the binary with
// AWS_LAMBDA_RUNTIME_API pointing at it, and hands it one invocation at a time through
// /runtime/invocation/next, collecting /response, /error and /init/error. The local
// stack, `make invoke` and the benchmarks use it, so what runs locally is the very
// binary `sam build` ships.
package runtimeapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const prefix = "/2018-06-01/runtime"

// Function describes one function to run.
type Function struct {
	Name    string            // the logical id, e.g. CallbackFunction
	Binary  string            // path to the built bootstrap
	Env     map[string]string // the function's environment (template Globals and its own)
	Timeout time.Duration     // per invocation; default 30 s
	Memory  int               // MB, reported to the runtime; default 256
	Stdout  io.Writer         // the function's log output; default os.Stderr
}

// ErrorResponse is what a function reports through /error or /init/error.
type ErrorResponse struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

// InvokeError is an invocation that ended in the function's /error.
type InvokeError struct{ Response ErrorResponse }

func (e *InvokeError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Response.ErrorType, e.Response.ErrorMessage)
}

// ErrInitFailed says the function reported /init/error or exited before polling.
var ErrInitFailed = errors.New("function failed to initialise")

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result
}

type result struct {
	body []byte
	err  error
}

// Runtime is one running function process and its Runtime API.
type Runtime struct {
	fn       Function
	srv      *http.Server
	addr     string
	cmd      *exec.Cmd
	started  time.Time
	ready    chan struct{}
	readyAt  time.Time
	exited   chan struct{}
	exitErr  error
	queue    chan *invocation
	mu       sync.Mutex
	inflight map[string]*invocation
	initErr  *ErrorResponse
	once     sync.Once
}

// Start serves the Runtime API and starts the binary. It returns once the process has
// started; Ready tells when the function first asks for an invocation.
func Start(fn Function) (*Runtime, error) {
	if fn.Timeout <= 0 {
		fn.Timeout = 30 * time.Second
	}
	if fn.Memory <= 0 {
		fn.Memory = 256
	}
	if fn.Stdout == nil {
		fn.Stdout = os.Stderr
	}
	if _, err := os.Stat(fn.Binary); err != nil {
		return nil, fmt.Errorf("%s: bootstrap binary: %w (build it first: make build)", fn.Name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: runtime API listener: %w", fn.Name, err)
	}
	r := &Runtime{fn: fn, addr: ln.Addr().String(), ready: make(chan struct{}), exited: make(chan struct{}),
		queue: make(chan *invocation), inflight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/invocation/next", r.next)
	mux.HandleFunc("POST "+prefix+"/invocation/{id}/response", r.response)
	mux.HandleFunc("POST "+prefix+"/invocation/{id}/error", r.invocationError)
	mux.HandleFunc("POST "+prefix+"/init/error", r.initError)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()

	cmd := exec.Command(fn.Binary)
	cmd.Env = r.environ()
	cmd.Stdout = fn.Stdout
	cmd.Stderr = fn.Stdout
	cmd.SysProcAttr = sysProcAttr()
	r.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = r.srv.Close()
		return nil, fmt.Errorf("%s: start %s: %w", fn.Name, fn.Binary, err)
	}
	r.cmd = cmd
	go func() {
		r.exitErr = cmd.Wait()
		close(r.exited)
	}()
	return r, nil
}

func (r *Runtime) environ() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_LAMBDA_RUNTIME_API=" + r.addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + r.fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(r.fn.Memory),
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + r.fn.Name,
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT=" + dirOf(r.fn.Binary),
		"TZ=:UTC",
	}
	for k, v := range r.fn.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// Addr is the Runtime API address (AWS_LAMBDA_RUNTIME_API).
func (r *Runtime) Addr() string { return r.addr }

// WaitReady waits until the function first polls for an invocation, and returns the
// time from process start to then: the function's init duration.
func (r *Runtime) WaitReady(ctx context.Context) (time.Duration, error) {
	select {
	case <-r.ready:
		return r.readyAt.Sub(r.started), nil
	case <-r.exited:
		return 0, r.initFailure()
	case <-ctx.Done():
		return 0, fmt.Errorf("%s: not ready: %w", r.fn.Name, ctx.Err())
	}
}

func (r *Runtime) initFailure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.initErr != nil {
		return fmt.Errorf("%w: %s: %s: %s", ErrInitFailed, r.fn.Name, r.initErr.ErrorType, r.initErr.ErrorMessage)
	}
	return fmt.Errorf("%w: %s exited: %v", ErrInitFailed, r.fn.Name, r.exitErr)
}

// Invoke sends one event and waits for the function's response.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if _, err := r.WaitReady(ctx); err != nil {
		return nil, err
	}
	inv := &invocation{id: newID(), payload: payload, deadline: time.Now().Add(r.fn.Timeout), done: make(chan result, 1)}
	ctx, cancel := context.WithDeadline(ctx, inv.deadline)
	defer cancel()
	select {
	case r.queue <- inv:
	case <-r.exited:
		return nil, fmt.Errorf("%s exited: %v", r.fn.Name, r.exitErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no runtime took the invocation: %w", r.fn.Name, ctx.Err())
	}
	select {
	case res := <-inv.done:
		return res.body, res.err
	case <-r.exited:
		return nil, fmt.Errorf("%s exited during the invocation: %v", r.fn.Name, r.exitErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: task timed out after %s", r.fn.Name, r.fn.Timeout)
	}
}

// Stop ends the process (SIGTERM, then SIGKILL) and the Runtime API.
func (r *Runtime) Stop() error {
	r.once.Do(func() {
		if r.cmd != nil && r.cmd.Process != nil {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(2 * time.Second):
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.srv.Shutdown(ctx)
	})
	return nil
}

func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	if r.readyAt.IsZero() {
		r.readyAt = time.Now()
		close(r.ready)
	}
	r.mu.Unlock()
	select {
	case inv := <-r.queue:
		r.mu.Lock()
		r.inflight[inv.id] = inv
		r.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:"+r.fn.Name)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+hexID(4)+"-"+hexID(12)+";Parent="+hexID(8)+";Sampled=0")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-req.Context().Done():
	}
}

func (r *Runtime) take(id string) *invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	inv := r.inflight[id]
	delete(r.inflight, id)
	return inv
}

func (r *Runtime) response(w http.ResponseWriter, req *http.Request) {
	inv := r.take(req.PathValue("id"))
	if inv == nil {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "unknown or finished request id")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 6<<20+1))
	if err == nil && len(body) > 6<<20 {
		err = errors.New("response payload larger than Lambda's 6 MB limit")
	}
	inv.done <- result{body: body, err: err}
	writeStatus(w, http.StatusAccepted, "", "")
}

func (r *Runtime) invocationError(w http.ResponseWriter, req *http.Request) {
	inv := r.take(req.PathValue("id"))
	if inv == nil {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "unknown or finished request id")
		return
	}
	var e ErrorResponse
	b, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if json.Unmarshal(b, &e) != nil {
		e = ErrorResponse{ErrorType: req.Header.Get("Lambda-Runtime-Function-Error-Type"), ErrorMessage: string(bytes.TrimSpace(b))}
	}
	inv.done <- result{err: &InvokeError{Response: e}}
	writeStatus(w, http.StatusAccepted, "", "")
}

func (r *Runtime) initError(w http.ResponseWriter, req *http.Request) {
	var e ErrorResponse
	b, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	_ = json.Unmarshal(b, &e)
	r.mu.Lock()
	r.initErr = &e
	r.mu.Unlock()
	writeStatus(w, http.StatusAccepted, "", "")
}

func writeStatus(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if errType != "" {
		_ = json.NewEncoder(w).Encode(map[string]string{"errorType": errType, "errorMessage": msg})
	} else {
		_, _ = w.Write([]byte(`{"status":"OK"}`))
	}
}

func hexID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newID() string {
	s := hexID(16)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}

// PID is the function process's id.
func (r *Runtime) PID() int { return r.cmd.Process.Pid }
