package authz

// EventExpiring is written by the expiry scan when it moves an authorization into the
// reminder window (active → expiring): the domain event "Authorization Expiring"
// comes from it, like every other domain event comes from a history item.
const EventExpiring EventKind = "expiring"

// EventsWith returns events with the record's state filled in where the caller left it
// empty: the status, seller and expiry the record has once the events are written.
func EventsWith(a Authorization, events []Event) []Event {
	out := make([]Event, len(events))
	for i, e := range events {
		if e.StatusAfter == "" {
			e.StatusAfter = a.Status
		}
		if e.SellingPartnerID == "" {
			e.SellingPartnerID = a.SellingPartnerID
		}
		if e.ExpiresAt.IsZero() {
			e.ExpiresAt = a.ExpiresAt
		}
		out[i] = e
	}
	return out
}
