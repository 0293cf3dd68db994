// Package sesevents plays, in front of aws-ses-v2-local, the two parts of SES the
// emulator lacks: event publishing through a configuration set to EventBridge, and
// the mailbox simulator. A SendEmail through it reaches the emulator unchanged; once
// the emulator has accepted the message, the events a real SES would publish for it
// (Send, then Delivery, Bounce or Complaint as the recipient decides) are delivered
// as EventBridge events to a function, as the template's rule routes them, with
// Lambda's asynchronous retries. Addresses of the simulator
// (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator):
//
//	success@simulator.amazonses.com         Delivery
//	bounce@simulator.amazonses.com          Bounce, Permanent/General (5.1.1 user unknown)
//	ooto@simulator.amazonses.com            Delivery (the auto-reply goes to the sender)
//	complaint@simulator.amazonses.com       Delivery, then Complaint (abuse)
//	suppressionlist@simulator.amazonses.com Bounce, Permanent/OnAccountSuppressionList
//
// A label after '+' (bounce+seller1@...) is allowed, as SES allows it. Any other
// address is delivered: the emulator accepted it.
package sesevents

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SimulatorDomain is the mailbox simulator's domain.
const SimulatorDomain = "simulator.amazonses.com"

// Deliver hands one EventBridge event (JSON) to the function the rule targets. An
// error makes the simulator retry, as Lambda retries a failed asynchronous invocation.
type Deliver func(ctx context.Context, event []byte) error

// Options tune the simulator.
type Options struct {
	Account, Region string
	// ConfigurationSet: events are published only for messages sent with this set (as
	// the template's event destination belongs to it); empty publishes for any set.
	// Messages sent without a configuration set publish nothing, as on SES.
	ConfigurationSet string
	// Delay before the first event of a message (SES publishes within seconds), and
	// between retries (Lambda waits a minute, then two; locally much shorter).
	Delay, RetryDelay time.Duration
	Retries           int // after the first attempt; Lambda's default is 2
	Log               *slog.Logger
}

// Simulator is an http.Handler in front of the SES emulator.
type Simulator struct {
	opts    Options
	proxy   *httputil.ReverseProxy
	deliver Deliver
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu        sync.Mutex
	published int
	failed    int
}

// New returns a simulator forwarding to the emulator at upstream.
func New(upstream string, deliver Deliver, opts Options) (*Simulator, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Delay <= 0 {
		opts.Delay = 200 * time.Millisecond
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 500 * time.Millisecond
	}
	if opts.Retries == 0 {
		opts.Retries = 2
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{opts: opts, deliver: deliver, ctx: ctx, cancel: cancel}
	s.proxy = httputil.NewSingleHostReverseProxy(u)
	return s, nil
}

// sendEmailPath is SES v2's SendEmail.
const sendEmailPath = "/v2/email/outbound-emails"

type sendRequest struct {
	ConfigurationSetName string
	FromEmailAddress     string
	Destination          struct{ ToAddresses, CcAddresses, BccAddresses []string }
	EmailTags            []struct{ Name, Value string }
	Content              struct {
		Simple *struct {
			Subject struct{ Data string }
		}
	}
}

func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != sendEmailPath {
		s.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}}
	s.proxy.ServeHTTP(rec, r)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(rec.body.Bytes())
	if status != http.StatusOK {
		return
	}
	var req sendRequest
	var resp struct{ MessageId string }
	if json.Unmarshal(body, &req) != nil || json.Unmarshal(rec.body.Bytes(), &resp) != nil || resp.MessageId == "" {
		return
	}
	if req.ConfigurationSetName == "" || (s.opts.ConfigurationSet != "" && req.ConfigurationSetName != s.opts.ConfigurationSet) {
		return
	}
	s.publish(req, resp.MessageId, time.Now().UTC())
}

// recorder keeps the emulator's answer so that the message id can be read from it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// Outcome is what the simulator makes of one recipient.
func Outcome(addr string) []string {
	local, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok || domain != SimulatorDomain {
		return []string{"Delivery"}
	}
	local, _, _ = strings.Cut(local, "+")
	switch local {
	case "bounce":
		return []string{"Bounce"}
	case "suppressionlist":
		return []string{"BounceSuppressed"}
	case "complaint":
		return []string{"Delivery", "Complaint"}
	}
	return []string{"Delivery"}
}

// publish schedules the events of one accepted message.
func (s *Simulator) publish(req sendRequest, messageID string, at time.Time) {
	var to []string
	to = append(to, req.Destination.ToAddresses...)
	to = append(to, req.Destination.CcAddresses...)
	to = append(to, req.Destination.BccAddresses...)
	tags := map[string][]string{
		"ses:configuration-set": {req.ConfigurationSetName},
		"ses:from-domain":       {domainOf(req.FromEmailAddress)},
		"ses:caller-identity":   {"local"},
	}
	for _, t := range req.EmailTags {
		tags[t.Name] = []string{t.Value}
	}
	subject := ""
	if req.Content.Simple != nil {
		subject = req.Content.Simple.Subject.Data
	}
	mail := map[string]any{
		"timestamp": at.Format(time.RFC3339Nano), "source": req.FromEmailAddress, "messageId": messageID,
		"sourceArn":        "arn:aws:ses:" + s.opts.Region + ":" + s.opts.Account + ":identity/" + domainOf(req.FromEmailAddress),
		"sendingAccountId": s.opts.Account, "destination": to, "headersTruncated": false, "tags": tags,
		"commonHeaders": map[string]any{"from": []string{req.FromEmailAddress}, "to": to, "messageId": messageID, "subject": subject},
	}
	events := []map[string]any{{"eventType": "Send", "send": map[string]any{}}}
	for _, addr := range to {
		for i, kind := range Outcome(addr) {
			t := at.Add(time.Duration(i+1) * time.Second).Format(time.RFC3339Nano)
			switch kind {
			case "Delivery":
				events = append(events, map[string]any{"eventType": "Delivery", "delivery": map[string]any{
					"timestamp": t, "processingTimeMillis": 1000, "recipients": []string{addr},
					"smtpResponse": "250 2.6.0 Message received", "reportingMTA": "a8-70.smtp-out.amazonses.com"}})
			case "Bounce":
				events = append(events, bounce(addr, t, "General", "5.1.1", "smtp; 550 5.1.1 user unknown"))
			case "BounceSuppressed":
				events = append(events, bounce(addr, t, "OnAccountSuppressionList", "5.1.1", "Amazon SES did not send the message to this address because it is on the suppression list for your account."))
			case "Complaint":
				events = append(events, map[string]any{"eventType": "Complaint", "complaint": map[string]any{
					"timestamp": t, "feedbackId": newID(), "complaintFeedbackType": "abuse", "userAgent": "Amazon SES Mailbox Simulator",
					"complainedRecipients": []map[string]string{{"emailAddress": addr}}}})
			}
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if !sleep(s.ctx, s.opts.Delay) {
			return
		}
		for _, ev := range events {
			ev["mail"] = mail
			s.send(ev)
		}
	}()
}

func bounce(addr, t, sub, status, diag string) map[string]any {
	return map[string]any{"eventType": "Bounce", "bounce": map[string]any{
		"bounceType": "Permanent", "bounceSubType": sub, "timestamp": t, "feedbackId": newID(),
		"reportingMTA":      "dns; amazonses.com",
		"bouncedRecipients": []map[string]string{{"emailAddress": addr, "action": "failed", "status": status, "diagnosticCode": diag}}}}
}

// detailTypes are the EventBridge detail-types SES uses for each event type.
var detailTypes = map[string]string{
	"Send": "Email Sent", "Delivery": "Email Delivered", "Bounce": "Email Bounced", "Complaint": "Email Complaint Received",
	"Reject": "Email Rejected", "DeliveryDelay": "Email Delivery Delayed", "Rendering Failure": "Email Rendering Failed",
}

// send delivers one event with Lambda's asynchronous retries.
func (s *Simulator) send(record map[string]any) {
	typ, _ := record["eventType"].(string)
	set := ""
	if m, ok := record["mail"].(map[string]any); ok {
		if tags, ok := m["tags"].(map[string][]string); ok && len(tags["ses:configuration-set"]) > 0 {
			set = tags["ses:configuration-set"][0]
		}
	}
	ev := map[string]any{
		"version": "0", "id": newID(), "detail-type": detailTypes[typ], "source": "aws.ses",
		"account": s.opts.Account, "time": time.Now().UTC().Format(time.RFC3339), "region": s.opts.Region,
		"resources": []string{"arn:aws:ses:" + s.opts.Region + ":" + s.opts.Account + ":configuration-set/" + set},
		"detail":    record,
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return
	}
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 && !sleep(s.ctx, s.opts.RetryDelay*time.Duration(attempt)) {
			return
		}
		err = s.deliver(s.ctx, payload)
		if err == nil {
			s.mu.Lock()
			s.published++
			s.mu.Unlock()
			return
		}
		s.opts.Log.Info("SES event delivery failed; retrying as Lambda would", "eventType", typ, "attempt", attempt+1, "error", err)
	}
	s.mu.Lock()
	s.failed++
	s.mu.Unlock()
	s.opts.Log.Warn("SES event dropped after Lambda's retries (it would reach the function's dead-letter queue)", "eventType", typ, "error", err)
}

// Wait blocks until every event scheduled so far was delivered or given up.
func (s *Simulator) Wait() { s.wg.Wait() }

// Counts returns how many events were delivered and how many given up.
func (s *Simulator) Counts() (published, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.published, s.failed
}

// Close stops pending deliveries.
func (s *Simulator) Close() {
	s.cancel()
	s.wg.Wait()
}

func domainOf(addr string) string {
	if i := strings.LastIndex(addr, "@"); i >= 0 {
		return strings.TrimRight(addr[i+1:], ">")
	}
	return addr
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// String describes the simulator for logs.
func (s *Simulator) String() string {
	p, f := s.Counts()
	return "SES event simulator: " + strconv.Itoa(p) + " events delivered, " + strconv.Itoa(f) + " given up"
}
