package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/jobs"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// Request names one authorization to refresh. It is the refresh queue's message body
// and, without QueuedAt, the payload of a direct invocation.
type Request = jobs.RefreshRequest

// ErrBadMessage says a message or payload does not name an authorization.
var ErrBadMessage = jobs.ErrBadRefreshRequest

// ParseRequest decodes and checks a queue message body or a direct payload.
func ParseRequest(body []byte) (Request, error) { return jobs.ParseRefreshRequest(body) }

// Results of a refresh.
const (
	ResultRefreshed  = "refreshed"  // LWA accepted the refresh token
	ResultRestored   = "restored"   // accepted again after a revocation: the record is active again
	ResultRepaired   = "repaired"   // the vault held a newer authorization than the record; the record caught up
	ResultRevoked    = "revoked"    // invalid_grant before expiresAt
	ResultExpired    = "expired"    // invalid_grant at or after expiresAt
	ResultChecked    = "checked"    // not due for a proof of life, and the vault holds nothing newer
	ResultNotFound   = "not_found"  // no such authorization (deleted since it was queued)
	ResultSuperseded = "superseded" // a renewal replaced the token while it was being refreshed
	ResultFailed     = "failed"     // see Reason; Retry says whether the queue should try again
)

// Outcome is what one refresh did; the direct invocation returns it as JSON. It never
// holds a token.
type Outcome struct {
	ConnectionID    string       `json:"connectionId"`
	Region          authz.Region `json:"region"`
	Result          string       `json:"result"`
	Reason          string       `json:"reason,omitempty"` // the RefreshFailed reason
	Retry           bool         `json:"retry"`            // the queue should deliver the request again
	Status          authz.Status `json:"status,omitempty"`
	ExpiresAt       time.Time    `json:"expiresAt,omitzero"`
	LastRefreshAt   time.Time    `json:"lastRefreshAt,omitzero"`
	RefreshFailures int          `json:"refreshFailures,omitempty"`
	Version         int64        `json:"version,omitempty"`
	SecretWritten   bool         `json:"secretWritten"`
	// FingerprintTaken: the connection had no account fingerprint and got one now.
	FingerprintTaken bool   `json:"fingerprintTaken,omitempty"`
	ReconnectQueued  bool   `json:"reconnectQueued"`
	Error            string `json:"error,omitempty"`
}

// ReasonStillRevoked marks a failed proof of life of an authorization already
// revoked: counted apart from ReasonRevoked, so the alarm on new revocations does
// not fire again on the sweeps that confirm one.
const ReasonStillRevoked = "still_revoked"

// maxWrites bounds the re-read-and-retry loop on version conflicts: each conflict
// means another writer (a callback, a reminder claim, the expiry scan) won a race.
const maxWrites = 5

// clockSkew is how much later a secret's authorizedAt must be than the record's to
// count as newer: both are written from one clock reading, at different precisions.
const clockSkew = time.Second

// observation is what LWA said about a refresh token.
type observation int

const (
	observedAccepted observation = iota
	observedRefused              // invalid_grant
	observedNoSecret             // the vault has no usable refresh token
)

// Refresh proves one authorization alive, records the outcome, logs it and emits
// its metric.
func (s *Service) Refresh(ctx context.Context, req Request) Outcome {
	o := s.refresh(ctx, req)
	s.report(ctx, o)
	return o
}

func (s *Service) refresh(ctx context.Context, req Request) Outcome {
	out := Outcome{ConnectionID: req.ConnectionID, Region: req.Region}
	a, err := s.store.Get(ctx, req.ConnectionID, req.Region)
	switch {
	case errors.Is(err, authz.ErrNotFound):
		out.Result = ResultNotFound
		return out
	case err != nil:
		return failed(out, ReasonUnavailable, true, fmt.Errorf("read record: %w", err))
	}
	out.describe(a)
	rt, err := s.vault.Get(ctx, req.ConnectionID, req.Region)
	switch {
	case errors.Is(err, authz.ErrSecretNotFound), errors.Is(err, authz.ErrSecretMalformed):
		if !s.proofDue(a) {
			out.Result = ResultChecked
			return out
		}
		return s.write(ctx, req, out, a, authz.RefreshToken{}, observedNoSecret, err, authz.Account{})
	case err != nil:
		return failed(out, ReasonUnavailable, true, fmt.Errorf("read refresh token: %w", err))
	}
	if !newer(rt.AuthorizedAt, a.AuthorizedAt) && !s.proofDue(a) && !req.Force {
		out.Result = ResultChecked
		return out
	}
	if s.clientPaused() {
		return failed(out, ReasonClient, true, errors.New("LWA refused the client credentials moments ago; not calling it again yet"))
	}
	tokens, err := s.exchange(ctx, rt.Token)
	switch {
	case err == nil:
	case errors.Is(err, authz.ErrInvalidGrant):
		return s.write(ctx, req, out, a, rt, observedRefused, err, authz.Account{})
	default:
		return failed(out, reasonOf(err), true, err)
	}
	if !tokens.RefreshToken.IsZero() && tokens.RefreshToken != rt.Token {
		// LWA handed back another refresh token: store it before anything else, as
		// the callback does, so that a token once received is never lost.
		written, err := s.storeRotated(ctx, a, rt, tokens.RefreshToken)
		if err != nil {
			return failed(out, ReasonUnavailable, true, err)
		}
		if !written {
			out.Result = ResultSuperseded
			return out
		}
		out.SecretWritten = true
	}
	return s.write(ctx, req, out, a, rt, observedAccepted, nil, s.fingerprint(ctx, a, tokens.AccessToken))
}

// fingerprint takes the account fingerprint of a seller connection that has none,
// with the access token LWA just issued for its stored refresh token, so that its
// next renewal can be checked against the account it belongs to. Vendor accounts have
// no Sellers API. A failure is logged and leaves the record without one: the next
// refresh tries again, and the refresh itself succeeds.
func (s *Service) fingerprint(ctx context.Context, a authz.Authorization, accessToken secret.Value) authz.Account {
	if s.accounts == nil || a.AccountType == authz.AccountVendor || !a.Account.IsZero() || accessToken.IsZero() {
		return authz.Account{}
	}
	log := s.log.With("connectionId", a.ConnectionID, "region", string(a.Region))
	fp, err := s.accounts.Account(ctx, a.Region, accessToken)
	if err != nil {
		log.WarnContext(ctx, "account fingerprint not taken; the next refresh tries again", "error", err.Error())
		return authz.Account{}
	}
	if fp.SellerIDVerified && a.SellingPartnerID != "" && fp.SellerID != a.SellingPartnerID {
		// The stored token answers for another seller than the record names: not a
		// fingerprint to trust future renewals to.
		log.ErrorContext(ctx, "account fingerprint not stored: SP-API names another seller than the record", "sellerId", fp.SellerID,
			"sellingPartnerId", a.SellingPartnerID)
		return authz.Account{}
	}
	return fp
}

// exchange asks LWA within the budget. On invalid_client or unauthorized_client the
// LWA client itself has already dropped the cached client credentials and asked once
// more with the lwa-client secret read afresh (a secret rotated a moment ago is picked
// up before anyone is paged); refused twice, refreshes fail fast for a while.
func (s *Service) exchange(ctx context.Context, token secret.Value) (authz.Tokens, error) {
	if err := s.pacer.Wait(ctx); err != nil {
		return authz.Tokens{}, fmt.Errorf("waiting for the LWA budget: %w", err)
	}
	t, err := s.lwa.Refresh(ctx, token)
	if isClientErr(err) {
		s.pauseClient()
	}
	return t, err
}

func isClientErr(err error) bool {
	return errors.Is(err, authz.ErrClientRejected) || errors.Is(err, authz.ErrClientNotConfigured)
}

// storeRotated writes a refresh token LWA returned in place of the stored one, unless
// the vault no longer holds the token that was refreshed (a renewal wrote a newer
// one meanwhile, which must not be overwritten). Secrets Manager has no conditional
// write; the re-read narrows the race to the moments between two calls.
func (s *Service) storeRotated(ctx context.Context, a authz.Authorization, used authz.RefreshToken, rotated secret.Value) (bool, error) {
	current, err := s.vault.Get(ctx, a.ConnectionID, a.Region)
	if err != nil {
		return false, fmt.Errorf("re-read refresh token before storing LWA's new one: %w", err)
	}
	if current.Token != used.Token {
		return false, nil
	}
	if _, err := s.vault.Put(ctx, a.ConnectionID, a.Region, authz.RefreshToken{
		Token: rotated, SellingPartnerID: used.SellingPartnerID, Region: a.Region, AuthorizedAt: used.AuthorizedAt,
	}); err != nil {
		return false, fmt.Errorf("store LWA's new refresh token: %w", err)
	}
	return true, nil
}

// write records an observation on the authorization, conditional on its version. On
// a conflict it reads the record again and applies the observation anew, unless a
// renewal happened in between: then the observation was about a token that is no
// longer the current one, and the renewal's own write stands.
func (s *Service) write(ctx context.Context, req Request, out Outcome, a authz.Authorization, rt authz.RefreshToken, obs observation, cause error, fp authz.Account) Outcome {
	basis := a.AuthorizedAt
	if rt.AuthorizedAt.After(basis) {
		basis = rt.AuthorizedAt
	}
	wasRevoked := a.Status == authz.StatusRevoked
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			var err error
			a, err = s.store.Get(ctx, a.ConnectionID, a.Region)
			switch {
			case errors.Is(err, authz.ErrNotFound):
				out.Result = ResultNotFound
				return out
			case err != nil:
				return failed(out, ReasonUnavailable, true, fmt.Errorf("re-read record: %w", err))
			case newer(a.AuthorizedAt, basis):
				out.describe(a)
				out.Result = ResultSuperseded
				return out
			}
			wasRevoked = a.Status == authz.StatusRevoked
		}
		now := s.clock.Now().UTC()
		next, events, result, revokedNow := s.apply(a, rt, obs, cause, now)
		if obs == observedAccepted && next.Account.IsZero() && !fp.IsZero() {
			next.Account = fp
		}
		updated, err := s.store.Update(ctx, next, events...)
		switch {
		case err == nil:
		case errors.Is(err, authz.ErrVersionConflict) && attempt+1 < maxWrites:
			continue
		case errors.Is(err, authz.ErrNotFound):
			out.Result = ResultNotFound
			return out
		default:
			return failed(out, ReasonUnavailable, true, fmt.Errorf("write record: %w", err))
		}
		out.describe(updated)
		out.Result = result
		out.FingerprintTaken = obs == observedAccepted && a.Account.IsZero() && !updated.Account.IsZero()
		switch obs {
		case observedRefused:
			out.Reason = map[string]string{ResultRevoked: ReasonRevoked, ResultExpired: ReasonExpired}[result]
			if result == ResultRevoked && wasRevoked && !revokedNow {
				out.Reason = ReasonStillRevoked
			}
			out.Error = cause.Error()
		case observedNoSecret:
			out.Result, out.Reason, out.Error = ResultFailed, ReasonNoSecret, cause.Error()
		}
		if revokedNow {
			return s.queueReconnect(ctx, out, updated, now)
		}
		if obs == observedRefused && wasRevoked && result == ResultRevoked && !req.QueuedAt.IsZero() {
			return s.requeueReconnect(ctx, out, updated, req.QueuedAt)
		}
		return out
	}
}

// apply returns the record as the observation leaves it, the history events to write
// with it, the result, and whether it turned the record revoked.
func (s *Service) apply(a authz.Authorization, rt authz.RefreshToken, obs observation, cause error, now time.Time) (authz.Authorization, []authz.Event, string, bool) {
	before := a.Status
	event := func(kind authz.EventKind, detail string) authz.Event {
		return authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: kind, Detail: detail, StatusBefore: before}
	}
	var events []authz.Event
	result := ResultRefreshed
	if obs != observedNoSecret && newer(rt.AuthorizedAt, a.AuthorizedAt) {
		// A callback stored this authorization's secret, then failed to write the
		// record (DESIGN.md: secret first, then the record). Bring the record up to date.
		kind := a.Renew(rt.AuthorizedAt, rt.SellingPartnerID)
		if rt.SecretID != "" {
			a.SecretID = rt.SecretID // its own secret or its bucket
		} else if a.SecretID == "" {
			a.SecretID = s.vault.SecretName(a.ConnectionID, a.Region)
		}
		a.RefreshSlot = authz.SlotFor(a.ConnectionID, a.Region, s.cfg.Slots)
		a.Status = a.StatusAt(now, s.cfg.ExpiringWindow)
		events = append(events, event(kind, "repaired from the vault: the authorization of "+
			rt.AuthorizedAt.UTC().Format(time.RFC3339)+" by selling partner "+rt.SellingPartnerID+" had not reached the ledger"))
		result = ResultRepaired
	}
	revokedNow := false
	switch obs {
	case observedAccepted:
		a.LastRefreshAt = now
		a.LastRefreshError = ""
		a.RefreshFailures = 0
		if a.Status == authz.StatusRevoked {
			a.Status = authz.StatusActive
			a.Status = a.StatusAt(now, s.cfg.ExpiringWindow)
			events = append(events, event(authz.EventRestored, "LWA accepted the refresh token again"))
			if result == ResultRefreshed {
				result = ResultRestored
			}
		}
	case observedRefused:
		a.LastRefreshError = truncate(cause.Error(), 300)
		a.RefreshFailures++
		if !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt) {
			// Amazon deactivates the refresh token when the 365 days are over; the expiry
			// scan's reminders continue from here.
			if a.Status != authz.StatusExpired {
				a.Status = authz.StatusExpired
				events = append(events, event(authz.EventExpired, "LWA refused the refresh token after expiry: "+truncate(cause.Error(), 200)))
			}
			result = ResultExpired
		} else {
			// invalid_grant before expiry: the seller removed the app (or Amazon revoked
			// it). Only the seller can fix it, by authorizing again.
			if a.Status != authz.StatusRevoked {
				a.Status = authz.StatusRevoked
				revokedNow = true
				events = append(events, event(authz.EventRevoked, "LWA refused the refresh token before expiry: "+truncate(cause.Error(), 200)))
			}
			result = ResultRevoked
		}
	case observedNoSecret:
		a.LastRefreshError = truncate("no refresh token in the vault: "+cause.Error(), 300)
		a.RefreshFailures++
		result = ResultFailed
	}
	return a, events, result, revokedNow
}

// queueReconnect puts the reconnect email for a revocation recorded at revokedAt on
// the reminder queue. If that fails the request is retried, and the retry queues it
// again from the history (requeueReconnect).
func (s *Service) queueReconnect(ctx context.Context, out Outcome, a authz.Authorization, revokedAt time.Time) Outcome {
	job := stages.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: stages.StageReconnect, ExpiresAt: a.ExpiresAt, RevokedAt: revokedAt}
	if _, err := s.reminderQ.Send(ctx, []string{job.Marshal()}); err != nil {
		out.Retry = true
		out.Error = fmt.Sprintf("revocation recorded but the reconnect email was not queued: %v", err)
		return out
	}
	out.ReconnectQueued = true
	return out
}

// requeueReconnect runs on a redelivered request whose record is already revoked: if
// the revocation happened after the request was queued, this request's earlier
// attempt recorded it and may have failed to queue the email. It queues it again
// with the same revocation time; the sender claims each revocation's email once.
func (s *Service) requeueReconnect(ctx context.Context, out Outcome, a authz.Authorization, queuedAt time.Time) Outcome {
	history, err := s.store.History(ctx, a.ConnectionID, 20)
	if err != nil {
		out.Retry = true
		out.Error = fmt.Sprintf("could not read the history to check the reconnect email: %v", err)
		return out
	}
	for _, e := range history {
		if e.Region != a.Region || e.Kind != authz.EventRevoked {
			continue
		}
		if e.At.Before(queuedAt) {
			return out // revoked before this request existed: its email was queued then
		}
		return s.queueReconnect(ctx, out, a, e.At)
	}
	return out
}

// proofDue says whether the record is one the sweep proves alive with LWA: active and
// expiring ones, and revoked ones until the revocation is confirmed. The others
// (pending, expired, confirmed revocations) are only checked for a newer secret.
func (s *Service) proofDue(a authz.Authorization) bool {
	switch a.Status {
	case authz.StatusActive, authz.StatusExpiring:
		return true
	case authz.StatusRevoked:
		return a.RefreshFailures < s.cfg.ConfirmRevokedAfter
	}
	return false
}

func (s *Service) clientPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Now().Before(s.clientDown)
}

func (s *Service) pauseClient() {
	s.mu.Lock()
	s.clientDown = s.clock.Now().Add(s.cfg.ClientPause)
	s.mu.Unlock()
}

// reasonOf classifies a failure that leaves the record as it is.
func reasonOf(err error) string {
	switch {
	case isClientErr(err):
		return ReasonClient
	case errors.Is(err, authz.ErrThrottled):
		return ReasonThrottled
	case errors.Is(err, authz.ErrBadRequest):
		return ReasonBadRequest
	}
	return ReasonUnavailable
}

func failed(out Outcome, reason string, retry bool, err error) Outcome {
	out.Result, out.Reason, out.Retry, out.Error = ResultFailed, reason, retry, err.Error()
	return out
}

func (o *Outcome) describe(a authz.Authorization) {
	o.Status, o.ExpiresAt, o.LastRefreshAt, o.RefreshFailures, o.Version = a.Status, a.ExpiresAt, a.LastRefreshAt, a.RefreshFailures, a.Version
}

// report logs the outcome (one line per decision) and emits its metric.
func (s *Service) report(ctx context.Context, o Outcome) {
	attrs := []slog.Attr{
		slog.String("connectionId", o.ConnectionID), slog.String("region", string(o.Region)),
		slog.String("result", o.Result), slog.String("status", string(o.Status)), slog.Int64("version", o.Version),
	}
	if o.Reason != "" {
		attrs = append(attrs, slog.String("reason", o.Reason), slog.Bool("retry", o.Retry))
	}
	if o.SecretWritten {
		attrs = append(attrs, slog.Bool("secretWritten", true))
	}
	if o.FingerprintTaken {
		attrs = append(attrs, slog.Bool("fingerprintTaken", true))
	}
	if o.ReconnectQueued {
		attrs = append(attrs, slog.Bool("reconnectQueued", true))
	}
	if o.Error != "" {
		attrs = append(attrs, slog.String("error", o.Error))
	}
	level := slog.LevelInfo
	switch o.Reason {
	case ReasonClient, ReasonBadRequest, ReasonNoSecret:
		level = slog.LevelError
	case ReasonRevoked, ReasonStillRevoked, ReasonExpired, ReasonThrottled, ReasonUnavailable:
		level = slog.LevelWarn
	}
	switch {
	case o.Retry && o.Reason == "":
		level = slog.LevelError // the outcome is recorded but a follow-up step failed
	case o.Result == ResultChecked:
		level = slog.LevelDebug // pending, expired, confirmed revocations: nothing happened
	}
	s.log.LogAttrs(ctx, level, "refresh "+o.Result, attrs...)
	switch {
	case o.Result == ResultRefreshed || o.Result == ResultRestored || o.Result == ResultRepaired:
		s.metrics.Count(MetricSucceeded, 1)
	case o.Reason != "":
		s.metrics.Count(MetricFailed, 1, metrics.Dim{Name: "Reason", Value: o.Reason})
	}
}

// newer says whether a is later than b by more than the clock skew allowed.
func newer(a, b time.Time) bool { return a.Sub(b) > clockSkew }

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
