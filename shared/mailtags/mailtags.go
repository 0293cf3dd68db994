// Package mailtags is the contract between the reminder sender and the delivery
// function: the SES message tags every reminder carries, so that an event names its
// reminder entry without an index from message id to record.
package mailtags

import (
	"encoding/base64"
	"fmt"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Message tags the reminder sender puts on every email, so that an event names its
// reminder entry without an index from message id to record. SES allows only ASCII
// letters, digits, '_' and '-' in tag values (at most 256 characters), so the
// connection id and the stage key, which may hold '.', '@' or '+', travel base64url
// encoded. The tags are no proof: the entry's stored message id is.
const (
	TagConnection = "keeper-connection"
	TagRegion     = "keeper-region"
	TagStage      = "keeper-stage"
)

// Tags are the message tags of the reminder for stage of a's connection and region.
func Tags(connectionID string, region authz.Region, stage string) map[string]string {
	enc := base64.RawURLEncoding
	return map[string]string{
		TagConnection: enc.EncodeToString([]byte(connectionID)),
		TagRegion:     string(region),
		TagStage:      enc.EncodeToString([]byte(stage)),
	}
}

// Target is the reminder entry an event's tags name.
type Target struct {
	ConnectionID string
	Region       authz.Region
	Stage        string
}

// ErrNotOurs: the event carries none of the keeper's tags (another sender of the
// account, or another configuration set's events on the same bus).
var ErrNotOurs = fmt.Errorf("SES event without the keeper's message tags")

// ParseTags reads the keeper's tags from an event's mail.tags (SES gives each tag as
// a list of values).
func ParseTags(tags map[string][]string) (Target, error) {
	first := func(k string) string {
		if v := tags[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	c, r, st := first(TagConnection), first(TagRegion), first(TagStage)
	if c == "" && r == "" && st == "" {
		return Target{}, ErrNotOurs
	}
	enc := base64.RawURLEncoding
	conn, err := enc.DecodeString(c)
	if err != nil {
		return Target{}, fmt.Errorf("tag %s: %w", TagConnection, err)
	}
	if err := authz.ValidateConnectionID(string(conn)); err != nil {
		return Target{}, fmt.Errorf("tag %s: %w", TagConnection, err)
	}
	region, err := authz.ParseRegion(r)
	if err != nil {
		return Target{}, fmt.Errorf("tag %s: %w", TagRegion, err)
	}
	stage, err := enc.DecodeString(st)
	if err != nil || len(stage) == 0 || len(stage) > 100 {
		return Target{}, fmt.Errorf("tag %s: not a stage key", TagStage)
	}
	return Target{ConnectionID: string(conn), Region: region, Stage: string(stage)}, nil
}
