package costmodel_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/costmodel"
)

func TestTableFollowsTheCounts(t *testing.T) {
	t.Parallel()
	d := costmodel.Day{
		DynamoWriteUnits: 1, DynamoReadUnits: 2,
		SecretsCalls: map[string]float64{"GetSecretValue": 1},
		SQSRequests:  0.1, SESEmails: 0.03,
		Invocations: map[string]float64{"tokenrefresh": 0.02},
		GBSeconds:   map[string]float64{"tokenrefresh": 0.05},
		LogBytes:    400, ItemBytes: 2000, DomainEvents: 0.04,
	}
	sizes := []int{1_000, 1_000_000}
	rows := costmodel.Table(d, sizes)
	find := func(prefix string) costmodel.Row {
		for _, r := range rows {
			if strings.HasPrefix(strings.TrimSpace(r.Service), prefix) {
				return r
			}
		}
		t.Fatalf("no row %q", prefix)
		return costmodel.Row{}
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, want) {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	tests := []struct {
		row  string
		want []float64
	}{
		// ceil(n/50) bucket secrets plus lwa-client and state-key.
		{"Secrets Manager: secrets", []float64{(20 + 2) * 0.40, (20_000 + 2) * 0.40}},
		{"for comparison", []float64{1_002 * 0.40, 1_000_002 * 0.40}},
		{"Secrets Manager: API", []float64{1_000 * 30.4 / 1e4 * 0.05, 1e6 * 30.4 / 1e4 * 0.05}},
		{"DynamoDB: writes", []float64{1_000 * 30.4 / 1e6 * 0.625, 1e6 * 30.4 / 1e6 * 0.625}},
		{"DynamoDB: reads", []float64{2 * 1_000 * 30.4 / 1e6 * 0.125, 2 * 1e6 * 30.4 / 1e6 * 0.125}},
		{"Lambda: compute", []float64{0.05 * 1_000 * 30.4 * 0.0000133334, 0.05 * 1e6 * 30.4 * 0.0000133334}},
		{"SES", []float64{0.03 * 1_000 * 30.4 / 1e3 * 0.10, 0.03 * 1e6 * 30.4 / 1e3 * 0.10}},
		{"EventBridge", []float64{0.04 * 1_000 * 30.4 / 1e6 * 1.00, 0.04 * 1e6 * 30.4 / 1e6 * 1.00}},
	}
	for _, tc := range tests {
		r := find(tc.row)
		for i, want := range tc.want {
			near(tc.row, r.Monthly[i], want)
		}
	}
	if got := costmodel.Totals(rows); got[1] < find("Secrets Manager: secrets").Monthly[1] || got[1] > find("for comparison").Monthly[1] {
		t.Errorf("total at 1,000,000 = %.0f: not between the packed secrets alone and one secret per authorization", got[1])
	}
	md := costmodel.Markdown(rows, sizes)
	if !strings.Contains(md, "| **total** |") || !strings.Contains(md, "1,000,000") {
		t.Errorf("markdown lacks the total or the column:\n%s", md)
	}
}

// TestREADMEShowsTheComputedTable: the README's cost table is the one the model
// computes from the measured day, so that neither drifts from the other.
func TestREADMEShowsTheComputedTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "<!-- costs:begin (go run ./infra/cmd/costs) -->\n")
	body, _, ok2 := strings.Cut(rest, "<!-- costs:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no costs:begin … costs:end block")
	}
	want := costmodel.Markdown(costmodel.Table(costmodel.Measured, costmodel.Sizes), costmodel.Sizes)
	if body != want {
		t.Errorf("README's cost table differs from go run ./infra/cmd/costs:\n%s\nwant:\n%s", body, want)
	}
}
