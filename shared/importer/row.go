package importer

// This file holds the proof of one row: the ledger's and the vault's state, the LWA
// refresh and the account's fingerprint.

import (
	"context"
	"errors"
	"fmt"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// importRow proves one row: the ledger's and the vault's state, the LWA refresh and
// the account's fingerprint. A row to store comes back as proven, for the writer;
// any other has its outcome. The reason of a rejection or failure is for the report:
// it names no token.
func (ru *run) importRow(ctx context.Context, row Row) (Outcome, string, *proven) {
	im := ru.im
	existing, err := im.d.Ledger.Get(ctx, row.ConnectionID, row.Region)
	found := err == nil
	if err != nil && !errors.Is(err, authz.ErrNotFound) {
		out, reason := ru.failed(ctx, "read the ledger", err)
		return out, reason, nil
	}
	hadToken := false
	if found {
		if existing.SellingPartnerID != "" && row.SellingPartnerID != "" && existing.SellingPartnerID != row.SellingPartnerID {
			return OutcomeRejected, fmt.Sprintf("connection %s exists with seller %s, the file says %s: not overwritten", row.Key(), existing.SellingPartnerID, row.SellingPartnerID), nil
		}
		stored, err := im.d.Tokens.Get(ctx, row.ConnectionID, row.Region)
		switch {
		case err == nil && sameToken(stored.Token, row.RefreshToken):
			// Already imported (by an earlier run, or by an earlier row of this file
			// that said the same): nothing to do, and no LWA call.
			return OutcomeUnchanged, "", nil
		case err != nil && !errors.Is(err, authz.ErrSecretNotFound) && !errors.Is(err, authz.ErrSecretMalformed):
			out, reason := ru.failed(ctx, "read the stored refresh token", err)
			return out, reason, nil
		}
		hadToken = err == nil
		if existing.Status != authz.StatusPending {
			return OutcomeRejected, fmt.Sprintf("connection %s is already in the ledger (%s) with another refresh token: not overwritten", row.Key(), existing.Status), nil
		}
	}
	if row.SellingPartnerID != "" {
		if reason, err := im.boundElsewhere(ctx, row.SellingPartnerID, row); err != nil {
			out, reason := ru.failed(ctx, "read the seller's binding", err)
			return out, reason, nil
		} else if reason != "" {
			return OutcomeRejected, reason, nil
		}
	}

	if err := im.limiter.Wait(ctx); err != nil {
		// Wait fails only for the context: ended, or ending before the next token.
		return outcomeInterrupted, "", nil
	}
	ru.lwaCalls.Add(1)
	tokens, lwaErr := im.d.LWA.Refresh(ctx, row.RefreshToken)
	accepted := lwaErr == nil
	switch {
	case accepted:
		ru.accepted.Add(1)
	case errors.Is(lwaErr, authz.ErrInvalidGrant):
	case errors.Is(lwaErr, authz.ErrClientRejected):
		// For one token, LWA's invalid_client / unauthorized_client means the token was
		// issued to another app's client id. For the first rows with none accepted, it
		// is more likely the app's own credentials: stop rather than blame every row.
		if n := ru.clientErr.Add(1); n >= clientFailuresToAbort && ru.accepted.Load() == 0 {
			ru.abort(ErrClientCredentials)
		}
		return OutcomeRejected, "LWA refused this refresh token for the app's client id (invalid_client/unauthorized_client): it belongs to another app", nil
	case errors.Is(lwaErr, authz.ErrBadRequest):
		return OutcomeRejected, "LWA called the refresh request malformed (invalid_request)", nil
	default:
		out, reason := ru.failed(ctx, "LWA refresh", lwaErr)
		return out, reason, nil
	}

	var acct authz.Account
	if !accepted && found && !existing.Account.IsZero() {
		return OutcomeRejected, fmt.Sprintf("connection %s has an account on record, and LWA refused this token (invalid_grant), so SP-API cannot say whose it is: not imported", row.Key()), nil
	}
	if accepted {
		var acctErr error
		if im.d.Accounts != nil {
			acct, acctErr = im.d.Accounts.Account(ctx, row.Region, tokens.AccessToken)
			if acctErr != nil {
				// The token works; what SP-API did answer is kept (a partial fingerprint
				// has no seller id), and a later renewal takes the rest.
				im.d.Log.InfoContext(ctx, "import: account fingerprint incomplete", "connectionId", row.ConnectionID, "region", string(row.Region), "error", acctErr.Error())
			}
		}
		out, reason, err := ru.checkEvidence(ctx, &row, existing, found, acct, acctErr)
		if err != nil {
			out, reason := ru.failed(ctx, "read the ledger", err)
			return out, reason, nil
		}
		if out != "" {
			return out, reason, nil
		}
	}
	a, out, detail := ru.record(row, existing, found, accepted, acct)
	return out, "", &proven{row: row, a: a, found: found, hadToken: hadToken, out: out, detail: detail}
}

// checkEvidence compares what SP-API said about the token's account (acct) with what
// the row and the ledger claim, and says why the token cannot be stored on the row's
// connection: the account on record for the connection is another (Account.SameAs),
// the row's marketplace is not one the account sells in, the verified seller id is
// not the row's or is bound to another connection, or the seller the row names is on
// record elsewhere with another account. A verified seller id the row lacks is set on
// row. No outcome: the row may be stored.
func (ru *run) checkEvidence(ctx context.Context, row *Row, existing authz.Authorization, found bool, acct authz.Account, acctErr error) (Outcome, string, error) {
	im := ru.im
	if found && !existing.Account.IsZero() {
		if acct.IsZero() {
			why := "no SP-API client"
			if acctErr != nil {
				why = clip(acctErr.Error(), 160)
			}
			return OutcomeFailed, fmt.Sprintf("connection %s has an account on record and SP-API did not answer for the token (%s), so it cannot be shown to be that account: nothing written, run the import again",
				row.Key(), why), nil
		}
		if same, why := existing.Account.SameAs(acct); !same {
			return OutcomeRejected, fmt.Sprintf("the token's account is not the one on record for %s (%s): not imported", row.Key(), why), nil
		}
	}
	marketplace := row.Marketplace
	if marketplace == "" && found {
		marketplace = existing.Marketplace
	}
	if reason := sellsIn(acct, marketplace); reason != "" {
		return OutcomeRejected, reason, nil
	}
	if acct.SellerIDVerified && acct.SellerID != "" {
		for _, want := range []string{row.SellingPartnerID, existing.SellingPartnerID} {
			if want != "" && want != acct.SellerID {
				return OutcomeRejected, fmt.Sprintf("the refresh token belongs to seller %s, not %s: not imported", acct.SellerID, want), nil
			}
		}
		if row.SellingPartnerID == "" {
			row.SellingPartnerID = acct.SellerID
			if first, dup := ru.claimSeller(*row, acct.SellerID); dup {
				return OutcomeRejected, fmt.Sprintf("seller %s in region %s appears again (first on line %d)", acct.SellerID, row.Region, first), nil
			}
			reason, err := im.boundElsewhere(ctx, acct.SellerID, *row)
			if err != nil || reason != "" {
				return OutcomeRejected, reason, err
			}
		}
		return "", "", nil
	}
	claimed := row.SellingPartnerID
	if claimed == "" {
		claimed = existing.SellingPartnerID
	}
	reason, err := im.claimedSellerDisagrees(ctx, *row, claimed, acct)
	if err != nil || reason != "" {
		return OutcomeRejected, reason, err
	}
	return "", "", nil
}
