package operator

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// FunnelReader reads the ledger's per-day funnel counters (*store.Store).
type FunnelReader interface {
	FunnelDays(ctx context.Context, first, last time.Time) ([]store.FunnelDay, int, error)
}

// StageFunnel is one reminder stage's funnel over the report's days.
type StageFunnel struct {
	Stage      string `json:"stage"`
	Sent       int64  `json:"sent"`
	Delivered  int64  `json:"delivered"`
	Bounced    int64  `json:"bounced"`
	Complained int64  `json:"complained"`
	Opened     int64  `json:"opened"`
	Renewed    int64  `json:"renewed"`
}

// Report is the renewal funnel from Since to Until, read from one counter item per
// day: it never reads the authorizations.
type Report struct {
	Since                  string        `json:"since"`
	Until                  string        `json:"until"`
	ItemsRead              int           `json:"itemsRead"`
	Stages                 []StageFunnel `json:"stages"`
	RenewedBeforeExpiry    int64         `json:"renewedBeforeExpiry"`
	RenewedAfterExpiry     int64         `json:"renewedAfterExpiry"`
	RenewedBeforeExpiryPct float64       `json:"renewedBeforeExpiryPct"`
	RenewedWithoutReminder int64         `json:"renewedWithoutReminder"`
	// LastStage is the latest stage (by day relative to expiry) that sent anything in
	// the period, not the last one configured: later stages may still be to come.
	LastStage string `json:"lastStage,omitempty"`
	// SilentAfterLastStage counts the reminders sent at LastStage that neither bounced
	// nor were followed by a renewal credited to that stage.
	SilentAfterLastStage int64 `json:"silentAfterLastStage"`
	ContactsBouncing     int64 `json:"contactsBouncing"`
	ContactsComplained   int64 `json:"contactsComplained"`
}

// Report builds the funnel of the days from now-since to today (UTC).
func (o *Operator) Report(ctx context.Context, since time.Duration) (Report, error) {
	fr, ok := o.ledger.(FunnelReader)
	if !ok {
		return Report{}, fmt.Errorf("%w: this ledger keeps no funnel counters", ErrNotConfigured)
	}
	now := o.clock.Now().UTC()
	first := now.Add(-since)
	days, read, err := fr.FunnelDays(ctx, first, now)
	if err != nil {
		return Report{}, err
	}
	return BuildReport(days, first, now, read), nil
}

// BuildReport adds up days into a report.
func BuildReport(days []store.FunnelDay, first, last time.Time, itemsRead int) Report {
	r := Report{Since: first.UTC().Format(authz.DayLayout), Until: last.UTC().Format(authz.DayLayout), ItemsRead: itemsRead}
	stages := map[string]*StageFunnel{}
	stage := func(name string) *StageFunnel {
		if stages[name] == nil {
			stages[name] = &StageFunnel{Stage: name}
		}
		return stages[name]
	}
	for _, d := range days {
		for k, n := range d.Counts {
			step, st, _ := strings.Cut(k, ":")
			switch step {
			case store.FunnelSent:
				stage(st).Sent += n
			case store.FunnelDelivered:
				stage(st).Delivered += n
			case store.FunnelBounced:
				stage(st).Bounced += n
			case store.FunnelComplaint:
				stage(st).Complained += n
			case store.FunnelOpened:
				stage(st).Opened += n
			case store.FunnelRenewed:
				if st == store.FunnelNoStage {
					r.RenewedWithoutReminder += n
				}
				stage(st).Renewed += n
			case store.FunnelRenewedBeforeExpiry:
				r.RenewedBeforeExpiry += n
			case store.FunnelRenewedAfterExpiry:
				r.RenewedAfterExpiry += n
			case "contact_" + string(authz.ContactBouncing):
				r.ContactsBouncing += n
			case "contact_" + string(authz.ContactComplained):
				r.ContactsComplained += n
			}
		}
	}
	for _, s := range stages {
		r.Stages = append(r.Stages, *s)
	}
	slices.SortFunc(r.Stages, func(a, b StageFunnel) int { return stageOrder(a.Stage) - stageOrder(b.Stage) })
	if total := r.RenewedBeforeExpiry + r.RenewedAfterExpiry; total > 0 {
		r.RenewedBeforeExpiryPct = float64(r.RenewedBeforeExpiry) * 100 / float64(total)
	}
	// The latest day relative to expiry that sent anything in the period; a seller
	// reminded at it who has not renewed since is counted, whether or not a later
	// configured stage is still to come for them.
	for i := len(r.Stages) - 1; i >= 0; i-- {
		s := r.Stages[i]
		if _, err := strconv.Atoi(s.Stage); err == nil && s.Sent > 0 {
			r.LastStage = s.Stage
			r.SilentAfterLastStage = max(0, s.Sent-s.Bounced-s.Renewed)
			break
		}
	}
	return r
}

// stageOrder sorts stages by their day relative to expiry; reconnect and "none" last.
func stageOrder(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if s == "reconnect" {
		return 1 << 20
	}
	return 1 << 21
}

// WriteReport prints r for a person.
func WriteReport(w io.Writer, r Report) {
	fmt.Fprintf(w, "renewal funnel %s … %s (%d counter items read)\n\n", r.Since, r.Until, r.ItemsRead)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSENT\tDELIVERED\tBOUNCED\tCOMPLAINED\tOPENED\tRENEWED")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Stage, s.Sent, s.Delivered, s.Bounced, s.Complained, s.Opened, s.Renewed)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nrenewed before expiry: %d of %d (%.1f%%); after expiry: %d; without a reminder before: %d\n",
		r.RenewedBeforeExpiry, r.RenewedBeforeExpiry+r.RenewedAfterExpiry, r.RenewedBeforeExpiryPct, r.RenewedAfterExpiry, r.RenewedWithoutReminder)
	if r.LastStage != "" {
		fmt.Fprintf(w, "reminded at the latest stage sent in the period (%s), not renewed since (bounces left out): %d\n", r.LastStage, r.SilentAfterLastStage)
	}
	fmt.Fprintf(w, "contacts flagged in the period: %d bouncing, %d complained (keeperctl list --bouncing)\n", r.ContactsBouncing, r.ContactsComplained)
}

// Bouncing lists the authorizations whose contact bounced or complained: no email
// reaches them until the vendor sets the address again.
func (o *Operator) Bouncing(ctx context.Context) ([]Row, error) {
	now := o.clock.Now()
	var out []Row
	err := o.ledger.List(ctx, func(a authz.Authorization) error {
		if !a.ContactStatus.Reachable() {
			out = append(out, rowOf(a, now))
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Row) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return out, err
}

// report runs `keeperctl report [--since 30d]`.
func (c *CLI) report(ctx context.Context, g Globals, args []string) error {
	fs := c.flags("report", &g)
	since := fs.String("since", "30d", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("report: unexpected argument %q: %w", pos[0], errUsage)
	}
	d, err := config.ParseDuration(*since)
	if err != nil || d <= 0 || d > 3*366*24*time.Hour {
		return fmt.Errorf("--since %q: want a duration such as 30d or 365d (at most three years): %w", *since, errUsage)
	}
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	r, err := op.Report(ctx, d)
	if err != nil {
		return err
	}
	if g.JSON {
		return c.printJSON(r)
	}
	WriteReport(c.Stdout, r)
	return nil
}

// listBouncing runs `keeperctl list --bouncing`.
func (c *CLI) listBouncing(ctx context.Context, g Globals, args []string) error {
	fs := c.flags("list", &g)
	fs.Bool("bouncing", true, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("list: unexpected argument %q: %w", pos[0], errUsage)
	}
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	rows, err := op.Bouncing(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return c.printJSON(rows)
	}
	WriteTable(c.Stdout, rows, c.Now())
	return nil
}

// hasFlag reports whether args carry --name (or -name) as a flag.
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || a == "-"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}
