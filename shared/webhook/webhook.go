// Package webhook delivers the domain events to the vendor's HTTP endpoints, signed
// per the Standard Webhooks convention (webhook-id, webhook-timestamp,
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>"). The publisher
// queues one message per endpoint per event (Outbox); the sender function delivers
// them from SQS with retries and backoff for more than 24 hours (Sender). Delivery
// never runs in the path of a renewal: only the stream publisher feeds the queue.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/domainevent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Endpoint is one receiver of the webhooks.
type Endpoint struct {
	URL string
	ID  string // derived from the URL: names the endpoint in logs, metrics and the table
}

// EndpointID derives an endpoint's id from its URL.
func EndpointID(u string) string {
	sum := sha256.Sum256([]byte(u))
	return "ep_" + hex.EncodeToString(sum[:6])
}

// ParseEndpoints reads WEBHOOK_URL: one or more URLs separated by commas or spaces.
// Each must be https, or http on a loopback host (local runs): a signed payload still
// must not cross a network in clear text.
func ParseEndpoints(s string) ([]Endpoint, error) {
	var out []Endpoint
	seen := map[string]bool{}
	for _, raw := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
			return nil, fmt.Errorf("WEBHOOK_URL %q: want an absolute https URL without credentials or fragment", raw)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && loopback(u.Hostname()):
		default:
			return nil, fmt.Errorf("WEBHOOK_URL %q: want https (http only on a loopback host)", raw)
		}
		if !seen[raw] {
			seen[raw] = true
			out = append(out, Endpoint{URL: raw, ID: EndpointID(raw)})
		}
	}
	return out, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecretPrefix starts every Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// SigningSecret is an endpoint's signing secret, "whsec_" + base64 of 32 bytes: an
// HMAC of the endpoint's URL under the stack's webhook key (the secret Secrets Manager
// generated at deploy). Each endpoint gets its own secret, so one receiver's secret
// signs nothing for another, while the stack needs one generated secret however many
// endpoints it has. `keeperctl webhooks secret` prints it for the receiver.
func SigningSecret(key secret.Value, endpointURL string) secret.Value {
	m := hmac.New(sha256.New, []byte(key.Reveal()))
	m.Write([]byte("spapi-keeper webhook endpoint\x00" + endpointURL))
	return secret.Value(SecretPrefix + base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// Sign returns the webhook-signature header value for a message.
func Sign(signingSecret secret.Value, id string, ts time.Time, body []byte) (string, error) {
	raw, ok := strings.CutPrefix(signingSecret.Reveal(), SecretPrefix)
	if !ok {
		return "", errors.New("signing secret does not start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", fmt.Errorf("signing secret is not base64 after %s", SecretPrefix)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// Message is one delivery on the webhook queue: one event for one endpoint.
type Message struct {
	EndpointURL string          `json:"endpointUrl"`
	EndpointID  string          `json:"endpointId"`
	EventID     string          `json:"eventId"` // webhook-id: the same on every retry
	DetailType  string          `json:"detailType"`
	Body        json.RawMessage `json:"body"`
}

// NewMessage is the delivery of ev to e.
func NewMessage(e Endpoint, ev domainevent.Event) Message {
	return Message{EndpointURL: e.URL, EndpointID: e.ID, EventID: ev.ID(), DetailType: ev.DetailType, Body: ev.WebhookBody()}
}

// ParseMessage decodes a queue message; a malformed one is an error.
func ParseMessage(body string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Message{}, fmt.Errorf("webhook message: %w", err)
	}
	if m.EndpointURL == "" || m.EventID == "" || len(m.Body) == 0 || m.EndpointID != EndpointID(m.EndpointURL) {
		return Message{}, errors.New("webhook message: endpoint, event id and body are required, and the endpoint id must match its URL")
	}
	return m, nil
}

// Queue sends message bodies (the queue package's Sender).
type Queue interface {
	Send(ctx context.Context, bodies []string) (int, error)
}

// Outbox queues deliveries for the publisher.
type Outbox struct {
	queue     Queue
	endpoints []Endpoint
}

// NewOutbox returns an outbox for the endpoints.
func NewOutbox(q Queue, endpoints []Endpoint) *Outbox { return &Outbox{queue: q, endpoints: endpoints} }

// Enqueue queues one message per endpoint per event.
func (o *Outbox) Enqueue(ctx context.Context, evs []domainevent.Event) error {
	var bodies []string
	for _, ev := range evs {
		for _, e := range o.endpoints {
			b, err := json.Marshal(NewMessage(e, ev))
			if err != nil {
				return err
			}
			bodies = append(bodies, string(b))
		}
	}
	if len(bodies) == 0 {
		return nil
	}
	_, err := o.queue.Send(ctx, bodies)
	return err
}
