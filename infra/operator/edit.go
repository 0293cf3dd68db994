package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// keeperctl set: a seller's contact details change (a new e-mail address, another
// language, the marketplace the renewal pages should open).
//
//	keeperctl set <connection> [--email a@b.example] [--locale de-DE] [--marketplace de] [--display-name "…"]

// Edit is what set changes; nil fields stay as they are.
type Edit struct {
	Email       *string
	Locale      *string
	Marketplace *string
	DisplayName *string
}

// maxEditAttempts bounds the re-read-and-retry loop when a refresh or a reminder
// writes the record at the same moment.
const maxEditAttempts = 5

// Set validates e, applies it at the record's version and writes a contact_changed
// history event saying what changed. Nothing changes if nothing differs.
func (o *Operator) Set(ctx context.Context, connectionID string, region authz.Region, e Edit) (Row, []string, error) {
	if e.Email == nil && e.Locale == nil && e.Marketplace == nil && e.DisplayName == nil {
		return Row{}, nil, fmt.Errorf("%w: set needs at least one of --email, --locale, --marketplace, --display-name", ErrInvalid)
	}
	if e.Email != nil {
		addr, err := reminder.ValidateAddress(strings.TrimSpace(*e.Email))
		if err != nil {
			return Row{}, nil, fmt.Errorf("%w: --email %q is not a plain email address (want name@example.com)", ErrInvalid, *e.Email)
		}
		e.Email = &addr
	}
	if e.Locale != nil {
		if err := importer.ValidateLocale(*e.Locale); err != nil {
			return Row{}, nil, fmt.Errorf("%w: --%v", ErrInvalid, err)
		}
	}
	if e.DisplayName != nil && (len(*e.DisplayName) > 200 || strings.ContainsFunc(*e.DisplayName, func(r rune) bool { return r < 0x20 || r == 0x7f })) {
		return Row{}, nil, fmt.Errorf("%w: --display-name: at most 200 characters on one line", ErrInvalid)
	}
	for attempt := 1; ; attempt++ {
		a, err := o.find(ctx, connectionID, region)
		if err != nil {
			return Row{}, nil, err
		}
		var changes []string
		change := func(what string, dst *string, v *string) {
			if v != nil && *dst != *v {
				changes = append(changes, fmt.Sprintf("%s %s → %s", what, orNone(*dst), orNone(*v)))
				*dst = *v
			}
		}
		if e.Marketplace != nil {
			m := strings.ToUpper(strings.TrimSpace(*e.Marketplace))
			if err := consent.ValidMarketplace(m, a.Region); err != nil {
				return Row{}, nil, fmt.Errorf("%w: --marketplace: %v", ErrInvalid, err)
			}
			change("marketplace", &a.Marketplace, &m)
		}
		oldEmail := a.ContactEmail
		change("contact email", &a.ContactEmail, e.Email)
		if a.ContactEmail != oldEmail {
			a.ContactStatus = "" // a new address has not bounced
		}
		change("locale", &a.Locale, e.Locale)
		change("display name", &a.DisplayName, e.DisplayName)
		now := o.clock.Now()
		if len(changes) == 0 {
			return rowOf(a, now), nil, nil
		}
		ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now.UTC(), Kind: authz.EventContactChanged,
			Detail: "changed by an operator: " + strings.Join(changes, "; ")}
		stored, err := o.ledger.Update(ctx, a, ev)
		if errors.Is(err, authz.ErrVersionConflict) && attempt < maxEditAttempts {
			continue
		}
		if err != nil {
			return Row{}, nil, err
		}
		return rowOf(stored, now), changes, nil
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (c *CLI) setCmd(ctx context.Context, g Globals, args []string) error {
	fs := c.flags("set", &g)
	var e Edit
	optional := func(name string, dst **string) {
		fs.Func(name, "", func(v string) error { *dst = &v; return nil })
	}
	optional("email", &e.Email)
	optional("locale", &e.Locale)
	optional("marketplace", &e.Marketplace)
	optional("display-name", &e.DisplayName)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("set needs one connection id (keeperctl set <connection> --email new@example.com): %w", errUsage)
	}
	region, err := regionFlag(g)
	if err != nil {
		return err
	}
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	row, changes, err := op.Set(ctx, pos[0], region, e)
	if err != nil {
		return err
	}
	if g.JSON {
		return c.printJSON(map[string]any{"authorization": row, "changes": changes})
	}
	if len(changes) == 0 {
		fmt.Fprintf(c.Stdout, "%s/%s: nothing to change\n", row.ConnectionID, row.Region)
		return nil
	}
	fmt.Fprintf(c.Stdout, "%s/%s: %s (recorded in its history)\n", row.ConnectionID, row.Region, strings.Join(changes, "; "))
	return nil
}

func regionFlag(g Globals) (authz.Region, error) {
	if g.Region == "" {
		return "", nil
	}
	r, err := authz.ParseRegion(strings.ToLower(g.Region))
	if err != nil {
		return "", fmt.Errorf("--region: %v: %w", err, errUsage)
	}
	return r, nil
}
