// Package costmodel turns the AWS calls one authorization causes in a day (measured
// against the emulators by BenchmarkAuthorizationDay) into a monthly bill at any
// number of authorizations, at us-east-1 list prices. The README's "What it costs"
// table is its output (go run ./infra/cmd/costs), so it is computed, not guessed.
package costmodel

import (
	"fmt"
	"math"
	"strings"
)

// PricesAsOf is when the prices below were taken from the AWS pricing pages
// (us-east-1, on-demand, no free tier). Check them before relying on the totals.
const PricesAsOf = "2025-06 (AWS pricing pages, us-east-1)"

// Prices in US dollars.
const (
	SecretMonth          = 0.40         // Secrets Manager, per secret-month
	SecretsAPIPer10k     = 0.05         // Secrets Manager, per 10,000 API calls
	DynamoWritePerMillon = 0.625        // on-demand write request units
	DynamoReadPerMillion = 0.125        // on-demand read request units
	DynamoStorageGBMonth = 0.25         // standard table class
	LambdaGBSecond       = 0.0000133334 // arm64
	LambdaPerMillion     = 0.20         // requests
	SQSPerMillion        = 0.40         // standard queue requests (64 KiB chunks)
	SESPerThousand       = 0.10         // outbound email
	EventsPerMillion     = 1.00         // EventBridge custom events put (64 KB chunks)
	KMSKeyMonth          = 1.00         // one customer managed key
	KMSPer10k            = 0.03         // symmetric requests
	LogsIngestGB         = 0.50         // CloudWatch Logs ingestion (standard)
	LogsStoreGBMonth     = 0.03         // CloudWatch Logs storage
	MetricMonth          = 0.30         // custom metric (EMF), first 10,000
	AlarmMonth           = 0.10         // standard-resolution alarm
)

// TokensPerBucket is the packed vault's bucket size: at most 50 refresh tokens share
// one secret.
const TokensPerBucket = 50

// Day is what one authorization costs in one day, in calls and units, as measured.
type Day struct {
	Authorizations int // how many the measured day had

	DynamoWriteUnits float64            // write request units per authorization-day
	DynamoReadUnits  float64            // read request units per authorization-day
	DynamoCalls      map[string]float64 // per operation, per authorization-day
	SecretsCalls     map[string]float64 // per operation, per authorization-day
	SQSRequests      float64            // sends by the functions plus the Lambda pollers' receives and deletes
	SESEmails        float64
	DomainEvents     float64            // history items the day wrote, each a domain event on the bus
	EventBridgeCalls float64            // PutEvents calls (the publisher puts up to 10 events a call)
	Invocations      map[string]float64 // per function, per authorization-day
	GBSeconds        map[string]float64 // per function, per authorization-day (measured duration × memory)
	LogBytes         float64            // bytes the functions logged (metrics included), per authorization-day
	ItemBytes        float64            // table bytes per authorization (record plus 2 years of history)
}

// Fixed monthly costs that do not grow with the authorizations.
const (
	fixedSecrets = 2  // lwa-client and state-key
	metrics      = 14 // distinct metric name × dimension combinations the functions emit
	alarms       = 14 // template.yaml's alarms
	// Lambda's SQS event source long-polls an idle queue with about five pollers,
	// each a ReceiveMessage every 20 s: for the refresh, reminder and notifications
	// queues.
	idlePolls = 3 * 5 * 3 * 60 * 24 * daysPerMonth
)

// Row is one line of the table: a service, its monthly cost at each size, and where
// the figure comes from.
type Row struct {
	Service string
	Monthly []float64
	Basis   string
}

// Sizes are the table's columns.
var Sizes = []int{1_000, 10_000, 100_000, 1_000_000}

const daysPerMonth = 30.4

// Table computes the monthly bill at each size from d.
func Table(d Day, sizes []int) []Row {
	sum := func(m map[string]float64) float64 {
		t := 0.0
		for _, v := range m {
			t += v
		}
		return t
	}
	per := func(f func(n float64) float64) []float64 {
		out := make([]float64, len(sizes))
		for i, n := range sizes {
			out[i] = f(float64(n))
		}
		return out
	}
	month := func(perAuthDay float64) func(n float64) float64 {
		return func(n float64) float64 { return perAuthDay * n * daysPerMonth }
	}
	secretsCalls := sum(d.SecretsCalls)
	gbs := sum(d.GBSeconds)
	inv := sum(d.Invocations)
	rows := []Row{
		{"Secrets Manager: secrets (packed)", per(func(n float64) float64 {
			return (math.Ceil(n/TokensPerBucket) + fixedSecrets) * SecretMonth
		}), fmt.Sprintf("ceil(n/%d) bucket secrets + %d, × $%.2f/secret-month", TokensPerBucket, fixedSecrets, SecretMonth)},
		{"  for comparison: one secret per authorization", per(func(n float64) float64 {
			return (n + fixedSecrets) * SecretMonth
		}), "n + 2 secrets (the per-authorization layout)"},
		{"Secrets Manager: API calls", per(func(n float64) float64 { return month(secretsCalls)(n) / 1e4 * SecretsAPIPer10k }),
			fmt.Sprintf("%.3f calls per authorization-day (measured: %s)", secretsCalls, ops(d.SecretsCalls))},
		{"DynamoDB: writes", per(func(n float64) float64 { return month(d.DynamoWriteUnits)(n) / 1e6 * DynamoWritePerMillon }),
			fmt.Sprintf("%.3f write units per authorization-day (measured ConsumedCapacity)", d.DynamoWriteUnits)},
		{"DynamoDB: reads", per(func(n float64) float64 { return month(d.DynamoReadUnits)(n) / 1e6 * DynamoReadPerMillion }),
			fmt.Sprintf("%.3f read units per authorization-day (measured ConsumedCapacity; DynamoDB calls of every kind: %s)", d.DynamoReadUnits, ops(d.DynamoCalls))},
		{"DynamoDB: storage", per(func(n float64) float64 { return n * d.ItemBytes / 1e9 * DynamoStorageGBMonth }),
			fmt.Sprintf("%.0f bytes per authorization (record, indexes, history)", d.ItemBytes)},
		{"Lambda: requests", per(func(n float64) float64 { return month(inv)(n) / 1e6 * LambdaPerMillion }),
			fmt.Sprintf("%.4f invocations per authorization-day (measured: %s)", inv, ops(d.Invocations))},
		{"Lambda: compute", per(func(n float64) float64 { return month(gbs)(n) * LambdaGBSecond }),
			fmt.Sprintf("%.4f GB-s per authorization-day (measured durations × template MemorySize)", gbs)},
		{"SQS", per(func(n float64) float64 { return (month(d.SQSRequests)(n) + idlePolls) / 1e6 * SQSPerMillion }),
			fmt.Sprintf("%.3f requests per authorization-day (sends measured; a receive and a delete per batch) + %.0f idle long polls a month (3 queues × 5 pollers)", d.SQSRequests, idlePolls)},
		{"SES", per(func(n float64) float64 { return month(d.SESEmails)(n) / 1e3 * SESPerThousand }),
			fmt.Sprintf("%.4f emails per authorization-day (measured)", d.SESEmails)},
		{"EventBridge", per(func(n float64) float64 { return month(d.DomainEvents)(n) / 1e6 * EventsPerMillion }),
			fmt.Sprintf("%.4f domain events per authorization-day (measured: the day's history items, %.4f PutEvents calls), $%.2f per million; DynamoDB Streams reads by Lambda are free", d.DomainEvents, d.EventBridgeCalls, EventsPerMillion)},
		{"KMS", per(func(n float64) float64 { return KMSKeyMonth + month(secretsCalls)(n)/1e4*KMSPer10k }),
			"one key; one Decrypt or GenerateDataKey per Secrets Manager read or write"},
		{"CloudWatch Logs", per(func(n float64) float64 {
			gb := month(d.LogBytes)(n) / 1e9
			return gb*LogsIngestGB + gb*LogsStoreGBMonth
		}), fmt.Sprintf("%.0f bytes logged per authorization-day (measured, EMF lines included), one month kept", d.LogBytes)},
		{"CloudWatch metrics and alarms", per(func(float64) float64 { return metrics*MetricMonth + alarms*AlarmMonth }),
			fmt.Sprintf("%d EMF metrics (name × dimensions), %d alarms: fixed", metrics, alarms)},
	}
	return rows
}

func ops(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Totals adds the rows, leaving out the comparison line.
func Totals(rows []Row) []float64 {
	var out []float64
	for _, r := range rows {
		if strings.HasPrefix(r.Service, "  ") {
			continue
		}
		if out == nil {
			out = make([]float64, len(r.Monthly))
		}
		for i, v := range r.Monthly {
			out[i] += v
		}
	}
	return out
}

// Markdown renders the table with a total line and the per-authorization cost.
func Markdown(rows []Row, sizes []int) string {
	var b strings.Builder
	b.WriteString("| per month |")
	for _, n := range sizes {
		fmt.Fprintf(&b, " %s |", thousands(n))
	}
	b.WriteString(" where the count comes from |\n|---|")
	for range sizes {
		b.WriteString("---:|")
	}
	b.WriteString("---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |", strings.TrimSpace(r.Service))
		for _, v := range r.Monthly {
			fmt.Fprintf(&b, " %s |", dollars(v))
		}
		fmt.Fprintf(&b, " %s |\n", r.Basis)
	}
	tot := Totals(rows)
	b.WriteString("| **total** |")
	for _, v := range tot {
		fmt.Fprintf(&b, " **%s** |", dollars(v))
	}
	b.WriteString(" |\n| per authorization-month |")
	for i, v := range tot {
		fmt.Fprintf(&b, " %s |", dollars(v/float64(sizes[i])))
	}
	b.WriteString(" |\n")
	return b.String()
}

func dollars(v float64) string {
	switch {
	case v >= 100:
		return "$" + thousands(int(math.Round(v)))
	case v >= 0.01:
		return fmt.Sprintf("$%.2f", v)
	case v == 0:
		return "$0"
	default:
		return fmt.Sprintf("$%.4f", v)
	}
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
