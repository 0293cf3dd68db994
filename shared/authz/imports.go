package authz

import "time"

// ImportStatus is the progress of one remote import (a file dropped into the import
// bucket), kept in the ledger as it goes. It holds counts, line numbers and reasons,
// never a token. The ledger's item names its attributes as the tags say.
type ImportStatus struct {
	ID              string         `dynamodbav:"importId" json:"importId"`
	Bucket          string         `dynamodbav:"bucket" json:"bucket"`
	Key             string         `dynamodbav:"key" json:"key"`
	State           string         `dynamodbav:"state" json:"state"` // running, done, failed
	StartedAt       time.Time      `dynamodbav:"startedAt" json:"startedAt"`
	UpdatedAt       time.Time      `dynamodbav:"updatedAt" json:"updatedAt"`
	Invocations     int            `dynamodbav:"invocations" json:"invocations"`
	Rows            int            `dynamodbav:"rows" json:"rows"`
	Counts          map[string]int `dynamodbav:"counts" json:"counts"`
	LWACalls        int            `dynamodbav:"lwaCalls" json:"lwaCalls"`
	DoneThroughLine int            `dynamodbav:"doneThroughLine" json:"doneThroughLine"`
	Report          string         `dynamodbav:"report,omitempty" json:"report,omitempty"`       // the report as JSON, once done (rejections capped)
	ReportKey       string         `dynamodbav:"reportKey,omitempty" json:"reportKey,omitempty"` // the whole report in the bucket
	Error           string         `dynamodbav:"error,omitempty" json:"error,omitempty"`
	TTL             int64          `dynamodbav:"ttl,omitempty" json:"-"`
}
