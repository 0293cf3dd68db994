package costmodel

// Measured is one authorization-day as BenchmarkAuthorizationDay counted it at 10,000
// authorizations (granted on days spread over the past year, one refresh each, the
// day's scan and reminders), against the emulators on 2026-12-01, with the
// per-authorization vault of that day. Run the benchmark again and paste its
// "per authorization-day" line here when the code's calls change.
var Measured = Day{
	Authorizations:   10000,
	DynamoWriteUnits: 1.1163,
	DynamoReadUnits:  1.03005,
	DynamoCalls: map[string]float64{"BatchGetItem": 0.0006, "GetItem": 1.0001, "PutItem": 1.0167, "Query": 0.0034,
		"TransactWriteItems": 0.0166, "UpdateItem": 0.0166},
	SecretsCalls: map[string]float64{"GetSecretValue": 1.0001},
	SQSRequests:  0.3127,
	SESEmails:    0.0166,
	Invocations:  map[string]float64{"expiryscan": 0.0001, "reminder": 0.0017, "tokenrefresh": 0.0238},
	GBSeconds:    map[string]float64{"expiryscan": 0.0001008679862, "reminder": 0.000720496061525, "tokenrefresh": 0.05},
	LogBytes:     377.7198,
	ItemBytes:    419.1453,
}
