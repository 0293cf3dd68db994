package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// bindAttempts bounds retries when another process takes the free port between the
// moment we found it and the moment the emulator binds it.
const bindAttempts = 5

// tailLines is how much of an emulator's output an error quotes.
const tailLines = 30

// process is one emulator this package started.
type process struct {
	e    emulator
	url  string
	pid  int
	out  *output
	done chan struct{} // closed once the process has been reaped
	err  error         // Wait's result, set before done closes

	mu       sync.Mutex
	ready    bool // answered a request; an exit after this is news
	stopping bool // Stop (or a failed start) is ending it; its exit is expected
}

// launch starts e on a free port and waits until it answers. A bind race (the port was
// taken in between) is retried on another port.
func launch(ctx context.Context, e emulator, log *lineLog, onExit func(error)) (*process, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", e.name, err)
		}
		p, err := start(e, port, log, onExit)
		if err != nil {
			return nil, err
		}
		err = p.waitReady(ctx)
		if err == nil {
			p.mu.Lock()
			p.ready = true
			p.mu.Unlock()
			return p, nil
		}
		// The error already says how it ended; stop only makes sure it has.
		_ = p.stop(stopGrace)
		if errors.Is(err, ErrExited) && p.out.bindFailed() && attempt < bindAttempts {
			continue
		}
		return nil, err
	}
}

// freePort asks the kernel for a free port on 127.0.0.1. It is free when we close the
// listener, not necessarily when the emulator binds it: launch retries that race. The
// kernel may hand a closed port out again at once, so a port given to one emulator is
// never given to another that starts alongside it.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		handedMu.Lock()
		seen := handedOut[port]
		handedOut[port] = true
		handedMu.Unlock()
		if !seen {
			return port, nil
		}
	}
	return 0, errors.New("find a free port: the kernel kept offering ports already handed out")
}

var (
	handedMu  sync.Mutex
	handedOut = map[int]bool{}
)

func start(e emulator, port int, log *lineLog, onExit func(error)) (*process, error) {
	cmd := e.command(port)
	out := &output{tag: e.tag, log: log}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttrs()
	// Wait returns this long after the process exits even if something still holds its
	// output pipe open.
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", e.name, err)
	}
	p := &process{e: e, url: "http://127.0.0.1:" + strconv.Itoa(port), pid: cmd.Process.Pid, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		p.mu.Lock()
		news := p.ready && !p.stopping
		p.mu.Unlock()
		if news {
			onExit(p.exitError())
		}
	}()
	return p, nil
}

func (p *process) exitError() error {
	return fmt.Errorf("%s on %s %w (%v); last output:\n%s", p.e.name, p.url, ErrExited, p.err, p.out.tail())
}

// waitReady polls the emulator with a real request until it answers, it exits, or ctx ends.
func (p *process) waitReady(ctx context.Context) error {
	started := time.Now()
	delay := 25 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := p.e.probe(pctx, p.url)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s on %s %w after %s (last probe: %v); last output:\n%s",
				p.e.name, p.url, ErrNotReady, time.Since(started).Round(time.Millisecond), err, p.out.tail())
		case <-time.After(delay):
		}
		delay = min(delay*2, 250*time.Millisecond)
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace. It signals only
// while the group leader it started has not been reaped, so it never reaches a process
// that merely reuses the id. A ready emulator that had already exited on its own is
// reported.
func (p *process) stop(grace time.Duration) error {
	p.mu.Lock()
	report := p.ready && !p.stopping
	p.stopping = true
	p.mu.Unlock()
	select {
	case <-p.done:
		if report {
			return p.exitError()
		}
		return nil
	default:
	}
	if err := syscall.Kill(-p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: %w", p.e.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.e.name, err)
	}
	<-p.done
	return nil
}

// output collects an emulator's stdout and stderr: it forwards whole lines to the
// shared log and keeps the last tailLines for error messages.
type output struct {
	tag string
	log *lineLog

	mu      sync.Mutex
	partial []byte
	lines   []string
	all     strings.Builder // bounded: only the first 64 KiB, to spot bind failures
}

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.all.Len() < 64<<10 {
		o.all.Write(b)
	}
	o.partial = append(o.partial, b...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.addLine(string(bytes.TrimRight(o.partial[:i], "\r")))
		o.partial = o.partial[i+1:]
	}
	return len(b), nil
}

func (o *output) addLine(line string) {
	o.lines = append(o.lines, line)
	if len(o.lines) > tailLines {
		o.lines = o.lines[len(o.lines)-tailLines:]
	}
	o.log.line(o.tag, line)
}

func (o *output) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := o.lines
	if len(o.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(o.partial))
	}
	if len(lines) == 0 {
		return "  (no output)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

func (o *output) bindFailed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.all.String()
	// aws-ses-v2-local swallows the bind error and says only that its server has no
	// address.
	for _, sign := range []string{"EADDRINUSE", "ddress already in use", "BindException", "Failed to bind", "Server does not have an address"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// lineLog writes whole, prefixed lines from several emulators to one writer.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

func newLineLog(w io.Writer) *lineLog {
	if w == nil {
		w = io.Discard
	}
	return &lineLog{w: w}
}

func (l *lineLog) line(tag, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s\n", tag, s)
}
