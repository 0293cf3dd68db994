package authz

import (
	"errors"
	"fmt"
)

// The rule every path that stores a refresh token follows: a token is stored on a
// connection only with positive evidence that it belongs to that connection's Amazon
// account. Amazon's redirect parameters are not signed and LWA's answer does not name
// the account, so the evidence is what SP-API says about the new token, compared with
// what the connection's record holds, or, where the record holds nothing to compare
// with, the vendor's own renewal link completed in the browser that opened it.

// Origin is how a new refresh token reached the keeper.
type Origin string

const (
	// OriginLink: the vendor's renewal (or onboarding) link, opened and completed in
	// one browser (the state's browser binding). The vendor sent the link to the
	// connection's contact, so a connection with nothing on record to compare with
	// may take the token: it is the same trust as the first authorization.
	OriginLink Origin = "link"
	// OriginLoginURI: Seller Central's Renew or an Appstore install, through the app's
	// Login URI. Anyone can call it with any seller's id and sign in to Amazon with an
	// account of their own whose store has the victim's name and shares a
	// marketplace, so only a seller id verified by SP-API counts.
	OriginLoginURI Origin = "login"
	// OriginOnboarding: self-service onboarding of a seller the vendor does not know
	// yet, from the Login URI: only a verified seller id counts.
	OriginOnboarding Origin = "onboarding"
	// OriginImport: a row of the vendor's import file. The row's claims are the
	// vendor's, not Amazon's: only SP-API's evidence counts for a connection that has
	// an account on record; a new one is checked row by row by the importer.
	OriginImport Origin = "import"
)

// Evidence kinds: why a token was admitted.
type EvidenceKind string

const (
	EvidenceVerifiedID  EvidenceKind = "verified_seller_id" // SP-API named the seller id on record
	EvidenceFingerprint EvidenceKind = "fingerprint"        // the account fingerprint on record matches
	EvidenceVendorLink  EvidenceKind = "vendor_link"        // nothing on record to compare with; the vendor's link in its own browser
)

// Refusals of Admit.
var (
	// ErrOtherAccount: the evidence shows another Amazon account than the one on record.
	ErrOtherAccount = errors.New("the new token belongs to another Amazon account")
	// ErrNoEvidence: nothing shows whose token it is; it may not overwrite anything.
	ErrNoEvidence = errors.New("no evidence that the new token belongs to this connection's account")
)

// Claim is what is known of a new refresh token when it is about to be stored.
type Claim struct {
	Origin Origin
	// SellerID is the selling partner id the token came with: Amazon's redirect
	// parameter or the import row (untrusted either way).
	SellerID string
	// Evidence is SP-API's account fingerprint of the new token; zero when none could
	// be taken (a Vendor Central account, or SP-API did not answer).
	Evidence Account
}

// Admit applies the rule to rec, the connection the token would be stored on (its
// Account is the fingerprint on record, or the one just taken of its working token),
// and says which evidence admits the claim, or why not. It is pure: every path calls
// it with what it knows, so that they all decide alike.
func Admit(rec Authorization, c Claim) (EvidenceKind, error) {
	kind, err := admit(rec, c)
	if err == nil && kind != EvidenceVerifiedID && (c.Origin == OriginLoginURI || c.Origin == OriginOnboarding) {
		// A store name and marketplaces are public and can be copied: on the Login
		// URI they are not evidence.
		return "", fmt.Errorf("%w: the Login URI needs the seller id verified by SP-API (%s is not enough)", ErrNoEvidence, kind)
	}
	return kind, err
}

func admit(rec Authorization, c Claim) (EvidenceKind, error) {
	ev := c.Evidence
	if ev.SellerIDVerified && c.SellerID != "" && ev.SellerID != c.SellerID {
		return "", fmt.Errorf("%w: SP-API reports seller %s, the request named %s", ErrOtherAccount, ev.SellerID, c.SellerID)
	}
	if rec.SellingPartnerID != "" && c.SellerID != "" && rec.SellingPartnerID != c.SellerID {
		return "", fmt.Errorf("%w: the request named seller %s, the connection belongs to %s", ErrOtherAccount, c.SellerID, rec.SellingPartnerID)
	}
	onRecord := rec.Account
	if ev.SellerIDVerified && onRecord.SellerIDVerified {
		if ev.SellerID == onRecord.SellerID {
			return EvidenceVerifiedID, nil
		}
		return "", fmt.Errorf("%w: SP-API reports seller %s, the connection's verified seller is %s", ErrOtherAccount, ev.SellerID, onRecord.SellerID)
	}
	if ev.SellerIDVerified && rec.SellingPartnerID != "" && ev.SellerID == rec.SellingPartnerID && rec.Status != StatusPending {
		// A verified id equal to the one the connection has been renewed under. A
		// store renamed since is accepted here, and only here.
		return EvidenceVerifiedID, nil
	}
	if !onRecord.IsZero() {
		if onRecord.SellerIDVerified {
			// A verified seller id on record is not traded for a store name: the
			// probe must name the seller again (a 403 from the Product Fees API, an
			// account without marketplaces).
			return "", fmt.Errorf("%w: the connection's seller id was verified, the new token's could not be", ErrNoEvidence)
		}
		if ev.IsZero() {
			return "", fmt.Errorf("%w: SP-API gave no account to compare with the one on record", ErrNoEvidence)
		}
		if same, why := onRecord.SameAs(ev); !same {
			return "", fmt.Errorf("%w: %s", ErrOtherAccount, why)
		}
		return EvidenceFingerprint, nil
	}
	if ev.SellerIDVerified && rec.SellingPartnerID != "" && ev.SellerID == rec.SellingPartnerID {
		// A pending connection that names its seller (the vendor's onboarding, or a
		// self-service one): the verified id is that seller.
		return EvidenceVerifiedID, nil
	}
	if c.Origin == OriginLink {
		return EvidenceVendorLink, nil
	}
	switch {
	case rec.AccountType == AccountVendor:
		return "", fmt.Errorf("%w: a Vendor Central account has no Sellers API; renew from the link in the vendor's email", ErrNoEvidence)
	case c.Origin == OriginOnboarding:
		return "", fmt.Errorf("%w: self-service onboarding needs the seller id verified by SP-API", ErrNoEvidence)
	}
	return "", fmt.Errorf("%w: no account fingerprint or verified seller id on record to compare with", ErrNoEvidence)
}

// Admissible tells, before a code is exchanged, whether any evidence SP-API could
// give would admit a token from origin for rec: when none could, the round trip is
// refused before Amazon's code is redeemed. verifySellerID says the seller id probe
// is on.
func Admissible(rec Authorization, origin Origin, verifySellerID bool) error {
	if origin == OriginLink {
		return nil
	}
	switch {
	case rec.AccountType == AccountVendor:
		return fmt.Errorf("%w: a Vendor Central account has no Sellers API; renew from the link in the vendor's email", ErrNoEvidence)
	case !verifySellerID:
		return fmt.Errorf("%w: the Login URI needs the seller id verified by SP-API, and the seller id probe (VERIFY_SELLER_ID) is off", ErrNoEvidence)
	case rec.SellingPartnerID == "" && !rec.Account.SellerIDVerified:
		return fmt.Errorf("%w: the connection names no seller id to verify", ErrNoEvidence)
	}
	return nil
}
