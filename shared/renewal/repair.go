package renewal

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// RepairResult is what one pass over the parked tokens did.
type RepairResult struct {
	Parked    int `json:"parked"`    // parked tokens found
	Stored    int `json:"stored"`    // moved into the vault, record renewed
	Discarded int `json:"discarded"` // dead at LWA, another account, or their record gone
	Waiting   int `json:"waiting"`   // left for the next pass (a dependency still failing)
}

// RepairParked finishes the renewals whose token was parked: it opens each token,
// verifies its account where the callback could not, writes it to the vault, renews
// the record and removes the parked copy. The refresh sweep runs it every hour. A
// token that still cannot be stored stays parked; one that LWA refuses, or that SP-API
// shows belongs to another account, is discarded with a history event.
func (s *Service) RepairParked(ctx context.Context) (RepairResult, error) {
	parked, err := s.store.ParkedTokens(ctx)
	if err != nil {
		return RepairResult{}, err
	}
	res := RepairResult{Parked: len(parked)}
	for _, p := range parked {
		outcome, err := s.repairOne(ctx, p)
		log := s.log.With("connectionId", p.ConnectionID, "region", p.Region, "parkedAt", p.ParkedAt)
		switch outcome {
		case repairStored:
			res.Stored++
			log.InfoContext(ctx, "parked refresh token stored; authorization renewed")
		case repairDiscarded:
			res.Discarded++
			log.WarnContext(ctx, "parked refresh token discarded", "reason", err)
		default:
			res.Waiting++
			log.WarnContext(ctx, "parked refresh token still waiting", "error", err)
		}
	}
	s.metrics.Count(metrics.ParkedTokensWaiting, float64(res.Waiting))
	return res, nil
}

type repairOutcome int

const (
	repairWaiting repairOutcome = iota
	repairStored
	repairDiscarded
)

func (s *Service) repairOne(ctx context.Context, p authz.Parked) (repairOutcome, error) {
	log := s.log.With("connectionId", p.ConnectionID, "region", p.Region)
	a, err := s.store.Get(ctx, p.ConnectionID, p.Region)
	switch {
	case errors.Is(err, authz.ErrNotFound) && p.Origin == authz.OriginOnboarding:
		// A self-service connection whose creation failed after its token was admitted.
		a = authz.Authorization{ConnectionID: p.ConnectionID, Region: p.Region, AccountType: authz.AccountSeller,
			SellingPartnerID: p.SellingPartnerID, Status: authz.StatusPending}
	case errors.Is(err, authz.ErrNotFound):
		return s.discard(ctx, p, "its authorization no longer exists")
	case err != nil:
		return repairWaiting, err
	}
	plain, err := s.sealer.Open(ctx, p.Ciphertext, sealContext(p.ConnectionID, p.Region))
	if err != nil {
		return repairWaiting, err
	}
	var doc parkedToken
	if err := json.Unmarshal([]byte(plain.Reveal()), &doc); err != nil || doc.RefreshToken == "" {
		return s.discard(ctx, p, "its sealed document is unreadable")
	}
	origin := p.Origin
	if origin == "" {
		origin = authz.OriginLoginURI // parked before origins were recorded: the strict rule
	}
	n := newToken{a: a, sellerID: p.SellingPartnerID, token: secret.Value(doc.RefreshToken), at: p.AuthorizedAt, account: p.Account, origin: origin}
	// The record may have changed since the token was parked (a renewal by another
	// path, a forget and a new onboarding): the rule is applied again, to the record
	// as it is now, with evidence taken now where the callback had none.
	expected, err := s.expectedAccount(ctx, log, a)
	if err != nil {
		return repairWaiting, err
	}
	judged := a
	judged.Account = expected
	if !p.Verified || n.account.IsZero() {
		tokens, err := s.lwa.Refresh(ctx, n.token)
		switch {
		case errors.Is(err, authz.ErrInvalidGrant):
			return s.discard(ctx, p, "LWA refuses it (revoked or replaced since)")
		case err != nil:
			return repairWaiting, err
		}
		// A temporary failure waits for the next sweep; an account SP-API will not
		// describe (zero evidence) is judged by the rule like any other.
		if n.account, err = s.takeEvidence(ctx, a, tokens.AccessToken); err != nil {
			return repairWaiting, err
		}
	}
	if err := s.admit(ctx, log, n, judged); err != nil {
		if uerr := s.store.Unpark(ctx, p.ConnectionID, p.Region, p.ParkedAt); uerr != nil {
			return repairWaiting, uerr
		}
		return repairDiscarded, err
	}
	if n.account.SellerIDVerified {
		n.sellerID = n.account.SellerID
	}
	if a.Version == 0 {
		if n.a, err = s.onboard(ctx, a.SellingPartnerID, a.Region); err != nil {
			return repairWaiting, err
		}
	}
	if err := s.claimBinding(ctx, log, n); err != nil {
		if errors.Is(err, ErrSellerBound) {
			return s.discard(ctx, p, "its seller is bound to another connection")
		}
		return repairWaiting, err
	}
	secretID, err := s.putToken(ctx, n)
	if err != nil {
		return repairWaiting, err
	}
	renewed, _, err := s.renewRecord(ctx, n, secretID)
	if err != nil {
		if errors.Is(err, authz.ErrSellerBound) {
			return s.discard(ctx, p, "its seller is bound to another connection")
		}
		return repairWaiting, err
	}
	if err := s.store.Unpark(ctx, p.ConnectionID, p.Region, p.ParkedAt); err != nil {
		return repairWaiting, err
	}
	s.afterRenewal(ctx, log, a, renewed)
	return repairStored, nil
}

func (s *Service) discard(ctx context.Context, p authz.Parked, why string) (repairOutcome, error) {
	if err := s.store.Unpark(ctx, p.ConnectionID, p.Region, p.ParkedAt); err != nil {
		return repairWaiting, err
	}
	s.event(ctx, s.log, authz.Event{ConnectionID: p.ConnectionID, Region: p.Region, At: s.clock.Now(), Kind: authz.EventTokenParked,
		Detail: "parked token discarded: " + why})
	return repairDiscarded, errors.New(why)
}
