// Package delivery turns SES's event publishing (Send, Delivery, Bounce, Complaint,
// Reject, DeliveryDelay, Rendering Failure) into facts on the reminder entries they
// concern: a permanent bounce or a complaint flags the seller's contact so that no
// more email goes to it, and every step counts in the renewal funnel. Events reach the
// function through EventBridge (SES v2's EventBridge destination) or SNS.
package delivery

import "github.com/spapi-auth-keeper/keeper/shared/mailtags"

// The message tags of a reminder (shared/mailtags holds them, for the sender too).
const (
	TagConnection = mailtags.TagConnection
	TagRegion     = mailtags.TagRegion
	TagStage      = mailtags.TagStage
)

// Target is the reminder entry an event's tags name.
type Target = mailtags.Target

// ErrNotOurs is an event without the keeper's message tags.
var ErrNotOurs = mailtags.ErrNotOurs

// Tags are the message tags of the reminder for stage of a connection and region.
var Tags = mailtags.Tags

// ParseTags reads an event's tags.
var ParseTags = mailtags.ParseTags
