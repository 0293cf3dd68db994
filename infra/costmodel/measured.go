package costmodel

// Measured is one authorization-day as BenchmarkAuthorizationDay counted it at 10,000
// authorizations (granted on days spread over the past year, their tokens in the
// packed vault, one refresh each, the day's scan and reminders, the SES and LWA
// budgets paced through the table as deployed, and the day's history items through
// the stream to the event publisher), against the emulators on 2026-12-02. Run the
// benchmark again and paste its "per authorization-day" line here when the code's
// calls change.
var Measured = Day{
	Authorizations:   10000,
	DynamoWriteUnits: 1.3319,
	DynamoReadUnits:  2.0315,
	DynamoCalls: map[string]float64{"BatchGetItem": 0.0007, "GetItem": 2.0001, "PutItem": 1.0001, "Query": 0.0058,
		"TransactWriteItems": 0.036, "UpdateItem": 0.044},
	SecretsCalls:     map[string]float64{"GetSecretValue": 0.4532},
	SQSRequests:      0.3133,
	SESEmails:        0.018,
	DomainEvents:     0.036,
	EventBridgeCalls: 0.036,
	Invocations:      map[string]float64{"eventpublisher": 0.036, "expiryscan": 0.0001, "reminder": 0.0018, "tokenrefresh": 0.0238},
	GBSeconds: map[string]float64{"eventpublisher": 0.0000044015, "expiryscan": 0.0000612904, "reminder": 0.0001293211,
		"tokenrefresh": 0.05},
	LogBytes:  395.6229,
	ItemBytes: 593.6682,
}
