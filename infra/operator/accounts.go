package operator

import (
	"log/slog"

	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
)

// accountReader is the SP-API client that takes each imported token's account
// fingerprint: against the local stack, the simulator its functions call
// (SP_API_ENDPOINT); against AWS, SP_API_ENDPOINT if set, else each region's
// production endpoint. SP_API_SELLER_ID_PROBE=true also asks for the seller id
// (the app needs the Product Fees role).
func (c *CLI) accountReader(s *Session) importer.AccountReader {
	endpoint := c.Getenv("SP_API_ENDPOINT")
	if s.Stack != nil {
		for _, f := range s.Stack.Functions {
			if e := f.Env["SP_API_ENDPOINT"]; e != "" {
				endpoint = e
				break
			}
		}
	}
	return spapi.NewClient(spapi.Config{Endpoint: endpoint, SellerIDProbe: c.Getenv("SP_API_SELLER_ID_PROBE") == "true",
		Logger: slog.New(slog.DiscardHandler)})
}
