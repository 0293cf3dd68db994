package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// keeperctl vault migrate --to packed|per-authorization [--dry-run] [--recovery-days N]:
// moves every refresh token to the other layout (DESIGN.md, "Secrets Manager"). Deploy
// the target layout first (the stack's VaultLayout parameter), so that renewals write
// where the migration moves to; readers find a token in either layout throughout.
//
// keeperctl forget <connection> --purge: forget, and write the token's bucket twice so
// that AWSPREVIOUS no longer holds the token either.

// Migrator moves refresh tokens between layouts (*vault.Vault).
type Migrator interface {
	Migrate(ctx context.Context, opts vault.MigrateOptions) (vault.Migration, error)
}

// purger removes a refresh token from AWSCURRENT and AWSPREVIOUS (*vault.Vault).
type purger interface {
	Purge(ctx context.Context, connectionID string, region authz.Region) error
}

// recordWriter updates a record (*store.Store).
type recordWriter interface {
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
}

// MigrateVault runs a migration between layouts, then points each moved record's
// secretId at the secret that now holds its token. A record that a renewal or a
// refresh changes meanwhile is read again; one that keeps changing is left for its
// next renewal (readers do not use secretId to find a token).
func (o *Operator) MigrateVault(ctx context.Context, opts vault.MigrateOptions) (vault.Migration, int, error) {
	mg, ok := o.secrets.(Migrator)
	if !ok {
		return vault.Migration{}, 0, fmt.Errorf("%w: this vault cannot migrate", ErrNotConfigured)
	}
	m, err := mg.Migrate(ctx, opts)
	w, canWrite := o.ledger.(recordWriter)
	if opts.DryRun || !canWrite {
		return m, 0, err
	}
	updated := 0
	for entry, id := range m.SecretIDs {
		conn, region, _ := strings.Cut(entry, "/")
		for range 3 {
			a, gerr := o.ledger.Get(ctx, conn, authz.Region(region))
			if gerr != nil || a.SecretID == id {
				break // no record (an orphan token), or already right
			}
			a.SecretID = id
			_, uerr := w.Update(ctx, a)
			if uerr == nil {
				updated++
				break
			}
			if !errors.Is(uerr, authz.ErrVersionConflict) {
				return m, updated, errors.Join(err, fmt.Errorf("point %s's record at its new secret: %w", entry, uerr))
			}
		}
	}
	return m, updated, err
}

// ForgetPurge is Forget that also leaves no copy of the token in its bucket's
// AWSPREVIOUS version.
func (o *Operator) ForgetPurge(ctx context.Context, connectionID string, region authz.Region) (Forgotten, error) {
	p, ok := o.secrets.(purger)
	if !ok {
		return Forgotten{}, fmt.Errorf("%w: this vault cannot purge", ErrNotConfigured)
	}
	c := *o
	c.secrets = purging{Secrets: o.secrets, p: p}
	return c.Forget(ctx, connectionID, region)
}

type purging struct {
	Secrets
	p purger
}

func (s purging) Delete(ctx context.Context, connectionID string, region authz.Region) error {
	return s.p.Purge(ctx, connectionID, region)
}

// vaultCommand runs `keeperctl vault migrate`.
func (c *CLI) vaultCommand(ctx context.Context, g Globals, args []string) error {
	fs := c.flags("vault", &g)
	var to string
	var dryRun bool
	var days int
	fs.StringVar(&to, "to", "", "")
	fs.BoolVar(&dryRun, "dry-run", false, "")
	fs.IntVar(&days, "recovery-days", 30, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "migrate" {
		return fmt.Errorf("vault needs migrate (keeperctl vault migrate --to packed): %w", errUsage)
	}
	if to == "" {
		return fmt.Errorf("vault migrate needs --to packed or --to per-authorization: %w", errUsage)
	}
	layout, err := vault.ParseLayout(to)
	if err != nil {
		return fmt.Errorf("--to: %v: %w", err, errUsage)
	}
	if days < 7 || days > 30 {
		return fmt.Errorf("--recovery-days %d: Secrets Manager allows 7 to 30: %w", days, errUsage)
	}
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	m, records, err := op.MigrateVault(ctx, vault.MigrateOptions{To: layout, DryRun: dryRun, RecoveryDays: days})
	if g.JSON {
		if perr := c.printJSON(struct {
			vault.Migration
			RecordsUpdated int `json:"recordsUpdated"`
		}{m, records}); perr != nil {
			return perr
		}
	} else {
		writeMigration(c, m)
		fmt.Fprintf(c.Stdout, "%d records now name the secret that holds their token\n", records)
	}
	if err != nil {
		return fmt.Errorf("migration stopped (run it again to resume): %w", err)
	}
	return nil
}

func writeMigration(c *CLI, m vault.Migration) {
	verb := "moved"
	if m.DryRun {
		verb = "would move"
	}
	fmt.Fprintf(c.Stdout, "to %s: %d found, %s %d, %d already there, %d verified, %d removed from the old layout\n",
		m.To, m.Found, verb, m.Copied, m.AlreadyThere, m.Verified, m.Retired)
	if len(m.Skipped) > 0 {
		fmt.Fprintf(c.Stdout, "left in the old layout (run again once resolved):\n  %s\n", strings.Join(m.Skipped, "\n  "))
	}
}
