package amazonsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Selling Partner API for Application Management, v2023-11-30, as the simulator
// plays it: rotateApplicationClientSecret creates a new LWA client secret and sends it
// to the SQS queue the vendor registered for APPLICATION_OAUTH_CLIENT_NEW_SECRET (it is
// never in the answer); the old secret keeps working for seven days. See
// https://developer-docs.amazon.com/sp-api/docs/application-management-api-v2023-11-30-reference
// and https://developer-docs.amazon.com/sp-api/docs/rotate-your-application-client-secret.
const (
	// RotationPath is rotateApplicationClientSecret's path on every SP-API endpoint.
	RotationPath = "/applications/2023-11-30/clientSecret"
	// ScopeRotation is the grantless scope the operation's access token must carry.
	ScopeRotation = "sellingpartnerapi::client_credential:rotation"
	// OldSecretGrace: "The credential you use to call rotateApplicationClientSecret
	// expires after seven days."
	OldSecretGrace = 7 * 24 * time.Hour
	// ClientSecretLifetime: Amazon requires rotating the LWA client secret every 180 days.
	ClientSecretLifetime = 180 * 24 * time.Hour
	// RotationRate and RotationBurst are the operation's usage plan: 0.0167 requests a
	// second (one a minute), burst 1.
	RotationRate  = 0.0167
	RotationBurst = 1.0
	// FaultRotation is the InjectFault key that queues a fault for the next
	// rotateApplicationClientSecret call (never consumed by a token request).
	FaultRotation = "rotateApplicationClientSecret"
)

// appMgmt is the simulator's Application Management state, guarded by Sim.mu.
type appMgmt struct {
	secretExpiry map[string]time.Time // client secret → when LWA stops accepting it
	tokens       float64              // rotation token bucket, RotationBurst when full
	refilledAt   time.Time
	dest         *destination
	requests     int // rotateApplicationClientSecret calls received
	rotations    int // calls that rotated (204)
	sent         int // notifications put on the queue
	failedSends  int
}

// clientSecretValidLocked says whether LWA accepts secret now: it is one of the
// accepted secrets and its expiry, if it has one, has not passed.
func (s *Sim) clientSecretValidLocked(secret string) bool {
	if !s.clientSecrets[secret] {
		return false
	}
	exp, ok := s.apps.secretExpiry[secret]
	return !ok || s.clock().Before(exp)
}

// SetClientSecretExpiry records when LWA stops accepting secret (one of the accepted
// secrets), as the Solution Provider Portal shows it; APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY
// notifications carry it.
func (s *Sim) SetClientSecretExpiry(secret string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps.secretExpiry == nil {
		s.apps.secretExpiry = map[string]time.Time{}
	}
	s.apps.secretExpiry[secret] = at
}

// ClientSecretExpiry is when LWA stops accepting secret; false if it has no expiry.
func (s *Sim) ClientSecretExpiry(secret string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.apps.secretExpiry[secret]
	return exp, ok
}

// CurrentClientSecret is the accepted secret that expires last (the newest one after a
// rotation); with no expiries known, any accepted secret.
func (s *Sim) CurrentClientSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.currentSecretLocked()
}

func (s *Sim) currentSecretLocked() string {
	best, bestExp := "", time.Time{}
	for sec := range s.clientSecrets {
		if !s.clientSecretValidLocked(sec) {
			continue
		}
		exp := s.apps.secretExpiry[sec]
		if best == "" || exp.After(bestExp) || (exp.Equal(bestExp) && sec < best) {
			best, bestExp = sec, exp
		}
	}
	return best
}

// Rotations counts rotateApplicationClientSecret calls that rotated the secret.
func (s *Sim) Rotations() int { return s.countApps(func(a appMgmt) int { return a.rotations }) }

// RotationRequests counts rotateApplicationClientSecret calls received, any outcome.
func (s *Sim) RotationRequests() int { return s.countApps(func(a appMgmt) int { return a.requests }) }

// NotificationsSent counts notifications the simulator put on the registered queue.
func (s *Sim) NotificationsSent() int { return s.countApps(func(a appMgmt) int { return a.sent }) }

func (s *Sim) countApps(f func(appMgmt) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.apps)
}

// spError is one entry of the SP-API ErrorList every error answer carries.
type spError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

func writeSPError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]spError{"errors": {{Code: code, Message: message}}})
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// appRoutes registers the Application Management operation and its admin helpers.
func (s *Sim) appRoutes(mux *http.ServeMux) {
	mux.HandleFunc(RotationPath, s.rotateClientSecret)
	mux.HandleFunc("POST /_sim/notify-secret-expiry", s.adminNotifyExpiry)
	mux.HandleFunc("GET /_sim/client-secret", s.adminClientSecret)
}

// rotateClientSecret serves POST /applications/2023-11-30/clientSecret.
func (s *Sim) rotateClientSecret(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.apps.requests++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeSPError(w, http.StatusMethodNotAllowed, "InvalidInput", "The operation accepts POST only.")
		return
	}
	if code, msg, ok := s.checkGrantless(r.Header.Get("x-amz-access-token")); !ok {
		s.log.Info("rotation refused", "status", http.StatusForbidden, "code", code)
		writeSPError(w, http.StatusForbidden, code, msg)
		return
	}
	if f, ok := s.takeFault(FaultRotation); ok {
		s.log.Info("rotation fault injected", "fault", f.Kind)
		sleep(r.Context(), f.Delay)
		if f.Status != 0 {
			writeSPError(w, f.Status, spCode(f.Status), http.StatusText(f.Status))
			return
		}
	}

	s.mu.Lock()
	if !s.takeRotationTokenLocked() {
		s.mu.Unlock()
		s.log.Info("rotation throttled")
		writeSPError(w, http.StatusTooManyRequests, "QuotaExceeded", "You exceeded your quota for the requested resource.")
		return
	}
	dest := s.apps.dest
	if dest == nil {
		s.mu.Unlock()
		writeSPError(w, http.StatusBadRequest, "InvalidInput",
			"Application is not enrolled for rotation notification. Please update application notification preference in Developer console.")
		return
	}
	n := s.rotateLocked()
	s.mu.Unlock()

	s.log.Info("client secret rotated", "newSecretExpiresAt", n.Payload.NewSecret.NewClientSecretExpiryTime,
		"oldSecretExpiresAt", n.Payload.NewSecret.OldClientSecretExpiryTime)
	// Amazon sends the new secret on its own; delivery is attempted before answering so
	// that tests and the local stack see it at once. A failed delivery does not undo
	// the rotation, as it would not at Amazon.
	s.deliver(r.Context(), dest, n)
	w.Header().Set("x-amzn-RequestId", requestID())
	w.Header().Set("x-amzn-RateLimit-Limit", strconv.FormatFloat(RotationRate, 'f', -1, 64))
	w.WriteHeader(http.StatusNoContent)
}

// checkGrantless checks the x-amz-access-token header: an unexpired token the
// simulator issued by the client_credentials grant, with the rotation scope.
func (s *Sim) checkGrantless(token string) (code, message string, ok bool) {
	const denied = "Access to requested resource is denied."
	if token == "" {
		return "Unauthorized", denied, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, known := s.accessTokens[token]
	switch {
	case !known:
		return "Unauthorized", denied, false
	case !s.clock().Before(g.expiresAt):
		return "Unauthorized", "The access token you provided has expired.", false
	case g.sellerID != "":
		// A seller's token authorizes calls for that seller, never grantless ones.
		return "Unauthorized", denied, false
	}
	for sc := range strings.FieldsSeq(g.scope) {
		if sc == ScopeRotation {
			return "", "", true
		}
	}
	return "Unauthorized", denied, false
}

// takeRotationTokenLocked applies the usage plan: a token bucket of RotationBurst
// refilled at RotationRate a second, on the simulator's clock.
func (s *Sim) takeRotationTokenLocked() bool {
	now := s.clock()
	a := &s.apps
	if a.refilledAt.IsZero() {
		a.tokens = RotationBurst
	} else if d := now.Sub(a.refilledAt); d > 0 {
		a.tokens = min(RotationBurst, a.tokens+d.Seconds()*RotationRate)
	}
	a.refilledAt = now
	if a.tokens < 1 {
		return false
	}
	a.tokens--
	return true
}

// rotateLocked creates the new secret, gives every secret accepted until now seven
// more days at most, and returns the notification that carries the new one.
func (s *Sim) rotateLocked() Notification {
	now := s.clock().UTC()
	if s.apps.secretExpiry == nil {
		s.apps.secretExpiry = map[string]time.Time{}
	}
	oldExpiry := now.Add(OldSecretGrace)
	for sec := range s.clientSecrets {
		if exp, ok := s.apps.secretExpiry[sec]; !ok || exp.After(oldExpiry) {
			s.apps.secretExpiry[sec] = oldExpiry
		}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	next := "amzn1.oa2-cs.v1." + hex.EncodeToString(b)
	s.clientSecrets[next] = true
	s.apps.secretExpiry[next] = now.Add(ClientSecretLifetime)
	s.apps.rotations++
	return s.notificationLocked(NotificationNewSecret, now, Payload{NewSecret: &NewSecretPayload{
		ClientID: s.cfg.ClientID, NewClientSecret: next,
		NewClientSecretExpiryTime: Time(now.Add(ClientSecretLifetime)), OldClientSecretExpiryTime: Time(oldExpiry),
	}})
}

// spCode is the SP-API error code an injected HTTP status answers with.
func spCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "QuotaExceeded"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusBadRequest:
		return "InvalidInput"
	case http.StatusForbidden:
		return "Unauthorized"
	}
	return "InternalFailure"
}

// takeFault takes the next fault queued under key alone (AnyGrant faults are for
// token requests).
func (s *Sim) takeFault(key string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.faults[key]; len(q) > 0 {
		s.faults[key] = q[1:]
		return q[0], true
	}
	return Fault{}, false
}

// NotifyClientSecretExpiry sends APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY for the current
// client secret to the registered queue, as Amazon does ahead of the expiry.
func (s *Sim) NotifyClientSecretExpiry(ctx context.Context) error {
	s.mu.Lock()
	cur := s.currentSecretLocked()
	exp, ok := s.apps.secretExpiry[cur]
	dest := s.apps.dest
	if cur == "" || !ok {
		s.mu.Unlock()
		return errors.New("the current client secret has no expiry (SetClientSecretExpiry)")
	}
	if dest == nil {
		s.mu.Unlock()
		return errors.New("no notification queue is registered (SetNotificationDestination)")
	}
	n := s.notificationLocked(NotificationSecretExpiry, s.clock().UTC(), Payload{SecretExpiry: &SecretExpiryPayload{
		ClientID: s.cfg.ClientID, ClientSecretExpiryTime: Time(exp), ClientSecretExpiryReason: "PERIODIC_ROTATION",
	}})
	s.mu.Unlock()
	return s.deliver(ctx, dest, n)
}

func (s *Sim) adminNotifyExpiry(w http.ResponseWriter, r *http.Request) {
	if err := s.NotifyClientSecretExpiry(r.Context()); err != nil {
		adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"notificationsSent": s.NotificationsSent()})
}

// ClientSecretState is GET /_sim/client-secret: expiries and counters, never a secret.
type ClientSecretState struct {
	Secrets           []SecretState `json:"secrets"`
	RotationRequests  int           `json:"rotationRequests"`
	Rotations         int           `json:"rotations"`
	NotificationsSent int           `json:"notificationsSent"`
	FailedSends       int           `json:"failedSends"`
	QueueRegistered   bool          `json:"queueRegistered"`
}

// SecretState is one accepted client secret, without its value.
type SecretState struct {
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Accepted  bool      `json:"accepted"` // not past its expiry
	Current   bool      `json:"current"`
}

func (s *Sim) adminClientSecret(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := ClientSecretState{RotationRequests: s.apps.requests, Rotations: s.apps.rotations,
		NotificationsSent: s.apps.sent, FailedSends: s.apps.failedSends, QueueRegistered: s.apps.dest != nil}
	cur := s.currentSecretLocked()
	for sec := range s.clientSecrets {
		st.Secrets = append(st.Secrets, SecretState{ExpiresAt: s.apps.secretExpiry[sec].UTC(),
			Accepted: s.clientSecretValidLocked(sec), Current: sec == cur})
	}
	s.mu.Unlock()
	slices.SortFunc(st.Secrets, func(a, b SecretState) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	writeJSON(w, http.StatusOK, st)
}
