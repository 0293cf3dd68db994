package operator

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spapi-auth-keeper/keeper/shared/authz"

	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
)

// accountReader is the SP-API client that takes each imported token's account
// fingerprint: against the local stack, the simulator its functions call
// (SP_API_ENDPOINT); against AWS, SP_API_ENDPOINT if set, else each region's
// production endpoint. The seller id is asked for too (the app needs the Product
// Fees role), as the stack does, unless VERIFY_SELLER_ID=false: the local stack's
// setting, else the operator's environment.
func (c *CLI) accountReader(s *Session) importer.AccountReader {
	endpoint := c.Getenv("SP_API_ENDPOINT")
	verify := c.Getenv("VERIFY_SELLER_ID")
	if s.Stack != nil {
		for _, f := range s.Stack.Functions {
			if e := f.Env["SP_API_ENDPOINT"]; e != "" && endpoint == "" {
				endpoint = e
			}
			if v := f.Env["VERIFY_SELLER_ID"]; v != "" && verify == "" {
				verify = v
			}
		}
	}
	return spapi.NewClient(spapi.Config{Endpoint: endpoint, SellerIDProbe: verify != "false",
		Logger: slog.New(slog.DiscardHandler)})
}

// fingerprintDue says whether a connection still lacks the account fingerprint its
// renewals are checked against: a seller account (vendor accounts have no Sellers
// API) that holds a token (not pending) and has none on record.
func fingerprintDue(a authz.Authorization) bool {
	return a.AccountType != authz.AccountVendor && a.Status != authz.StatusPending && a.Account.IsZero()
}

// writeFingerprintSummary says how many of the listed seller connections have no
// account fingerprint yet; nothing when all have one.
func writeFingerprintSummary(w io.Writer, rows []Row) {
	missing, sellers := 0, 0
	for _, r := range rows {
		if r.AccountType == string(authz.AccountVendor) || r.Status == authz.StatusPending {
			continue
		}
		sellers++
		if r.NoFingerprint {
			missing++
		}
	}
	if missing > 0 {
		fmt.Fprintf(w, "%d of the %d seller connections listed have no account fingerprint yet: each gets one at its next successful refresh\n", missing, sellers)
	}
}
