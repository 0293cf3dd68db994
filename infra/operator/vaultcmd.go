package operator

import (
	"context"
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

// MigrateVault runs a migration between layouts.
func (o *Operator) MigrateVault(ctx context.Context, opts vault.MigrateOptions) (vault.Migration, error) {
	m, ok := o.secrets.(Migrator)
	if !ok {
		return vault.Migration{}, fmt.Errorf("%w: this vault cannot migrate", ErrNotConfigured)
	}
	return m.Migrate(ctx, opts)
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
	m, err := op.MigrateVault(ctx, vault.MigrateOptions{To: layout, DryRun: dryRun, RecoveryDays: days})
	if g.JSON {
		if perr := c.printJSON(m); perr != nil {
			return perr
		}
	} else {
		writeMigration(c, m)
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
