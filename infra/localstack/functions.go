package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
)

// bindings are this stack's values for template.yaml: parameters without a default
// (or whose default would reach AWS), the resources it created, the values it gives
// the variables the template sets for a function (the public URLs, the stack's
// configuration set), and what stands in for AWS and Amazon in every function (the
// emulators' endpoints, local credentials, the Amazon simulator): see Bindings.
func (s *Stack) bindings() Bindings {
	b := Bindings{
		Params: map[string]string{"AppId": demo.AppID, "AppName": AppName, "SenderEmail": SenderEmail, "AppIsDraft": "false",
			"SecretPrefix": s.SecretPrefix},
		// No KMS locally: the vault then lets Secrets Manager use its default key.
		Resources: map[string]string{"Table": s.Table, "ReminderConfigurationSet": s.ConfigurationSetName()},
		Overrides: map[string]string{
			"BASE_URL":           s.FrontURL,
			"REDIRECT_URI":       s.FrontURL + "/callback",
			"LWA_ENDPOINT":       s.SellerCentralURL + "/auth/o2/token",
			"SELLER_CENTRAL_URL": s.SellerCentralURL,
			"SP_API_ENDPOINT":    s.SellerCentralURL, // Sellers, Product Fees, Application Management
			"KMS_KEY_ID":         s.KMSKeyID,
			"AWS_REGION":         Region,
			"AWS_DEFAULT_REGION": Region,
			// Static credentials, and no shared config or instance metadata: a local
			// function must never find a developer's real AWS account.
			"AWS_ACCESS_KEY_ID":           "local",
			"AWS_SECRET_ACCESS_KEY":       "local",
			"AWS_CONFIG_FILE":             "/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
			"AWS_EC2_METADATA_DISABLED":   "true",
			emulators.EnvDynamoDB:         s.endpoints[emulators.EnvDynamoDB],
			emulators.EnvSES:              s.SESEventsURL, // through the SES event simulator (sesevents.go)
			// template.yaml picks the vendor's set or its own with !If.
			"SES_CONFIGURATION_SET": s.ConfigurationSetName(),
			emulators.EnvSQS:        s.endpoints[emulators.EnvSQS],
			EnvSecretsManager:       s.endpoints[EnvSecretsManager],
			EnvS3:                   s.endpoints[EnvS3],
			EnvKMS:                  s.endpoints[EnvKMS],
		},
	}
	for id, q := range s.queues {
		b.Resources[id] = q.URL
	}
	s.eventBindings(&b)
	for id, kind := range s.tmpl.kinds {
		if kind == "AWS::KMS::Key" {
			b.Resources[id] = ""
		}
	}
	return b
}

// startFunctions starts one runtime per function and waits until each has
// initialised: a function that fails its init (a missing variable, an unreadable
// secret) fails Start with the function's own words.
func (s *Stack) startFunctions(ctx context.Context) error {
	b := s.bindings()
	var errs []error
	for _, fn := range s.opts.Functions {
		env, err := s.tmpl.Environment(fn, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		spec := s.tmpl.Functions[fn]
		f := &function{spec: spec, env: env}
		rt, err := s.startRuntime(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.rt = rt
		s.functions[fn] = f
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, f := range s.functions {
		wg.Go(func() {
			d, err := f.rt.WaitReady(ctx)
			mu.Lock()
			defer mu.Unlock()
			f.init = d
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Stack) startRuntime(f *function) (*runtimeapi.Runtime, error) {
	return runtimeapi.Start(runtimeapi.Function{Name: f.spec.LogicalID, Binary: BinaryPath(s.opts.BinDir, f.spec.LogicalID), Env: f.env,
		Timeout: f.spec.Timeout, Memory: f.spec.Memory, Stdout: io.MultiWriter(s.out.tagged(f.spec.LogicalID), s.metrics.writer())})
}

// invoke hands one event to the function's process. A process that has ended (a
// panic makes aws-lambda-go exit, as does os.Exit) is replaced first, as Lambda
// starts a new execution environment after a crash: the next event sees a cold start.
func (s *Stack) invoke(f *function, ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil, fmt.Errorf("%s: the local stack is stopping", f.spec.LogicalID)
	}
	if syscall.Kill(f.rt.PID(), 0) != nil {
		_ = f.rt.Stop()
		rt, err := s.startRuntime(f)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		s.log.Warn("function process had ended; started a new one, as Lambda starts a new execution environment", "function", f.spec.LogicalID)
		f.rt = rt
	}
	rt := f.rt
	f.mu.Unlock()
	return rt.Invoke(ctx, payload)
}

// InitDuration is how long the function took from process start to its first poll
// of the Runtime API: its cold start.
func (s *Stack) InitDuration(fn string) time.Duration {
	if f, ok := s.functions[fn]; ok {
		return f.init
	}
	return 0
}

// Invoke runs one event through a function's Runtime API and returns its response,
// as a synchronous Lambda Invoke does. A function error is a *runtimeapi.InvokeError.
func (s *Stack) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	f, ok := s.functions[fn]
	if !ok {
		return nil, fmt.Errorf("%w: %s (running: %v)", ErrUnknownFunction, fn, s.Functions())
	}
	return s.invoke(f, ctx, payload)
}

// ScheduledEvent is the EventBridge event a Schedule rule sends at the given time.
func ScheduledEvent(fn, rule string, at time.Time) []byte {
	ev := map[string]any{
		"version": "0", "id": newRequestID(), "detail-type": "Scheduled Event", "source": "aws.events",
		"account": AccountID, "time": at.UTC().Format(time.RFC3339), "region": Region,
		"resources": []string{"arn:aws:events:" + Region + ":" + AccountID + ":rule/keeper-local-" + fn + rule},
		"detail":    map[string]any{},
	}
	b, _ := json.Marshal(ev) // plain values: cannot fail
	return b
}

// RunSchedule sends fn the event of its first Schedule rule, stamped at, and returns
// the function's answer.
func (s *Stack) RunSchedule(ctx context.Context, fn string, at time.Time) ([]byte, error) {
	f, ok := s.functions[fn]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, fn)
	}
	if len(f.spec.Schedules) == 0 {
		return nil, fmt.Errorf("%s has no Schedule event in template.yaml", fn)
	}
	return s.invoke(f, ctx, ScheduledEvent(fn, f.spec.Schedules[0], at))
}

// Scan runs the daily expiry scan now.
func (s *Stack) Scan(ctx context.Context) ([]byte, error) {
	return s.RunSchedule(ctx, ExpiryScanFunction, time.Now())
}

// RefreshCycle runs the hourly proof-of-life sweep once for every hour of one
// REFRESH_INTERVAL, starting with the current hour: each sweep reads the refresh slots
// due at its hour, so together they queue every authorization once, as a day of the
// real schedule would. It returns each sweep's answer.
func (s *Stack) RefreshCycle(ctx context.Context) ([][]byte, error) {
	f, ok := s.functions[TokenRefreshFunction]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, TokenRefreshFunction)
	}
	hours := 24
	if d, err := parseHours(f.env["REFRESH_INTERVAL"]); err == nil {
		hours = d
	}
	at := time.Now().UTC().Truncate(time.Hour)
	var out [][]byte
	for h := range hours {
		res, err := s.RunSchedule(ctx, TokenRefreshFunction, at.Add(time.Duration(h)*time.Hour))
		if err != nil {
			return out, fmt.Errorf("sweep of hour %d: %w", h, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// parseHours reads REFRESH_INTERVAL (24h, 2d) as whole hours.
func parseHours(v string) (int, error) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(v, "%d%s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("REFRESH_INTERVAL %q: want whole hours or days", v)
	}
	switch unit {
	case "h":
		return n, nil
	case "d":
		return 24 * n, nil
	}
	return 0, fmt.Errorf("REFRESH_INTERVAL %q: want whole hours or days", v)
}

// StartClock runs the schedules on a fast clock until Stop: the expiry scan every
// scanEvery, and the hourly refresh sweep every sweepEvery, each tick sweeping the
// next hour of the interval so that a full cycle takes 24 ticks. Zero leaves a
// schedule on demand only.
func (s *Stack) StartClock(scanEvery, sweepEvery time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	s.tickStop = cancel
	run := func(every time.Duration, tick func(n int)) {
		if every <= 0 {
			return
		}
		s.tickers.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for n := 1; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					tick(n)
				}
			}
		})
	}
	if _, ok := s.functions[ExpiryScanFunction]; ok {
		run(scanEvery, func(int) {
			if _, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("scheduled expiry scan failed", "error", err)
			}
		})
	}
	if _, ok := s.functions[TokenRefreshFunction]; ok {
		base := time.Now().UTC().Truncate(time.Hour)
		run(sweepEvery, func(n int) {
			if _, err := s.RunSchedule(ctx, TokenRefreshFunction, base.Add(time.Duration(n)*time.Hour)); err != nil && ctx.Err() == nil {
				s.log.Error("scheduled refresh sweep failed", "error", err)
			}
		})
	}
}
