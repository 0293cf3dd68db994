package costmodel

// Measured is one authorization-day as BenchmarkAuthorizationDay counted it at 10,000
// authorizations (granted on days spread over the past year, their tokens in the
// packed vault, one refresh each, the day's scan and reminders, the SES and LWA
// budgets paced through the table as deployed), against the emulators on 2026-12-02.
// Run the benchmark again and paste its "per authorization-day" line here when the
// code's calls change.
var Measured = Day{
	Authorizations:   10000,
	DynamoWriteUnits: 1.4922,
	DynamoReadUnits:  2.0336,
	DynamoCalls: map[string]float64{"BatchGetItem": 0.0007, "GetItem": 2.0001, "PutItem": 1.0001, "Query": 0.0058,
		"TransactWriteItems": 0.0402, "UpdateItem": 0.2172},
	SecretsCalls: map[string]float64{"GetSecretValue": 0.4572},
	SQSRequests:  0.3138,
	SESEmails:    0.0201,
	Invocations:  map[string]float64{"expiryscan": 0.0001, "reminder": 0.0021, "tokenrefresh": 0.0238},
	GBSeconds:    map[string]float64{"expiryscan": 0.000184062330, "reminder": 0.000248453847, "tokenrefresh": 0.05},
	LogBytes:     380.9879,
	ItemBytes:    595.1793,
}
