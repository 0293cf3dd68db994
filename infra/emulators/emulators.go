// Package emulators starts and stops the third-party AWS emulators that the tests and
// the local stack talk to, each as a child process on a free 127.0.0.1 port: DynamoDB
// Local (Amazon's own, shipped in the amplify-dynamodb-simulator npm package),
// aws-ses-v2-local (SES v2 plus a web page of sent mail) and fauxqs (SQS over the AWS
// JSON protocol that aws-sdk-go-v2's SQS client speaks). The npm packages live in
// infra/node_modules (`npm ci --prefix infra`).
package emulators

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The SDK's own per-service endpoint variables: aws-sdk-go-v2 reads them when a client
// is built from config.LoadDefaultConfig, so production code needs no local switch.
const (
	EnvDynamoDB = "AWS_ENDPOINT_URL_DYNAMODB"
	EnvSES      = "AWS_ENDPOINT_URL_SESV2"
	EnvSQS      = "AWS_ENDPOINT_URL_SQS"
)

// Error kinds Start returns; the messages around them say what to install or look at.
var (
	ErrNotFound = errors.New("not found")           // a runtime or an npm package is missing
	ErrNotReady = errors.New("did not answer")      // started, but never answered a request in time
	ErrExited   = errors.New("exited unexpectedly") // the process ended on its own
)

// DefaultStartTimeout bounds Start when ctx has no deadline, from the moment the
// DynamoDB Local launcher is compiled (once per machine). DynamoDB Local is a JVM and
// can take several seconds on a loaded machine (go test runs many binaries at once).
const DefaultStartTimeout = 90 * time.Second

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 5 * time.Second

// Options says which emulators to start and where their npm packages are.
type Options struct {
	DynamoDB, SES, SQS bool
	// InfraDir holds package.json and node_modules; empty means the infra folder of the
	// Go module enclosing the working directory (see FindInfraDir).
	InfraDir string
	// Log receives the emulators' output, one line at a time, each prefixed with the
	// emulator's name; nil discards it (the last lines still appear in Start's errors).
	Log io.Writer
}

// Set is a group of running emulators that this process started.
type Set struct {
	procs     []*process
	endpoints map[string]string
	exited    chan error
	stopOnce  sync.Once
	stopErr   error
}

// Start checks that every requested emulator is installed, starts them in parallel and
// returns once each answers a real request. On any failure it stops the ones it started
// and returns every error, each with the emulator's last lines of output.
func Start(ctx context.Context, opts Options) (*Set, error) {
	infra := opts.InfraDir
	if infra == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("find infra folder: %w", err)
		}
		if infra, err = FindInfraDir(wd); err != nil {
			return nil, err
		}
	}
	var specs []emulator
	var errs []error
	for _, want := range []struct {
		on  bool
		get func(string) (emulator, error)
	}{{opts.DynamoDB, dynamoDB}, {opts.SES, sesV2}, {opts.SQS, sqsEmulator}} {
		if !want.on {
			continue
		}
		e, err := want.get(infra)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The start's own clock runs from here: preparing the specs may compile the
	// DynamoDB Local launcher once, which is not the emulators' start.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}

	logw := newLineLog(opts.Log)
	s := &Set{endpoints: map[string]string{}, exited: make(chan error, 1)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, e := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := launch(ctx, e, logw, s.reportExit)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			s.procs = append(s.procs, p)
			s.endpoints[e.envVar] = p.url
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		if err := s.Stop(); err != nil {
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Endpoints maps the SDK's endpoint variable of each running emulator (EnvDynamoDB,
// EnvSES, EnvSQS) to its base URL, such as http://127.0.0.1:41234.
func (s *Set) Endpoints() map[string]string { return maps.Clone(s.endpoints) }

// Exited delivers the first emulator that ends before Stop asked it to, so a long-lived
// local stack can fail loudly instead of serving connection errors.
func (s *Set) Exited() <-chan error { return s.exited }

func (s *Set) reportExit(err error) {
	select {
	case s.exited <- err:
	default:
	}
}

// Stop ends every emulator of the set: SIGTERM to its process group, SIGKILL after a
// grace period. It reports emulators that had already exited on their own. Calling it
// again returns the first result.
func (s *Set) Stop() error {
	s.stopOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(s.procs))
		for i, p := range s.procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.stop(stopGrace)
			}()
		}
		wg.Wait()
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// FindInfraDir walks up from dir to the folder holding go.mod (the module root) and
// returns its infra folder, where package.json names the emulators.
func FindInfraDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find infra folder: %w", err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			infra := filepath.Join(d, "infra")
			if _, err := os.Stat(filepath.Join(infra, "package.json")); err != nil {
				return "", fmt.Errorf("infra/package.json %w under the module root %s", ErrNotFound, d)
			}
			return infra, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("go.mod %w above %s: run from inside the repository", ErrNotFound, dir)
		}
		d = parent
	}
}
