// Package secretsemu is an in-memory AWS Secrets Manager that speaks the service's own
// wire protocol (AWS JSON 1.1), so the production SDK client talks to it unchanged,
// through BaseEndpoint or AWS_ENDPOINT_URL_SECRETS_MANAGER. No Secrets Manager
// emulator is installable here; this one follows the documented semantics of the
// operations the project uses (versions and staging labels, ClientRequestToken
// idempotency, scheduled deletion) and lets tests inject AWS errors and count calls.
package secretsemu

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The account and region every ARN names: an emulator has no account of its own.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// targetPrefix is the service name AWS JSON 1.1 puts before the operation in X-Amz-Target.
const targetPrefix = "secretsmanager."

// maxBody bounds a request: a secret value is at most 64 KiB (base64 makes a binary one
// larger), so 1 MiB is far above any valid request.
const maxBody = 1 << 20

// Option configures a Server.
type Option func(*Server)

// WithClock makes the server read the time from now, so tests can move past a
// recovery window or the 24 hours after which deprecated versions may be removed.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// Server is the emulator. It implements http.Handler and is safe for concurrent use:
// one mutex serialises every request, which keeps each operation atomic as in AWS.
type Server struct {
	now func() time.Time

	mu      sync.Mutex
	secrets map[string]*secretRecord // by name
	calls   map[string]int
	faults  map[string][]fault
	delays  map[string][]time.Duration
	landed  map[string]int // requests that ran after an injected delay
}

type fault struct {
	errType   string
	remaining int
}

// New returns an empty emulator.
func New(opts ...Option) *Server {
	s := &Server{
		now:     time.Now,
		secrets: make(map[string]*secretRecord),
		calls:   make(map[string]int),
		faults:  make(map[string][]fault),
		delays:  make(map[string][]time.Duration),
		landed:  make(map[string]int),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// FailNext makes the next n calls of operation (e.g. "GetSecretValue") answer the AWS
// error errType instead of running: "InternalServiceError" and "InternalFailure" with
// HTTP 500, "ServiceUnavailable" with 503, anything else (ThrottlingException,
// ResourceNotFoundException, ...) with 400. Faults queue up in the order given. The SDK
// retries 5xx and throttling answers, so a fault meant to reach the caller needs n at
// least the client's attempt count.
func (s *Server) FailNext(operation string, n int, errType string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[operation] = append(s.faults[operation], fault{errType: errType, remaining: n})
}

// DelayNext makes the next request of operation wait d before it runs, and run even
// if the client has given up meanwhile: a request AWS received is carried out whether
// or not anyone still waits for the answer. Tests use it for writes that land late,
// after the writer's lease has expired.
func (s *Server) DelayNext(operation string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[operation] = append(s.delays[operation], d)
}

// Landed is how many delayed requests of operation have run.
func (s *Server) Landed(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.landed[operation]
}

// Calls is how many requests for operation reached the server, injected faults and
// AWS errors included.
func (s *Server) Calls(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[operation]
}

// Versions is how many versions the secret (a name or an ARN) holds, deprecated ones
// (no staging label) included; 0 for a secret that does not exist.
func (s *Server) Versions(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, apiErr := s.find(name)
	if apiErr != nil {
		return 0
	}
	return len(sec.versions)
}

// apiError is an AWS error answer: the SDK turns Code into its typed error
// (*types.ResourceNotFoundException, ...) or a smithy.GenericAPIError.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func statusFor(code string) int {
	switch code {
	case "InternalServiceError", "InternalFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func newError(code, message string) *apiError {
	return &apiError{status: statusFor(code), code: code, message: message}
}

type handler func(s *Server, body []byte) (any, *apiError)

var operations = map[string]handler{
	"CreateSecret":             (*Server).createSecret,
	"GetSecretValue":           (*Server).getSecretValue,
	"PutSecretValue":           (*Server).putSecretValue,
	"DescribeSecret":           (*Server).describeSecret,
	"DeleteSecret":             (*Server).deleteSecret,
	"RestoreSecret":            (*Server).restoreSecret,
	"TagResource":              (*Server).tagResource,
	"UntagResource":            (*Server).untagResource,
	"ListSecrets":              (*Server).listSecrets,
	"UpdateSecretVersionStage": (*Server).updateSecretVersionStage,
}

// ServeHTTP answers one AWS JSON 1.1 request: POST / with X-Amz-Target naming the
// operation and the operation's input shape as the JSON body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newUUID())
	if r.Method != http.MethodPost {
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: "UnknownOperationException", message: "Secrets Manager accepts only POST"})
		return
	}
	// Signatures are not verified, but AWS rejects an unsigned request before anything
	// else, and so does the emulator: a client that forgot its credentials fails here too.
	if r.Header.Get("Authorization") == "" {
		writeError(w, newError("MissingAuthenticationTokenException", "Request is missing Authentication Token"))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || op == "" {
		writeError(w, newError("UnknownOperationException", "X-Amz-Target must be secretsmanager.<Operation>"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, newError("SerializationException", "request body unreadable or larger than 1 MiB"))
		return
	}

	s.mu.Lock()
	var delay time.Duration
	if q := s.delays[op]; len(q) > 0 {
		delay, s.delays[op] = q[0], q[1:]
	}
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
		defer func() { s.mu.Lock(); s.landed[op]++; s.mu.Unlock() }()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if apiErr := s.takeFault(op); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	h, ok := operations[op]
	if !ok {
		writeError(w, newError("UnknownOperationException", "operation "+op+" is not implemented by this emulator"))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	out, apiErr := h(s, body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
}

// takeFault consumes one injected fault for op, if any is queued. Callers hold s.mu.
func (s *Server) takeFault(op string) *apiError {
	q := s.faults[op]
	if len(q) == 0 {
		return nil
	}
	f := &q[0]
	f.remaining--
	errType := f.errType
	if f.remaining <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.faults, op)
	} else {
		s.faults[op] = q
	}
	return newError(errType, "injected fault")
}

// writeError answers as AWS JSON 1.1 does: the error code both in X-Amzn-Errortype and
// in the body's __type, the message under "Message" (the member name of Secrets
// Manager's error shapes, which the SDK reads into the typed error).
func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"Message"`
	}{e.code, e.message})
}

// decode reads an operation's input. A body that is not JSON of the input shape is a
// SerializationException, as AWS answers.
func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return newError("SerializationException", "field "+typeErr.Field+" has the wrong JSON type")
		}
		return newError("SerializationException", "request body is not valid JSON")
	}
	return nil
}

// newUUID returns a random (version 4) UUID, the form AWS uses for version ids that the
// caller did not choose.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdigits[c>>4], hexdigits[c&0x0f])
	}
	return string(out)
}
