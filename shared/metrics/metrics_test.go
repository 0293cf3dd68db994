package metrics_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// TestEMFShape checks each line against the EMF specification: a root "_aws" with a
// millisecond Timestamp and CloudWatchMetrics directives; every dimension named in a
// DimensionSet and every metric named in Metrics must be a root member.
func TestEMFShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	at := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	e := metrics.New(&buf).WithClock(func() time.Time { return at })
	e.Count("RefreshFailed", 1, metrics.Dim{Name: "Reason", Value: "revoked"})
	e.Count("CallbackSucceeded", 1)

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d: %s", len(lines), buf.String())
	}
	tests := []struct {
		metric string
		dims   map[string]string
	}{
		{"RefreshFailed", map[string]string{"Reason": "revoked"}},
		{"CallbackSucceeded", nil},
	}
	for i, tt := range tests {
		var doc struct {
			AWS struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
		}
		if err := json.Unmarshal(lines[i], &doc); err != nil {
			t.Fatal(err)
		}
		var root map[string]any
		_ = json.Unmarshal(lines[i], &root)
		if doc.AWS.Timestamp != at.UnixMilli() {
			t.Errorf("Timestamp = %d", doc.AWS.Timestamp)
		}
		d := doc.AWS.CloudWatchMetrics[0]
		if d.Namespace != "SpapiAuthKeeper" || len(d.Metrics) != 1 || d.Metrics[0].Name != tt.metric || d.Metrics[0].Unit != "Count" {
			t.Errorf("directive = %+v", d)
		}
		if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != len(tt.dims) {
			t.Errorf("dimensions = %v, want one set of %d", d.Dimensions, len(tt.dims))
		}
		for _, name := range d.Dimensions[0] {
			if root[name] != tt.dims[name] {
				t.Errorf("dimension %s = %v, want %s", name, root[name], tt.dims[name])
			}
		}
		if root[tt.metric] != 1.0 {
			t.Errorf("metric value = %v", root[tt.metric])
		}
	}
	var nilEmitter *metrics.Emitter
	nilEmitter.Count("X", 1) // must not panic
}
