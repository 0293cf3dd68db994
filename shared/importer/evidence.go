package importer

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// The rule (DESIGN.md): a refresh token is stored on a connection only with positive
// evidence that it belongs to that connection's Amazon account. For a row of an import
// file the evidence is what SP-API answers for the token, compared with what the row
// (and any record of its connection or its seller) claims. This file holds those
// comparisons; importRow calls them once LWA has accepted the token.

// marketplaceIDs are Amazon's marketplace ids by country code (SP-API "Marketplace
// IDs"): the Sellers API names the marketplaces an account sells in by id, the import
// file by country code.
var marketplaceIDs = map[string]string{
	"US": "ATVPDKIKX0DER", "CA": "A2EUQ1WTGCTBG2", "MX": "A1AM78C64UM0Y8", "BR": "A2Q3Y263D00KWC",
	"GB": "A1F83G8C2ARO7P", "UK": "A1F83G8C2ARO7P", "DE": "A1PA6795UKMFR9", "FR": "A13V1IB3VIYZZH", "IT": "APJ6JRA9NG5V4",
	"ES": "A1RKKUPIHCS9HS", "NL": "A1805IZSGTT6HS", "SE": "A2NODRKZP88ZB9", "PL": "A1C3SOZRARQ6R3", "BE": "AMEN7PMS3EDWL",
	"IE": "A28R8C7NBKEWEA", "ZA": "AE08WJ6YKNBMC", "TR": "A33AVAJ2PDY3EV", "AE": "A2VIGQ35RCS4UG", "SA": "A17E79C6D8DWNP",
	"EG": "ARBP9OOSHTCHU", "IN": "A21TJRUUN4KGV", "JP": "A1VC38T7YXB528", "AU": "A39IBJ37TRP1C6", "SG": "A19VAU5U5O7RUS",
}

// marketplaceNames lists an account's marketplaces by country code where known (GB
// for the United Kingdom), by id otherwise.
func marketplaceNames(ids []string) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		name := id
		for cc, mid := range marketplaceIDs {
			if mid == id && cc != "UK" {
				name = cc
				break
			}
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// sellsIn says why the account behind a token cannot be the row's: the row's
// marketplace (or its record's) is not one the account participates in. An account
// whose marketplaces SP-API did not list (no answer, a vendor) is not compared.
func sellsIn(acct authz.Account, marketplace string) string {
	if marketplace == "" || len(acct.MarketplaceIDs) == 0 {
		return ""
	}
	id, ok := marketplaceIDs[marketplace]
	if !ok || slices.Contains(acct.MarketplaceIDs, id) {
		return ""
	}
	return fmt.Sprintf("the token's account does not sell in marketplace %s (SP-API lists %s): it is another seller's token; not imported",
		marketplace, marketplaceNames(acct.MarketplaceIDs))
}

// sameAccountElsewhere compares the fingerprint of a token with the fingerprint on
// record for the same seller under another key. In the same region it is SameAs. In
// another region the marketplaces differ by nature (each region has its own), so the
// seller ids decide where both were verified, and otherwise the store names, which a
// seller keeps across regions.
func sameAccountElsewhere(onRecord authz.Account, recordRegion, region authz.Region, evidence authz.Account) (bool, string) {
	if recordRegion == region {
		return onRecord.SameAs(evidence)
	}
	if onRecord.SellerIDVerified && evidence.SellerIDVerified {
		if onRecord.SellerID != evidence.SellerID {
			return false, "seller id differs"
		}
		return true, ""
	}
	if onRecord.StoreName == "" || evidence.StoreName == "" {
		return true, "" // nothing to compare
	}
	if strings.Join(strings.Fields(strings.ToLower(onRecord.StoreName)), " ") != strings.Join(strings.Fields(strings.ToLower(evidence.StoreName)), " ") {
		return false, "store name differs"
	}
	return true, ""
}

// claimedSellerDisagrees says why the token's account is not the seller the row (or
// its record) names: a record of that seller under another key holds a fingerprint
// the token's does not match. Where the seller id was verified, the ids were compared
// already; this is the evidence left without it.
func (im *Importer) claimedSellerDisagrees(ctx context.Context, row Row, sellerID string, acct authz.Account) (string, error) {
	if sellerID == "" || acct.IsZero() {
		return "", nil
	}
	records, err := im.d.Ledger.FindBySeller(ctx, sellerID)
	if err != nil {
		return "", err
	}
	for _, r := range records {
		if (r.ConnectionID == row.ConnectionID && r.Region == row.Region) || r.Account.IsZero() {
			continue // the row's own record is compared as such
		}
		if same, why := sameAccountElsewhere(r.Account, r.Region, row.Region, acct); !same {
			return fmt.Sprintf("seller %s is on record as %s with another account (%s) than the token's: not imported", sellerID, r.Key(), why), nil
		}
	}
	return "", nil
}

// tokenLines remembers, for one run, on which line each refresh token of the file
// first appeared, so that a token is imported for one row only: a refresh token is
// one seller's authorization, and a second connection holding it would hand that
// seller's access out under another name. Rows of a continuation's skipped lines are
// remembered too, so a resumed import refuses what the whole one would.
//
// It keeps 64-bit hashes, seeded at random for the run and never written anywhere,
// of the token and of the connection (about 40 bytes a row with the map): the one
// part of an import's memory that grows with the file, since a token's second row
// may come anywhere after its first. Two different tokens sharing a hash (odds about
// 1 in 10^7 at a million rows) would refuse the second, never import a wrong row.
type tokenLines struct {
	seed  maphash.Seed
	first map[uint64]tokenLine
}

type tokenLine struct {
	conn uint64
	line int32
}

func newTokenLines() *tokenLines {
	return &tokenLines{seed: maphash.MakeSeed(), first: map[uint64]tokenLine{}}
}

// see records row's token and returns the line of an earlier row of another
// connection that gave the same token (0 if none). A row repeating its own
// connection with the same token is left to the connection's checks (unchanged, or
// "appears again").
func (tl *tokenLines) see(row Row) int {
	var h maphash.Hash
	h.SetSeed(tl.seed)
	h.WriteString(row.RefreshToken.Reveal())
	tok := h.Sum64()
	conn := maphash.String(tl.seed, row.Key())
	if f, ok := tl.first[tok]; ok {
		if f.conn == conn {
			return 0
		}
		return int(f.line)
	}
	tl.first[tok] = tokenLine{conn: conn, line: int32(row.Line)}
	return 0
}

// repeatedToken is the rejection of a row whose token an earlier row gave.
func repeatedToken(first int) string {
	return fmt.Sprintf("the same refresh token is on line %d: a refresh token is one seller's authorization, imported for its first row only; not imported", first)
}
