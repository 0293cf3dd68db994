// Command localstack is `make run`: it builds every function for this machine, starts
// the whole keeper on 127.0.0.1 (emulators, Amazon simulator, each function's bootstrap
// behind a local Lambda Runtime API, the HTTP front, the queues' pollers), seeds the
// demo authorizations, runs an expiry scan and a full refresh cycle, and prints what
// to open. Ctrl-C (or SIGTERM) stops everything it started.
//
// While it runs, type `scan` or `sweep` and Enter to run a schedule on demand.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
)

func main() {
	started := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, started)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "localstack:", firstLine(err))
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, started time.Time) error {
	fs := flag.NewFlagSet("localstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "where the renewal pages (the HTTP front) listen; port 0 picks a free port")
	scanEvery := fs.Duration("scan-every", 0, "run the daily expiry scan on a fast clock, e.g. 1m (0: on demand only)")
	sweepEvery := fs.Duration("sweep-every", 0, "run the hourly refresh sweep on a fast clock, one simulated hour per tick, e.g. 10s (0: on demand only)")
	verbose := fs.Bool("v", false, "also print every function's and emulator's log lines here")
	noBuild := fs.Bool("no-build", false, "use the bootstraps already in .local/bin/functions")
	startedAt := fs.Int64("started-at", 0, "Unix time in seconds the wait began (make run passes when make started, so that \"ready in\" counts npm, Go modules and builds too)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "localstack: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if t := time.Unix(*startedAt, 0); *startedAt > 0 && t.Before(started) {
		started = t
	}
	if err := localstack.CheckAddr(*addr); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := localstack.FindRoot(wd)
	if err != nil {
		return err
	}
	if st, err := localstack.ReadState(root); err == nil {
		return fmt.Errorf("a local stack is already running (process %d, renewal pages at %s): stop it first", st.PID, st.Env["KEEPER_BASE_URL"])
	}
	logPath := filepath.Join(root, ".local", "localstack.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	var logw io.Writer = logFile
	if *verbose {
		logw = io.MultiWriter(logFile, stderr)
	}

	binDir := filepath.Join(root, ".local", "bin", "functions")
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	if !*noBuild {
		if err := buildFunctions(ctx, root, binDir, tmpl.Names(), stdout); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "starting the emulators, the Amazon simulator and the functions:")
	s, err := localstack.Start(ctx, localstack.Options{Root: root, BinDir: binDir, FrontAddr: *addr, Seed: localstack.SeedDemo, Log: logw, Progress: stdout})
	if err != nil {
		if errors.Is(err, localstack.ErrAddrInUse) {
			return err
		}
		return fmt.Errorf("%s (the emulators' and functions' output is in %s)", firstLine(err), logPath)
	}
	defer func() {
		fmt.Fprintln(stdout, "stopping...")
		if err := s.Stop(); err != nil {
			fmt.Fprintln(stderr, "localstack: stop:", firstLine(err))
		}
		if err := localstack.RemoveState(root); err != nil {
			fmt.Fprintln(stderr, "localstack:", err)
		}
		fmt.Fprintln(stdout, "stopped; nothing left running")
	}()

	if err := scanAndSweep(ctx, s, stdout); err != nil {
		return err
	}
	if err := localstack.WriteState(root, s.State()); err != nil {
		return err
	}
	s.StartClock(*scanEvery, *sweepEvery)
	fmt.Fprintf(stdout, `
ready in %s

  Sent mail (open a reminder, click its renewal link):  %s
  Seller Central simulator (Manage Your Apps):          %s/apps/manage
  Renewal pages (the HTTP API):                         %s
  Lambda Invoke API (AWS_ENDPOINT_URL_LAMBDA):          %s

  The ledger:           go run ./infra/cmd/keeperctl --local list
  Invoke a function:    make invoke FN=ExpiryScanFunction EVENT=events/schedule.json
                        (every sample in events/ works against this stack: README, Invoke one function)
  Type scan or sweep and Enter to run a schedule now. Logs: %s
  Ctrl-C stops everything.
`, time.Since(started).Round(100*time.Millisecond), s.MailURL, s.SellerCentralURL, s.FrontURL, s.LambdaURL, logPath)
	fmt.Fprint(stdout, s.EventsBanner())

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.Exited():
			return err
		case cmd := <-lines:
			switch cmd {
			case "scan":
				if err := runStep(stdout, "expiry scan", func() (localstack.StepReport, error) { return s.ScanReport(ctx) }); err != nil {
					fmt.Fprintln(stderr, "localstack:", firstLine(err))
				}
			case "sweep":
				if err := runStep(stdout, "refresh cycle (24 hourly sweeps)", func() (localstack.StepReport, error) { return s.SweepReport(ctx) }); err != nil {
					fmt.Fprintln(stderr, "localstack:", firstLine(err))
				}
			case "":
			default:
				fmt.Fprintf(stdout, "unknown command %q: type scan or sweep (Ctrl-C stops the stack)\n", cmd)
			}
		}
	}
}

// buildFunctions builds the functions and says it is still at it every 15 s: the
// first build compiles the AWS SDK, which takes a minute or more.
func buildFunctions(ctx context.Context, root, binDir string, names []string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "building %d functions for this machine (the first build compiles the AWS SDK: a minute or more)...\n", len(names))
	begin := time.Now()
	done := make(chan error, 1)
	go func() { done <- localstack.Build(ctx, root, binDir, names) }()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				fmt.Fprintf(stdout, "  built in %s\n", time.Since(begin).Round(100*time.Millisecond))
			}
			return err
		case <-tick.C:
			fmt.Fprintf(stdout, "  still building (%s)...\n", time.Since(begin).Round(time.Second))
		}
	}
}

// scanAndSweep runs what a day of the real schedules would: the expiry scan and one
// refresh cycle, and waits until the reminders they queued are sent.
func scanAndSweep(ctx context.Context, s *localstack.Stack, stdout io.Writer) error {
	if err := runStep(stdout, "expiry scan", func() (localstack.StepReport, error) { return s.ScanReport(ctx) }); err != nil {
		return err
	}
	return runStep(stdout, "refresh cycle (24 hourly sweeps)", func() (localstack.StepReport, error) { return s.SweepReport(ctx) })
}

// runStep runs a schedule now and prints what it did once its work is done.
func runStep(stdout io.Writer, name string, step func() (localstack.StepReport, error)) error {
	fmt.Fprintf(stdout, "running the %s...\n", name)
	r, err := step()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "  "+r.String())
	return nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
