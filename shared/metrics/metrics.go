// Package metrics writes CloudWatch metrics in the Embedded Metric Format (EMF): one
// JSON line per metric on the function's stdout, which CloudWatch Logs turns into
// metrics with no API call and no extra latency. AWS ships no Go EMF library, and the
// format is small enough to write here (see the EMF specification).
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric the project emits.
const Namespace = "SpapiAuthKeeper"

// Units CloudWatch accepts that this project uses.
const (
	Count   = "Count"
	None    = "None"
	Seconds = "Seconds"
)

// Emitter writes EMF lines. A nil *Emitter discards everything, so code under test
// that does not care about metrics can pass nil.
type Emitter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// New returns an emitter writing to w (os.Stdout in Lambda).
func New(w io.Writer) *Emitter { return &Emitter{w: w, now: time.Now} }

// WithClock sets the timestamp source (tests).
func (e *Emitter) WithClock(now func() time.Time) *Emitter { e.now = now; return e }

// Dim is one dimension of a metric.
type Dim struct{ Name, Value string }

// Count records value of a count metric.
func (e *Emitter) Count(name string, value float64, dims ...Dim) { e.Put(name, value, Count, dims...) }

// Put records one value of a metric with its unit and dimensions.
func (e *Emitter) Put(name string, value float64, unit string, dims ...Dim) {
	if e == nil {
		return
	}
	names := make([]string, 0, len(dims))
	doc := map[string]any{}
	for _, d := range dims {
		names = append(names, d.Name)
		doc[d.Name] = d.Value
	}
	doc[name] = value
	doc["_aws"] = map[string]any{
		"Timestamp": e.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{names},
			"Metrics":    []any{map[string]string{"Name": name, "Unit": unit}},
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return // only strings and numbers: cannot fail
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(line, '\n'))
}
