package app

import (
	"github.com/spapi-auth-keeper/keeper/shared/pace"
)

// The stack's shared call budgets (shared/pace), one item each in the table.
const (
	// SESBudget is SES_MAX_PER_SECOND, shared by every reminder sender invocation.
	SESBudget = "ses"
	// LWABudget is REFRESH_MAX_PER_SECOND, shared by every refresh worker and the
	// importer: both refresh sellers' tokens at LWA.
	LWABudget = "lwa"
)

// Pacer paces calls on the budget name at perSecond, shared with every function of the
// stack that names it.
func (d Deps) Pacer(name string, perSecond float64) (*pace.Pacer, error) {
	return pace.New(d.Clients.DynamoDB, d.Config.TableName, name, perSecond)
}
