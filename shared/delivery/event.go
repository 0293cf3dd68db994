package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record is an SES event record (the same JSON whether it came through EventBridge,
// as the event's detail, or SNS, as the message), reduced to what the keeper reads.
// https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
type Record struct {
	EventType string `json:"eventType"`
	Mail      struct {
		Timestamp   string              `json:"timestamp"`
		MessageID   string              `json:"messageId"`
		Destination []string            `json:"destination"`
		Tags        map[string][]string `json:"tags"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`    // Permanent, Transient, Undetermined
		BounceSubType     string `json:"bounceSubType"` // General, NoEmail, Suppressed, OnAccountSuppressionList, ...
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
		Timestamp string `json:"timestamp"`
	} `json:"bounce,omitempty"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplaintSubType      string `json:"complaintSubType"`
		Timestamp             string `json:"timestamp"`
	} `json:"complaint,omitempty"`
	Delivery *struct {
		Timestamp  string   `json:"timestamp"`
		Recipients []string `json:"recipients"`
	} `json:"delivery,omitempty"`
	DeliveryDelay *struct {
		Timestamp string `json:"timestamp"`
		DelayType string `json:"delayType"`
	} `json:"deliveryDelay,omitempty"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject,omitempty"`
	Failure *struct {
		ErrorMessage string `json:"errorMessage"`
		TemplateName string `json:"templateName"`
	} `json:"failure,omitempty"`
}

// SES event types (eventType). Open, Click and Subscription are not enabled on the
// keeper's configuration set and are ignored if they come.
const (
	TypeSend             = "Send"
	TypeDelivery         = "Delivery"
	TypeBounce           = "Bounce"
	TypeComplaint        = "Complaint"
	TypeReject           = "Reject"
	TypeDeliveryDelay    = "DeliveryDelay"
	TypeRenderingFailure = "Rendering Failure"
)

// ErrMalformed: the input is not an SES event record in a known envelope.
var ErrMalformed = errors.New("not an SES event")

// Records unwraps an invocation's payload: an EventBridge event from SES
// (source aws.ses, the record in detail), or an SNS event whose messages are records.
func Records(payload []byte) ([]Record, error) {
	var probe struct {
		Source  string          `json:"source"`
		Detail  json.RawMessage `json:"detail"`
		Records []struct {
			EventSource string `json:"EventSource"`
			Sns         struct {
				Message string `json:"Message"`
			} `json:"Sns"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var raws [][]byte
	switch {
	case probe.Source != "":
		if probe.Source != "aws.ses" || len(probe.Detail) == 0 {
			return nil, fmt.Errorf("%w: EventBridge event from %q", ErrMalformed, probe.Source)
		}
		raws = append(raws, probe.Detail)
	case len(probe.Records) > 0:
		for _, r := range probe.Records {
			if r.EventSource != "aws:sns" {
				return nil, fmt.Errorf("%w: record from %q", ErrMalformed, r.EventSource)
			}
			raws = append(raws, []byte(r.Sns.Message))
		}
	default:
		return nil, fmt.Errorf("%w: neither an EventBridge nor an SNS event", ErrMalformed)
	}
	out := make([]Record, 0, len(raws))
	for _, raw := range raws {
		var rec Record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if rec.EventType == "" || rec.Mail.MessageID == "" {
			return nil, fmt.Errorf("%w: no eventType or mail.messageId", ErrMalformed)
		}
		out = append(out, rec)
	}
	return out, nil
}

// At is when the event happened: its own timestamp, else the mail's, else fallback.
func (r Record) At(fallback time.Time) time.Time {
	var ts string
	switch {
	case r.Bounce != nil:
		ts = r.Bounce.Timestamp
	case r.Complaint != nil:
		ts = r.Complaint.Timestamp
	case r.Delivery != nil:
		ts = r.Delivery.Timestamp
	case r.DeliveryDelay != nil:
		ts = r.DeliveryDelay.Timestamp
	}
	for _, s := range []string{ts, r.Mail.Timestamp} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC()
		}
	}
	return fallback.UTC()
}

// oneLine keeps a diagnostic from SES (a remote server's words) to one short line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
