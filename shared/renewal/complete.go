package renewal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// CallbackRequest is what Amazon's redirect to the redirect URI carries, and the
// browser bindings (cookie values) the seller's browser presented with it.
type CallbackRequest struct {
	State            string
	SellingPartnerID string
	Code             string // spapi_oauth_code: valid five minutes, single use
	Error            string // set when the seller declined or Amazon failed
	ErrorDescription string
	BrowserBindings  []string
}

// Result is a completed round trip.
type Result struct {
	Authorization authz.Authorization
	Kind          authz.EventKind // authorized or renewed
}

// Complete finishes the round trip. Amazon's redirect parameters are not signed and
// LWA's answer does not name the account, so the order is:
//  1. the state's signature, expiry and browser binding are checked (nothing is
//     consumed for a state presented by another browser), then its nonce is consumed
//     (a replay fails before LWA is called);
//  2. the seller named by the redirect must be the record's, and not bound to another
//     connection in the region;
//  3. the code is exchanged, and with the new access token SP-API is asked which
//     account it is; that evidence must match the account on record (rule 1);
//  4. the refresh token is written to the vault (retried within VaultBudget, else
//     parked encrypted), and only then is the record renewed, in one transaction with
//     the seller's binding and the history event.
//
// A temporary failure before Amazon redeemed the code restores the nonce, so that
// reloading the callback works.
func (s *Service) Complete(ctx context.Context, r CallbackRequest) (Result, error) {
	if err := s.keyed(ctx); err != nil {
		return Result{}, err
	}
	if r.Error != "" {
		s.log.InfoContext(ctx, "seller did not authorize", "amazonError", truncate(r.Error, 64), "description", truncate(r.ErrorDescription, 200))
		return Result{}, ErrDeclined
	}
	switch {
	case r.State == "":
		return Result{}, fmt.Errorf("%w: state", ErrMissingParameter)
	case r.Code == "":
		return Result{}, fmt.Errorf("%w: spapi_oauth_code", ErrMissingParameter)
	case r.SellingPartnerID == "":
		return Result{}, fmt.Errorf("%w: selling_partner_id", ErrMissingParameter)
	case len(r.SellingPartnerID) > 64 || len(r.Code) > 1024:
		return Result{}, fmt.Errorf("%w: parameter too long", ErrStateInvalid)
	}
	now := s.clock.Now()
	st, err := s.signer.VerifyState(r.State, now)
	switch {
	case errors.Is(err, consent.ErrExpired):
		return Result{}, ErrStateExpired
	case err != nil:
		return Result{}, fmt.Errorf("%w: %v", ErrStateInvalid, err)
	}
	log := s.log.With("connectionId", st.ConnectionID, "region", st.Region)
	if !s.signer.CheckBrowserBinding(st.Nonce, r.BrowserBindings) {
		// A consent URL forwarded to (or planted in) another browser: the nonce stays,
		// so the browser that started the round trip can still finish it.
		log.WarnContext(ctx, "state presented without its browser binding; nothing consumed or exchanged", "cookies", len(r.BrowserBindings))
		return Result{}, ErrBrowserMismatch
	}
	connID, region, err := s.store.ConsumeNonce(ctx, st.Nonce, now)
	switch {
	case errors.Is(err, authz.ErrNonceNotFound):
		return Result{}, ErrStateReplayed
	case errors.Is(err, authz.ErrNonceExpired):
		return Result{}, ErrStateExpired
	case err != nil:
		return Result{}, s.storeErr(err, "consume state nonce")
	case !st.SellerCentral && (connID != st.ConnectionID || region != st.Region):
		// A signed state and a stored nonce disagree: only a bug or a forged key does this.
		return Result{}, fmt.Errorf("%w: nonce bound to another authorization", ErrStateInvalid)
	}
	origin := authz.OriginLink
	if st.SellerCentral {
		// A Login URI state names no connection: its nonce's item does.
		origin = authz.OriginLoginURI
		log = s.log.With("connectionId", connID, "region", region, "origin", origin)
	}
	// Until the code is redeemed, a temporary failure gives the nonce back.
	restore := func(cause error) error {
		if perr := s.store.PutNonce(ctx, st.Nonce, connID, region, st.Expires); perr != nil {
			log.ErrorContext(ctx, "could not restore the state nonce after a temporary failure", "error", perr)
		}
		return cause
	}
	var a authz.Authorization
	if connID == "" {
		// The Login URI was called for a seller we do not know.
		a, err = s.onboardingTarget(ctx, log, r.SellingPartnerID, region)
		if err != nil {
			return Result{}, restoreIfTemporary(err, restore)
		}
		origin = authz.OriginOnboarding
	} else if a, err = s.store.Get(ctx, connID, region); err != nil {
		return Result{}, restore(s.storeErr(err, "read authorization"))
	}
	if a.SellingPartnerID != "" && a.SellingPartnerID != r.SellingPartnerID {
		// A forwarded renewal link must not bind another seller's account to this record.
		s.event(ctx, log, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventMismatchedSeller,
			Detail: fmt.Sprintf("callback from selling partner %s; record belongs to %s; nothing exchanged", r.SellingPartnerID, a.SellingPartnerID)})
		log.WarnContext(ctx, "callback from a different selling partner than on record", "sellingPartnerId", r.SellingPartnerID, "recordSellingPartnerId", a.SellingPartnerID)
		return Result{}, ErrSellerMismatch
	}
	if err := s.checkUnbound(ctx, log, a, r.SellingPartnerID, now); err != nil {
		return Result{}, restoreIfTemporary(err, restore)
	}
	// The account the new token must be: the fingerprint on record, or the one of the
	// stored token if it still works.
	expected, err := s.expectedAccount(ctx, log, a)
	if err != nil {
		return Result{}, restore(err)
	}
	judged := a
	judged.Account = expected
	if err := authz.Admissible(judged, origin, s.cfg.VerifySellerID); err != nil {
		// No answer SP-API could give would show whose token it is: refused before
		// Amazon's code is redeemed.
		if origin == authz.OriginOnboarding {
			log.InfoContext(ctx, "login URI round trip of an unknown seller; not onboarded", "sellingPartnerId", r.SellingPartnerID, "why", err)
			return Result{}, ErrUnknownSeller
		}
		s.unverified(ctx, log, a, r.SellingPartnerID, origin, err)
		return Result{}, ErrAccountUnverified
	}

	tokens, err := s.lwa.ExchangeCode(ctx, r.Code, s.redirectURI(ctx))
	switch {
	case errors.Is(err, authz.ErrInvalidGrant):
		log.WarnContext(ctx, "LWA rejected the authorization code", "error", err)
		return Result{}, ErrCodeRejected
	case errors.Is(err, authz.ErrClientRejected):
		log.ErrorContext(ctx, "LWA rejected our client credentials", "error", err)
		return Result{}, ErrVendorCredentials
	case err != nil:
		// 5xx, 429 or a timeout: Amazon most likely did not redeem the code.
		log.ErrorContext(ctx, "LWA code exchange failed; state restored for a retry", "error", err)
		return Result{}, restore(fmt.Errorf("%w: LWA: %v", ErrUnavailable, err))
	case tokens.RefreshToken.IsZero():
		log.ErrorContext(ctx, "LWA answered the code grant without a refresh token")
		return Result{}, fmt.Errorf("%w: LWA answered without a refresh token", ErrUnavailable)
	}

	// From here on Amazon has issued a refresh token: it is stored, parked, or
	// deliberately discarded because nothing shows it is this connection's account.
	n := newToken{a: a, sellerID: r.SellingPartnerID, token: tokens.RefreshToken, at: now, origin: origin}
	evidence, everr := s.takeEvidence(ctx, a, tokens.AccessToken)
	if everr != nil {
		if _, err := authz.Admit(judged, authz.Claim{Origin: origin, SellerID: r.SellingPartnerID}); err == nil {
			// The vendor's own link, with nothing on record to compare with.
			log.WarnContext(ctx, "SP-API account evidence unavailable; stored on the vendor's link without a fingerprint", "error", everr)
			return s.finish(ctx, log, n)
		}
		log.WarnContext(ctx, "SP-API account evidence unavailable; the token is parked until it can be verified", "error", everr)
		return Result{}, s.park(ctx, log, n, false, "account evidence unavailable: "+everr.Error())
	}
	n.account = evidence
	if err := s.admit(ctx, log, n, judged); err != nil {
		return Result{}, err
	}
	if evidence.SellerIDVerified {
		n.sellerID = evidence.SellerID
	}
	return s.finish(ctx, log, n)
}

// finish stores an admitted token: for an onboarding, the pending record is created
// first.
func (s *Service) finish(ctx context.Context, log *slog.Logger, n newToken) (Result, error) {
	if n.origin == authz.OriginOnboarding && n.a.Version == 0 {
		created, err := s.onboard(ctx, n.a.SellingPartnerID, n.a.Region)
		if err != nil {
			log.ErrorContext(ctx, "could not create the self-service connection; the verified token is parked", "error", err)
			return Result{}, s.park(ctx, log, n, true, "onboarding: "+err.Error())
		}
		n.a = created
	}
	return s.store2(ctx, log, n, true)
}

// onboardingTarget is the connection a Login URI round trip of an unknown seller would
// create, with self-service onboarding on; ErrUnknownSeller otherwise.
func (s *Service) onboardingTarget(ctx context.Context, log *slog.Logger, sellingPartnerID string, region authz.Region) (authz.Authorization, error) {
	if !s.cfg.SelfServiceOnboarding || region == "" {
		log.InfoContext(ctx, "login URI round trip of an unknown seller", "sellingPartnerId", sellingPartnerID)
		return authz.Authorization{}, ErrUnknownSeller
	}
	connID := "sp-" + sellingPartnerID
	if err := authz.ValidateConnectionID(connID); err != nil {
		return authz.Authorization{}, fmt.Errorf("%w: selling_partner_id: %v", ErrMissingParameter, err)
	}
	a, err := s.store.Get(ctx, connID, region)
	switch {
	case err == nil:
		return a, nil
	case !errors.Is(err, authz.ErrNotFound):
		return authz.Authorization{}, s.storeErr(err, "read authorization")
	}
	return authz.Authorization{ConnectionID: connID, Region: region, AccountType: authz.AccountSeller, SellingPartnerID: sellingPartnerID,
		Status: authz.StatusPending}, nil
}

// unverified records a round trip refused for want of evidence: nothing was stored.
func (s *Service) unverified(ctx context.Context, log *slog.Logger, a authz.Authorization, sellerID string, origin authz.Origin, why error) {
	if a.Version > 0 {
		s.event(ctx, log, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: s.clock.Now(), Kind: authz.EventAccountUnverified,
			Detail: fmt.Sprintf("renewal by selling partner %s through the %s refused: %v; nothing stored", sellerID, originName(origin), why)})
	}
	log.WarnContext(ctx, "no evidence that the new token is this connection's account; nothing stored", "origin", origin,
		"sellingPartnerId", sellerID, "why", why.Error())
}

func originName(o authz.Origin) string {
	switch o {
	case authz.OriginLoginURI:
		return "Login URI"
	case authz.OriginOnboarding:
		return "Login URI (self-service onboarding)"
	case authz.OriginImport:
		return "import"
	}
	return "renewal link"
}

// newToken is a refresh token Amazon issued for a, and what is known of its account.
type newToken struct {
	a        authz.Authorization
	sellerID string
	token    secret.Value
	at       time.Time // when the seller authorized
	account  authz.Account
	origin   authz.Origin
}

// admit applies the rule (authz.Admit) to fresh evidence of the new token against
// judged, the record with the account expected of it. Refused, nothing is stored: the
// token is dropped (LWA offers no revocation of a single refresh token), the history
// and a metric record the attempt.
func (s *Service) admit(ctx context.Context, log *slog.Logger, n newToken, judged authz.Authorization) error {
	kind, err := authz.Admit(judged, authz.Claim{Origin: n.origin, SellerID: n.sellerID, Evidence: n.account})
	switch {
	case err == nil:
		log.InfoContext(ctx, "new token admitted", "evidence", kind, "origin", n.origin)
		return nil
	case errors.Is(err, authz.ErrNoEvidence):
		s.unverified(ctx, log, n.a, n.sellerID, n.origin, err)
		return ErrAccountUnverified
	}
	if n.a.Version > 0 {
		s.event(ctx, log, authz.Event{ConnectionID: n.a.ConnectionID, Region: n.a.Region, At: s.clock.Now(), Kind: authz.EventAccountMismatch,
			Detail: fmt.Sprintf("new token for selling partner %s is another Amazon account (%v: store %q, marketplaces %v); nothing stored",
				n.sellerID, strings.TrimPrefix(err.Error(), authz.ErrOtherAccount.Error()+": "), n.account.StoreName, n.account.MarketplaceIDs)})
	}
	log.WarnContext(ctx, "account evidence does not match the account on record; token discarded, nothing stored",
		"reason", err.Error(), "sellingPartnerId", n.sellerID, "storeName", n.account.StoreName)
	return ErrAccountMismatch
}

// checkUnbound refuses a seller already bound to another connection in the region.
func (s *Service) checkUnbound(ctx context.Context, log *slog.Logger, a authz.Authorization, sellerID string, now time.Time) error {
	other, err := s.store.SellerBinding(ctx, a.Region, sellerID)
	if err != nil {
		return s.storeErr(err, "read seller binding")
	}
	if other == "" || other == a.ConnectionID {
		return nil
	}
	s.sellerConflict(ctx, log, a, sellerID, other, now)
	return ErrSellerBound
}

func (s *Service) sellerConflict(ctx context.Context, log *slog.Logger, a authz.Authorization, sellerID, other string, now time.Time) {
	if a.Version > 0 { // not a self-service connection that was never created
		s.event(ctx, log, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventSellerConflict,
			Detail: fmt.Sprintf("selling partner %s tried to connect here but is bound to connection %s; nothing stored", sellerID, other)})
	}
	s.event(ctx, log, authz.Event{ConnectionID: other, Region: a.Region, At: now, Kind: authz.EventSellerConflict,
		Detail: fmt.Sprintf("selling partner %s of this connection tried to connect to connection %s too; refused", sellerID, a.ConnectionID)})
	log.WarnContext(ctx, "selling partner already bound to another connection in this region", "sellingPartnerId", sellerID, "boundTo", other)
}

// expectedAccount is the account a renewal must match: the fingerprint on record, or,
// for a record that has a working token but no fingerprint yet (made before
// fingerprints existed), the fingerprint of that token taken now. Zero when there is
// nothing to compare with (a first authorization, a dead token, a vendor account).
func (s *Service) expectedAccount(ctx context.Context, log *slog.Logger, a authz.Authorization) (authz.Account, error) {
	if !a.Account.IsZero() || a.AccountType == authz.AccountVendor || a.Status == authz.StatusPending || s.accounts == nil {
		return a.Account, nil
	}
	rt, err := s.vault.Get(ctx, a.ConnectionID, a.Region)
	if err != nil {
		log.InfoContext(ctx, "no stored token to fingerprint for the comparison", "error", err)
		return authz.Account{}, nil
	}
	tokens, err := s.lwa.Refresh(ctx, rt.Token)
	switch {
	case errors.Is(err, authz.ErrInvalidGrant):
		return authz.Account{}, nil // revoked or expired: the renewal is what repairs it
	case err != nil:
		return authz.Account{}, fmt.Errorf("%w: LWA refresh of the stored token: %v", ErrUnavailable, err)
	}
	acct, err := s.takeEvidence(ctx, a, tokens.AccessToken)
	if err != nil {
		return authz.Account{}, fmt.Errorf("%w: SP-API evidence of the stored token: %v", ErrUnavailable, err)
	}
	return acct, nil
}

// takeEvidence asks SP-API which account an access token is for. Vendor Central
// accounts have no Sellers API: no evidence, no error.
func (s *Service) takeEvidence(ctx context.Context, a authz.Authorization, accessToken secret.Value) (authz.Account, error) {
	if s.accounts == nil || a.AccountType == authz.AccountVendor {
		return authz.Account{}, nil
	}
	acct, err := s.accounts.Fingerprint(ctx, a.Region, accessToken)
	if errors.Is(err, authz.ErrAccessDenied) {
		// SP-API refuses the Sellers API to this account (not a selling account):
		// it names no account, now or later; the rule decides what that allows.
		return authz.Account{}, nil
	}
	if err != nil {
		return authz.Account{}, fmt.Errorf("take account evidence: %w", err)
	}
	if acct.TakenAt.IsZero() {
		acct.TakenAt = s.clock.Now()
	}
	return acct, nil
}

// store2 writes the token (retrying within the vault budget, else parking it) and
// then the record. verified says the evidence was checked.
func (s *Service) store2(ctx context.Context, log *slog.Logger, n newToken, verified bool) (Result, error) {
	// The seller is bound to this connection before the token is written: a seller
	// bound elsewhere meanwhile is refused with nothing written to the vault.
	if err := s.claimBinding(ctx, log, n); err != nil {
		if errors.Is(err, ErrSellerBound) {
			return Result{}, err
		}
		log.ErrorContext(ctx, "could not claim the seller's binding; parking the token", "error", err)
		return Result{}, s.park(ctx, log, n, verified, "binding: "+err.Error())
	}
	secretID, err := s.putToken(ctx, n)
	if err != nil {
		log.ErrorContext(ctx, "could not store the refresh token within the budget; parking it", "error", err)
		return Result{}, s.park(ctx, log, n, verified, "vault: "+err.Error())
	}
	updated, kind, err := s.renewRecord(ctx, n, secretID)
	switch {
	case errors.Is(err, authz.ErrSellerBound):
		// Only an operator's move can take a claimed binding away.
		var be *authz.SellerBoundError
		if errors.As(err, &be) {
			s.sellerConflict(ctx, log, n.a, n.sellerID, be.ConnectionID, s.clock.Now())
		}
		log.ErrorContext(ctx, "seller moved to another connection between the binding claim and the record write; record unchanged", "secretId", secretID)
		return Result{}, ErrSellerBound
	case err != nil:
		log.ErrorContext(ctx, "refresh token stored but the record update failed; the next refresh repairs it", "error", err, "secretId", secretID)
		return Result{}, fmt.Errorf("%w: %v", ErrRecordPending, err)
	}
	log.InfoContext(ctx, "authorization "+string(kind), "sellingPartnerId", n.sellerID, "expiresAt", updated.ExpiresAt,
		"version", updated.Version, "storeName", updated.Account.StoreName, "linkGeneration", updated.LinkGeneration)
	s.afterRenewal(ctx, log, n.a, updated)
	return Result{Authorization: updated, Kind: kind}, nil
}

// claimBinding binds n's seller to its connection (Store.ClaimBinding); a seller bound
// to another connection is ErrSellerBound, recorded in both histories.
func (s *Service) claimBinding(ctx context.Context, log *slog.Logger, n newToken) error {
	err := s.store.ClaimBinding(ctx, n.a.Region, n.sellerID, n.a.ConnectionID, s.clock.Now())
	var be *authz.SellerBoundError
	if errors.As(err, &be) {
		s.sellerConflict(ctx, log, n.a, n.sellerID, be.ConnectionID, s.clock.Now())
		return ErrSellerBound
	}
	return err
}

// afterRenewal counts the renewal in the funnel and withdraws the Seller Central
// reminder notifications, which no longer apply. Neither can fail the renewal.
func (s *Service) afterRenewal(ctx context.Context, log *slog.Logger, prev, renewed authz.Authorization) {
	if s.funnel != nil {
		s.funnel.Renewed(ctx, prev, s.clock.Now())
	}
	if s.notices != nil {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		if err := s.notices.Withdraw(wctx, renewed); err != nil {
			log.InfoContext(ctx, "Seller Central reminder notifications not withdrawn", "error", err)
		}
	}
}

// putToken writes the token to the vault, retrying with backoff and jitter while the
// vault budget and the request's context allow.
func (s *Service) putToken(ctx context.Context, n newToken) (string, error) {
	deadline := time.Now().Add(s.cfg.VaultBudget)
	// The vault waits for a bucket's lease and the stack's write pace within its
	// context: the budget bounds that wait too.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		id, err := s.vault.Put(ctx, n.a.ConnectionID, n.a.Region, authz.RefreshToken{
			Token: n.token, SellingPartnerID: n.sellerID, Region: n.a.Region, AuthorizedAt: n.at,
		})
		if err == nil {
			return id, nil
		}
		sleep := wait/2 + rand.N(wait/2+1)
		if ctx.Err() != nil || time.Now().Add(sleep).After(deadline) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(sleep):
		}
		wait *= 2
	}
}

// parkedToken is the sealed document of a parked token.
type parkedToken struct {
	RefreshToken string `json:"refreshToken"`
}

func sealContext(connectionID string, region authz.Region) map[string]string {
	return map[string]string{"purpose": "parked-refresh-token", "connectionId": connectionID, "region": string(region)}
}

// park keeps a token Amazon issued, KMS-encrypted in the table, for the refresh
// sweep to finish storing (RepairParked). Only if that fails too is the token lost,
// and the log says so.
func (s *Service) park(ctx context.Context, log *slog.Logger, n newToken, verified bool, reason string) error {
	doc, _ := json.Marshal(parkedToken{RefreshToken: n.token.Reveal()})
	ct, err := s.sealer.Seal(ctx, secret.Value(doc), sealContext(n.a.ConnectionID, n.a.Region))
	if err == nil {
		err = s.store.Park(ctx, authz.Parked{ConnectionID: n.a.ConnectionID, Region: n.a.Region, SellingPartnerID: n.sellerID,
			Ciphertext: ct, AuthorizedAt: n.at, Account: n.account, Verified: verified, Origin: n.origin, ParkedAt: s.clock.Now(), Reason: reason})
	}
	if err != nil {
		log.ErrorContext(ctx, "REFRESH TOKEN LOST: neither the vault nor the parking took it; the seller must authorize again", "error", err)
		s.metrics.Count(metrics.TokenLost, 1)
		return fmt.Errorf("%w: park: %v", ErrUnavailable, err)
	}
	s.event(ctx, log, authz.Event{ConnectionID: n.a.ConnectionID, Region: n.a.Region, At: s.clock.Now(), Kind: authz.EventTokenParked,
		Detail: "new token from selling partner " + n.sellerID + " kept encrypted until it is stored (" + truncate(reason, 120) + ")"})
	s.metrics.Count(metrics.TokenParked, 1)
	log.WarnContext(ctx, "refresh token parked (KMS-encrypted) for the refresh sweep to store", "verified", verified)
	return ErrParked
}

// renewRecord writes the renewal, re-reading and re-applying it if a concurrent writer
// (a refresh, a reminder claim) moved the version on: the renewal always wins.
func (s *Service) renewRecord(ctx context.Context, n newToken, secretID string) (authz.Authorization, authz.EventKind, error) {
	const attempts = 5
	a := n.a
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if a, err = s.store.Get(ctx, a.ConnectionID, a.Region); err != nil {
				return authz.Authorization{}, "", err
			}
		}
		before := a.Status
		kind := a.Renew(n.at, n.sellerID)
		a.SecretID = secretID
		a.RefreshSlot = authz.SlotFor(a.ConnectionID, a.Region, s.cfg.RefreshSlots)
		a.LinkGeneration++
		if !n.account.IsZero() {
			a.Account = n.account
		}
		detail := "by selling partner " + n.sellerID + "; valid until " + a.ExpiresAt.Format(authz.DayLayout)
		if a.Account.StoreName != "" {
			detail += "; store " + a.Account.StoreName
		}
		ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: s.clock.Now(), Kind: kind, StatusBefore: before, Detail: detail}
		updated, uerr := s.store.UpdateBound(ctx, a, s.clock.Now(), ev)
		if uerr == nil {
			return updated, kind, nil
		}
		if !errors.Is(uerr, authz.ErrVersionConflict) {
			return authz.Authorization{}, "", uerr
		}
		err = uerr
	}
	return authz.Authorization{}, "", err
}

// event writes a history event that goes with no record change; a failure is logged.
func (s *Service) event(ctx context.Context, log *slog.Logger, e authz.Event) {
	if err := s.store.AddEvent(ctx, e); err != nil {
		log.ErrorContext(ctx, "could not record history event", "kind", e.Kind, "error", err)
	}
}

func restoreIfTemporary(err error, restore func(error) error) error {
	if errors.Is(err, ErrUnavailable) {
		return restore(err)
	}
	return err
}
