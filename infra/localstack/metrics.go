package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// The functions write their metrics as CloudWatch Embedded Metric Format lines on
// stdout (shared/metrics); CloudWatch would turn them into metrics. The local stack
// reads them off the same output and sums them, so that a schedule run on demand can
// say what it did (reminders sent, tokens refreshed, failures and why), not only that
// it ran.

// metricTap sums the EMF lines of every function: by metric name, and by name and
// Reason dimension ("RefreshFailed/revoked").
type metricTap struct {
	mu   sync.Mutex
	sums map[string]float64
}

// writer returns a line splitter for one function's output.
func (m *metricTap) writer() *emfWriter { return &emfWriter{tap: m} }

func (m *metricTap) snapshot() map[string]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.sums)
}

func (m *metricTap) line(b []byte) {
	if !bytes.Contains(b, []byte(`"CloudWatchMetrics"`)) {
		return
	}
	var doc map[string]any
	if json.Unmarshal(b, &doc) != nil {
		return
	}
	aws, _ := doc["_aws"].(map[string]any)
	directives, _ := aws["CloudWatchMetrics"].([]any)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sums == nil {
		m.sums = map[string]float64{}
	}
	for _, d := range directives {
		dir, _ := d.(map[string]any)
		list, _ := dir["Metrics"].([]any)
		for _, x := range list {
			def, _ := x.(map[string]any)
			name, _ := def["Name"].(string)
			v, ok := doc[name].(float64)
			if name == "" || !ok {
				continue
			}
			m.sums[name] += v
			if reason, ok := doc["Reason"].(string); ok && reason != "" {
				m.sums[name+"/"+reason] += v
			}
		}
	}
}

type emfWriter struct {
	tap     *metricTap
	mu      sync.Mutex
	partial []byte
}

func (w *emfWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.tap.line(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 1<<20 { // not a line of ours
		w.partial = nil
	}
	return len(b), nil
}

// Metrics returns the sums of the metrics the stack's functions have emitted so far.
func (s *Stack) Metrics() map[string]float64 { return s.metrics.snapshot() }

// StepReport is what a schedule run on demand did, once the work it queued was done:
// the functions' answers and the metrics the run's work emitted.
type StepReport struct {
	Name              string
	Read, Queued      int // records the scan or the sweeps read, jobs they queued
	Expiring, Expired int // records the scan moved to expiring or expired
	Sent, SendFailed  int // RemindersSent, ReminderFailed (reminders and reconnect emails)
	Refreshed         int // RefreshSucceeded
	RefreshFailed     map[string]int
	Took              time.Duration
}

// String is the one line `make run` prints for the report.
func (r StepReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: read %d, queued %d", r.Name, r.Read, r.Queued)
	if r.Expiring+r.Expired > 0 {
		fmt.Fprintf(&b, ", moved %d to expiring and %d to expired", r.Expiring, r.Expired)
	}
	fmt.Fprintf(&b, "; emails sent %d, failed %d", r.Sent, r.SendFailed)
	failed := 0
	var why []string
	for _, reason := range slices.Sorted(maps.Keys(r.RefreshFailed)) {
		failed += r.RefreshFailed[reason]
		why = append(why, fmt.Sprintf("%s %d", reason, r.RefreshFailed[reason]))
	}
	fmt.Fprintf(&b, "; tokens refreshed %d, failed %d", r.Refreshed, failed)
	if len(why) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(why, ", "))
	}
	fmt.Fprintf(&b, " (%s)", r.Took.Round(100*time.Millisecond))
	return b.String()
}

// ScanReport runs the daily expiry scan now, waits until the reminders it queued are
// handled, and reports what happened.
func (s *Stack) ScanReport(ctx context.Context) (StepReport, error) {
	return s.step(ctx, "expiry scan", func() ([][]byte, error) {
		out, err := s.Scan(ctx)
		return [][]byte{out}, err
	})
}

// SweepReport runs a refresh cycle (RefreshCycle) now, waits until the refreshes it
// queued are done, and reports what happened.
func (s *Stack) SweepReport(ctx context.Context) (StepReport, error) {
	return s.step(ctx, "refresh cycle", func() ([][]byte, error) { return s.RefreshCycle(ctx) })
}

func (s *Stack) step(ctx context.Context, name string, run func() ([][]byte, error)) (StepReport, error) {
	start := time.Now()
	before := s.Metrics()
	r := StepReport{Name: name, RefreshFailed: map[string]int{}}
	answers, err := run()
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	for _, a := range answers {
		var n struct{ Read, Queued, Expiring, Expired int }
		if json.Unmarshal(a, &n) == nil {
			r.Read, r.Queued, r.Expiring, r.Expired = r.Read+n.Read, r.Queued+n.Queued, r.Expiring+n.Expiring, r.Expired+n.Expired
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.WaitIdle(wctx); err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	after := s.Metrics()
	delta := func(k string) int { return int(after[k] - before[k]) }
	r.Sent, r.SendFailed, r.Refreshed = delta("RemindersSent"), delta("ReminderFailed"), delta("RefreshSucceeded")
	for k := range after {
		if reason, ok := strings.CutPrefix(k, "RefreshFailed/"); ok && delta(k) > 0 {
			r.RefreshFailed[reason] = delta(k)
		}
	}
	r.Took = time.Since(start)
	return r, nil
}
