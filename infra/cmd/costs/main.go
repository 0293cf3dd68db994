// Command costs prints the README's "What it costs" table: the monthly bill at 1,000
// to 1,000,000 authorizations, computed by infra/costmodel from the calls one
// authorization-day made in BenchmarkAuthorizationDay (costmodel.Measured).
//
//	go run ./infra/cmd/costs
package main

import (
	"fmt"

	"github.com/spapi-auth-keeper/keeper/infra/costmodel"
)

func main() {
	fmt.Printf("Prices: %s. Counts: BenchmarkAuthorizationDay at %d authorizations.\n\n", costmodel.PricesAsOf, costmodel.Measured.Authorizations)
	fmt.Print(costmodel.Markdown(costmodel.Table(costmodel.Measured, costmodel.Sizes), costmodel.Sizes))
}
