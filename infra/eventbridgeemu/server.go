// Package eventbridgeemu is an in-memory Amazon EventBridge that speaks the service's
// wire protocol (AWS JSON 1.1, X-Amz-Target AWSEvents.*), so the production SDK client
// talks to it unchanged through AWS_ENDPOINT_URL_EVENTBRIDGE. No EventBridge emulator
// runs here (the npm ones are plugins of other frameworks), so this one implements what
// the keeper uses: CreateEventBus, PutEvents (the entry checks and per-entry failures
// of the real service), PutRule with event patterns, PutTargets, and delivery of each
// matching event to its targets: an SQS queue (through an SQS client, e.g. the SQS
// emulator) or, for tests and the local stack, a Go function.
package eventbridgeemu

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The account and region every ARN names.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

const targetPrefix = "AWSEvents."

// maxEntrySize is EventBridge's limit of one entry (256 KiB); maxBody bounds a request.
const (
	maxEntrySize = 256 * 1024
	maxBody      = 2 << 20
)

// Envelope is an event as EventBridge delivers it to targets.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	Bus        string          `json:"-"`
}

// Deliver delivers one event (the envelope's JSON) to a target.
type Deliver func(ctx context.Context, arn string, event []byte) error

type rule struct {
	name    string
	pattern Pattern
	raw     string
	enabled bool
	targets map[string]string // id → ARN
}

type bus struct {
	rules map[string]*rule
}

// Server is the emulator; it implements http.Handler and is safe for concurrent use.
type Server struct {
	deliver Deliver
	now     func() time.Time

	mu       sync.Mutex
	buses    map[string]*bus
	events   []Envelope
	failNext []string // error codes for the next PutEvents entries
	subs     []subscriber
	errs     []error // delivery failures, for tests
}

type subscriber struct {
	bus     string
	pattern Pattern
	fn      func(Envelope)
}

// New returns an emulator with the default bus. deliver sends events to rule targets
// (nil: targets are recorded but nothing is sent).
func New(deliver Deliver) *Server {
	return &Server{deliver: deliver, now: time.Now, buses: map[string]*bus{"default": {rules: map[string]*rule{}}}}
}

// CreateBus creates a bus (as CreateEventBus does); an existing one is kept.
func (s *Server) CreateBus(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buses[name]; !ok {
		s.buses[name] = &bus{rules: map[string]*rule{}}
	}
}

// Subscribe calls fn with every event put on the bus that matches pattern (a JSON
// event pattern; "" matches all): the Go-level target of tests and the local stack.
func (s *Server) Subscribe(busName, pattern string, fn func(Envelope)) error {
	p, err := ParsePattern(pattern)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, subscriber{bus: busName, pattern: p, fn: fn})
	return nil
}

// Events returns every event accepted so far, on any bus.
func (s *Server) Events() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Envelope(nil), s.events...)
}

// FailNextEntries makes the next n PutEvents entries fail with errorCode (as
// EventBridge reports per entry, e.g. "InternalFailure" or "ThrottlingException").
func (s *Server) FailNextEntries(n int, errorCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failNext = append(s.failNext, errorCode)
	}
}

// DeliveryErrors returns the target deliveries that failed.
func (s *Server) DeliveryErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

type apiError struct {
	status int
	Type   string `json:"__type"`
	Msg    string `json:"message"`
}

func (e *apiError) Error() string { return e.Type + ": " + e.Msg }

func badRequest(typ, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Type: typ, Msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one JSON 1.1 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeJSON(w, http.StatusBadRequest, &apiError{Type: "UnknownOperationException", Msg: "want POST with X-Amz-Target AWSEvents.<Operation>"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, badRequest("ValidationException", "request too large"))
		return
	}
	var out any
	switch op {
	case "PutEvents":
		out, err = s.putEvents(r.Context(), body)
	case "CreateEventBus":
		out, err = s.createEventBus(body)
	case "PutRule":
		out, err = s.putRule(body)
	case "PutTargets":
		out, err = s.putTargets(body)
	default:
		err = badRequest("UnknownOperationException", "operation %s is not emulated", op)
	}
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{status: http.StatusInternalServerError, Type: "InternalException", Msg: err.Error()}
		}
		writeJSON(w, ae.status, ae)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// busName accepts a bus name or ARN; empty is the default bus.
func busName(v string) string {
	if v == "" {
		return "default"
	}
	if i := strings.LastIndex(v, ":event-bus/"); i >= 0 {
		return v[i+len(":event-bus/"):]
	}
	return v
}

func (s *Server) createEventBus(body []byte) (any, error) {
	var in struct{ Name string }
	if err := json.Unmarshal(body, &in); err != nil || in.Name == "" {
		return nil, badRequest("ValidationException", "Name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buses[in.Name]; ok {
		return nil, badRequest("ResourceAlreadyExistsException", "event bus %s already exists", in.Name)
	}
	s.buses[in.Name] = &bus{rules: map[string]*rule{}}
	return map[string]string{"EventBusArn": busARN(in.Name)}, nil
}

func busARN(name string) string {
	return "arn:aws:events:" + Region + ":" + AccountID + ":event-bus/" + name
}

func (s *Server) putRule(body []byte) (any, error) {
	var in struct{ Name, EventBusName, EventPattern, State string }
	if err := json.Unmarshal(body, &in); err != nil || in.Name == "" || in.EventPattern == "" {
		return nil, badRequest("ValidationException", "Name and EventPattern are required (schedules are not emulated)")
	}
	p, err := ParsePattern(in.EventPattern)
	if err != nil {
		return nil, badRequest("InvalidEventPatternException", "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buses[busName(in.EventBusName)]
	if !ok {
		return nil, badRequest("ResourceNotFoundException", "event bus %s does not exist", busName(in.EventBusName))
	}
	r, ok := b.rules[in.Name]
	if !ok {
		r = &rule{name: in.Name, targets: map[string]string{}}
		b.rules[in.Name] = r
	}
	r.pattern, r.raw, r.enabled = p, in.EventPattern, in.State != "DISABLED"
	return map[string]string{"RuleArn": "arn:aws:events:" + Region + ":" + AccountID + ":rule/" + busName(in.EventBusName) + "/" + in.Name}, nil
}

func (s *Server) putTargets(body []byte) (any, error) {
	var in struct {
		Rule, EventBusName string
		Targets            []struct{ Id, Arn string }
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Rule == "" || len(in.Targets) == 0 {
		return nil, badRequest("ValidationException", "Rule and Targets are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buses[busName(in.EventBusName)]
	if !ok {
		return nil, badRequest("ResourceNotFoundException", "event bus %s does not exist", busName(in.EventBusName))
	}
	r, ok := b.rules[in.Rule]
	if !ok {
		return nil, badRequest("ResourceNotFoundException", "rule %s does not exist", in.Rule)
	}
	for _, t := range in.Targets {
		if t.Id == "" || t.Arn == "" {
			return nil, badRequest("ValidationException", "each target needs Id and Arn")
		}
		r.targets[t.Id] = t.Arn
	}
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
}

type putEntry struct {
	Source, DetailType, Detail, EventBusName string
	Resources                                []string
	Time                                     *float64 // epoch seconds, as the SDK sends a timestamp
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func (s *Server) putEvents(ctx context.Context, body []byte) (any, error) {
	var in struct{ Entries []putEntry }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badRequest("ValidationException", "malformed request: %v", err)
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, badRequest("ValidationException", "Entries must have 1 to 10 members, got %d", len(in.Entries))
	}
	type delivery struct {
		arn string
		fn  func(Envelope)
		env Envelope
	}
	var deliveries []delivery
	results := make([]resultEntry, len(in.Entries))
	failed := 0
	s.mu.Lock()
	for i, e := range in.Entries {
		env, code, msg := s.accept(e)
		if code == "" && len(s.failNext) > 0 {
			code, msg = s.failNext[0], "injected fault"
			s.failNext = s.failNext[1:]
		}
		if code != "" {
			results[i] = resultEntry{ErrorCode: code, ErrorMessage: msg}
			failed++
			continue
		}
		results[i] = resultEntry{EventID: env.ID}
		s.events = append(s.events, env)
		for _, r := range s.buses[env.Bus].rules {
			if r.enabled && r.pattern.Match(env) {
				for _, arn := range r.targets {
					deliveries = append(deliveries, delivery{arn: arn, env: env})
				}
			}
		}
		for _, sub := range s.subs {
			if sub.bus == env.Bus && sub.pattern.Match(env) {
				deliveries = append(deliveries, delivery{fn: sub.fn, env: env})
			}
		}
	}
	s.mu.Unlock()
	// Delivery happens after the entries are accepted, outside the lock, as EventBridge
	// delivers asynchronously from the caller's point of view.
	for _, d := range deliveries {
		if d.fn != nil {
			d.fn(d.env)
			continue
		}
		if s.deliver == nil {
			continue
		}
		b, _ := json.Marshal(d.env)
		if err := s.deliver(ctx, d.arn, b); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("deliver %s to %s: %w", d.env.ID, d.arn, err))
			s.mu.Unlock()
		}
	}
	return map[string]any{"FailedEntryCount": failed, "Entries": results}, nil
}

// accept checks an entry as EventBridge does and returns its envelope, or an error
// code and message for that entry alone.
func (s *Server) accept(e putEntry) (Envelope, string, string) {
	name := busName(e.EventBusName)
	if _, ok := s.buses[name]; !ok {
		return Envelope{}, "ResourceNotFoundException", "event bus " + name + " does not exist"
	}
	if e.Source == "" || e.DetailType == "" || e.Detail == "" {
		return Envelope{}, "InvalidArgument", "Source, DetailType and Detail are required"
	}
	if len(e.Source)+len(e.DetailType)+len(e.Detail)+len(strings.Join(e.Resources, "")) > maxEntrySize {
		return Envelope{}, "InvalidArgument", "entry larger than 256 KiB"
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &obj); err != nil {
		return Envelope{}, "MalformedDetail", "Detail is not a JSON object"
	}
	at := s.now().UTC()
	if e.Time != nil {
		sec := int64(*e.Time)
		at = time.Unix(sec, int64((*e.Time-float64(sec))*1e9)).UTC()
	}
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	return Envelope{Version: "0", ID: newID(), DetailType: e.DetailType, Source: e.Source, Account: AccountID,
		Time: at.Format(time.RFC3339), Region: Region, Resources: resources, Detail: json.RawMessage(e.Detail), Bus: name}, "", ""
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
