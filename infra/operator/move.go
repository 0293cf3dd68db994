package operator

import (
	"context"

	"fmt"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Binder is the seller binding as a deliberate move needs it (*store.Store): one
// selling partner is bound to at most one connection per region, and only an
// operator moves it.
type Binder interface {
	SellerBinding(ctx context.Context, region authz.Region, sellingPartnerID string) (string, error)
	MoveBinding(ctx context.Context, from authz.Authorization, toConnectionID string, at time.Time, reason string) error
}

// Move is what a move did, or would do.
type Move struct {
	SellingPartnerID string       `json:"sellingPartnerId"`
	Region           authz.Region `json:"region"`
	From             string       `json:"from"`
	To               string       `json:"to"`
	StoreName        string       `json:"storeName,omitempty"`
	Done             bool         `json:"done"`
	SecretDeleted    bool         `json:"secretDeleted"`
}

// MoveSeller rebinds a selling partner from the connection it is bound to in region
// to another connection: the old record becomes pending (its refresh token is
// deleted, since it is the seller's, not the old connection's), the binding names the
// new connection, and both histories record the move. The seller then authorizes the
// new connection (send them its link). Without confirm it only says what it would do.
func (o *Operator) MoveSeller(ctx context.Context, sellingPartnerID string, region authz.Region, to string, confirm bool) (Move, error) {
	b, ok := o.ledger.(Binder)
	if !ok {
		return Move{}, fmt.Errorf("%w: this ledger cannot move seller bindings", ErrNotConfigured)
	}
	if region == "" {
		return Move{}, fmt.Errorf("%w: move needs --region (na, eu or fe): a seller may be bound in several", ErrInvalid)
	}
	if err := authz.ValidateConnectionID(to); err != nil {
		return Move{}, fmt.Errorf("%w: --to: %v", ErrInvalid, err)
	}
	from, err := b.SellerBinding(ctx, region, sellingPartnerID)
	if err != nil {
		return Move{}, err
	}
	if from == "" {
		return Move{}, fmt.Errorf("%w: selling partner %s is not bound to any connection in %s", ErrUnknownConnection, sellingPartnerID, region)
	}
	m := Move{SellingPartnerID: sellingPartnerID, Region: region, From: from, To: to}
	if from == to {
		return m, fmt.Errorf("%w: selling partner %s is already bound to %s", ErrInvalid, sellingPartnerID, to)
	}
	if _, err := o.ledger.Get(ctx, to, region); err != nil {
		return m, fmt.Errorf("%w: the target connection %s/%s does not exist (keeperctl onboard it first): %v", ErrUnknownConnection, to, region, err)
	}
	a, err := o.ledger.Get(ctx, from, region)
	if err != nil {
		return m, err
	}
	m.StoreName = a.Account.StoreName
	if !confirm {
		return m, nil
	}
	if err := b.MoveBinding(ctx, a, to, o.clock.Now().UTC(), "keeperctl move"); err != nil {
		return m, err
	}
	m.Done = true
	if err := o.secrets.Delete(ctx, from, region); err != nil {
		return m, fmt.Errorf("moved; %s/%s is pending and nothing refreshes it, but its old refresh token could not be deleted yet: %w", from, region, err)
	}
	m.SecretDeleted = true
	return m, nil
}

// move is `keeperctl move <seller-id> --to <connection> --region <r> --confirm <seller-id>`.
func (c *CLI) move(ctx context.Context, g Globals, args []string) error {
	var to, confirm string
	fs := c.flags("move", &g)
	fs.StringVar(&to, "to", "", "")
	fs.StringVar(&confirm, "confirm", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || to == "" {
		return fmt.Errorf("move needs a seller id and --to (keeperctl move <seller-id> --to <connection> --region eu): %w", errUsage)
	}
	if confirm != "" && confirm != pos[0] {
		return fmt.Errorf("--confirm %q does not repeat the seller id %q: nothing moved: %w", confirm, pos[0], errUsage)
	}
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	m, err := op.MoveSeller(ctx, pos[0], authz.Region(strings.ToLower(g.Region)), to, confirm != "")
	if err != nil && !m.Done {
		return err
	}
	if g.JSON {
		if jerr := c.printJSON(m); jerr != nil {
			return jerr
		}
		return err
	}
	store := ""
	if m.StoreName != "" {
		store = " (" + m.StoreName + ")"
	}
	if !m.Done {
		fmt.Fprintf(c.Stdout, "would move selling partner %s%s in %s from %s to %s: %s becomes pending and loses its refresh token.\n"+
			"Repeat with --confirm %s to do it.\n", m.SellingPartnerID, store, m.Region, m.From, m.To, m.From, m.SellingPartnerID)
		return nil
	}
	fmt.Fprintf(c.Stdout, "moved selling partner %s%s in %s from %s to %s; %s is pending (refresh token deleted: %t). "+
		"Send the seller %s's link (keeperctl link %s) to authorize it.\n", m.SellingPartnerID, store, m.Region, m.From, m.To, m.From, m.SecretDeleted, m.To, m.To)
	return err
}
