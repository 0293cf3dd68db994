// Command invoke is `make invoke FN=<LogicalId> EVENT=events/<file>.json`: what
// `sam local invoke` does, without Docker. It builds the function's bootstrap for this
// machine, runs it through the local Lambda Runtime API with the function's
// environment from template.yaml, sends it the event and prints the function's
// response on stdout (its logs go to stderr, then a REPORT line with the init and
// invoke durations).
//
// With a local stack running (`make run`), the function runs against that stack, with
// the environment the stack gives it; a sample event from events/ is readied for it
// first (localstack.PrepareEvent: the sample's authorization seeded, its link and
// state signed with the stack's key), and one that would change the stack's LWA client
// secret is refused without -yes. Otherwise it gets a deployment of its own: the
// emulators named by AWS_ENDPOINT_URL_* or new ones, seeded with what the sample
// events in events/ were made with, removed afterwards.
//
// It exits non-zero when the function answered with an error, or with
// batchItemFailures (records the queue or stream would deliver again).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "invoke:", firstLine(err))
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = "usage: invoke -fn <LogicalId> -event <events/file.json> [-yes]   (make invoke FN=<LogicalId> EVENT=<file> [INVOKE_FLAGS=--yes])"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// The function's log lines and this command's own share stderr.
	stderr = &lockedWriter{w: stderr}
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fn := fs.String("fn", "", "the function's logical id in template.yaml, e.g. CallbackFunction")
	eventPath := fs.String("event", "", "the event file, e.g. events/callback-good.json")
	binDir := fs.String("bin-dir", "", "use the bootstraps already built here (<dir>/<function>/bootstrap) instead of building")
	standalone := fs.Bool("standalone", false, "use a deployment of its own even if a local stack is running")
	yes := fs.Bool("yes", false, "let a client secret notification change the running stack's LWA client secret")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			return err
		}
		fmt.Fprintf(stderr, "invoke: %v\n%s\n", err, usage)
		return errUsage
	}
	if *fn == "" || *eventPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "invoke: FN and EVENT are both required;", usage)
		return errUsage
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := localstack.FindRoot(wd)
	if err != nil {
		return err
	}
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	if _, ok := tmpl.Functions[*fn]; !ok {
		return fmt.Errorf("no function %q in template.yaml (it has %s)", *fn, strings.Join(tmpl.Names(), ", "))
	}
	path := *eventPath
	if !filepath.IsAbs(path) && !fileExists(path) {
		path = filepath.Join(root, path) // make runs from the root; a shell may not
	}
	event, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("event file %s does not exist (the samples are in events/)", *eventPath)
		}
		return fmt.Errorf("event file %s: %w", *eventPath, err)
	}
	if !json.Valid(event) {
		return fmt.Errorf("event file %s is not valid JSON", *eventPath)
	}

	bins := *binDir
	if bins == "" {
		bins = filepath.Join(root, ".local", "bin", "invoke-functions")
		if err := localstack.Build(ctx, root, bins, []string{*fn}); err != nil {
			return err
		}
	}
	if !*standalone {
		if st, from, err := localstack.FindRunning(root); err == nil {
			if from != root {
				fmt.Fprintf(stderr, "invoke: the running local stack was started from %s\n", from)
			}
			return invokeRunning(ctx, st, *fn, bins, *eventPath, event, *yes, stdout, stderr)
		}
	}
	return invokeStandalone(ctx, root, bins, *fn, event, getenv, stdout, stderr)
}

// invokeRunning readies event for the running stack st and invokes fn with it there.
func invokeRunning(ctx context.Context, st localstack.State, fn, bins, eventPath string, event []byte, yes bool, stdout, stderr io.Writer) error {
	fmt.Fprintf(stderr, "invoke: against the local stack of process %d\n", st.PID)
	prepared, notes, err := localstack.PrepareEvent(ctx, st, fn, event, yes)
	if errors.Is(err, localstack.ErrChangesClientSecret) {
		return fmt.Errorf("%s: %w; to go ahead: make invoke FN=%s EVENT=%s INVOKE_FLAGS=--yes (or stop make run: without a stack it runs in a throw-away deployment)",
			eventPath, err, fn, eventPath)
	}
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "invoke:", n)
	}
	return invokeAgainst(ctx, st, fn, localstack.BinaryPath(bins, fn), prepared, stdout, stderr)
}

// invokeAgainst runs a fresh process of the function (a cold start, as sam local
// invoke's container) with the environment the running stack gives it.
func invokeAgainst(ctx context.Context, st localstack.State, fn, binary string, event []byte, stdout, stderr io.Writer) error {
	f, ok := st.Functions[fn]
	if !ok {
		return fmt.Errorf("the running local stack does not run %s", fn)
	}
	rt, err := runtimeapi.Start(runtimeapi.Function{Name: fn, Binary: binary, Env: f.Env,
		Timeout: time.Duration(f.TimeoutSeconds) * time.Second, Memory: f.MemoryMB, Stdout: stderr})
	if err != nil {
		return err
	}
	defer rt.Stop()
	initDur, err := rt.WaitReady(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := rt.Invoke(ctx, event)
	return report(stdout, stderr, out, err, initDur, time.Since(start))
}

// invokeStandalone gives the function a deployment of its own, seeded for the
// sample events, and removes it afterwards.
func invokeStandalone(ctx context.Context, root, bins, fn string, event []byte, getenv func(string) string, stdout, stderr io.Writer) error {
	endpoints := map[string]string{}
	for _, k := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		if v := getenv(k); v != "" {
			endpoints[k] = v
		}
	}
	if len(endpoints) < 3 {
		fmt.Fprintln(stderr, "invoke: no local stack is running (make run): starting emulators of its own for a throw-away deployment (10 to 35 s)")
	}
	s, err := localstack.Start(ctx, localstack.Options{Root: root, BinDir: bins, Functions: []string{fn}, Endpoints: endpoints,
		Name: "keeper-invoke-" + strings.ToLower(rand.Text()[:8]), Seed: localstack.SeedSamples, NoEventSources: true, Log: stderr})
	if err != nil {
		return err
	}
	defer s.Stop()
	initDur := s.InitDuration(fn)
	begin := time.Now()
	out, err := s.Invoke(ctx, fn, event)
	return report(stdout, stderr, out, err, initDur, time.Since(begin))
}

func report(stdout, stderr io.Writer, out []byte, err error, initDur, dur time.Duration) error {
	var ie *runtimeapi.InvokeError
	if errors.As(err, &ie) {
		// As sam local invoke: the function's error document is its output.
		b, _ := json.Marshal(ie.Response)
		fmt.Fprintln(stdout, string(b))
		fmt.Fprintf(stderr, "REPORT Init: %s Duration: %s Status: function error\n", initDur.Round(time.Millisecond), dur.Round(time.Millisecond))
		return fmt.Errorf("the function returned an error: %s: %s", ie.Response.ErrorType, ie.Response.ErrorMessage)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(out)))
	if failed := batchItemFailures(out); len(failed) > 0 {
		fmt.Fprintf(stderr, "REPORT Init: %s Duration: %s Status: %d batch item failures\n", initDur.Round(time.Millisecond), dur.Round(time.Millisecond), len(failed))
		return fmt.Errorf("the function reported %d of the batch's records as failed (batchItemFailures: %s): its log lines above say why; the queue or stream would deliver them again",
			len(failed), strings.Join(failed, ", "))
	}
	fmt.Fprintf(stderr, "REPORT Init: %s Duration: %s\n", initDur.Round(time.Millisecond), dur.Round(time.Millisecond))
	return nil
}

// batchItemFailures returns the item identifiers of an SQS, DynamoDB Streams or
// Kinesis batch answer's partial failures: the function answered, but asked for
// these records again.
func batchItemFailures(out []byte) []string {
	var r struct {
		Failures []struct {
			ID string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if json.Unmarshal(out, &r) != nil {
		return nil
	}
	ids := make([]string, 0, len(r.Failures))
	for _, f := range r.Failures {
		ids = append(ids, f.ID)
	}
	return ids
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
