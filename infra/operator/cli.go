package operator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// Usage is keeperctl's help.
const Usage = `keeperctl: the operator's view of the SP-API authorization ledger

usage: keeperctl [flags] <command> [arguments] [flags]

commands:
  list [--status active,expiring] [--expiring-within 30d]   the authorizations, soonest expiry first
  show <connection> [--history]                              one authorization (and its history)
  onboard <connection> --region eu --email a@b.example [--marketplace de] [--vendor]
                                                             a pending authorization and its first link
  link <connection>                                          a fresh renewal link
  refresh <connection>                                       prove it alive now (invokes the token refresh function)
  forget <connection> [--purge] [--yes]                      delete its refresh token and record, keep an anonymised history event
                                                             (--purge: no copy left in its bucket's AWSPREVIOUS either)
  move <seller-id> --to <connection> --region eu --confirm <seller-id>
                                                             bind a seller to another connection
  set <connection> [--email a@b.example] [--locale de-DE] [--marketplace de] [--display-name "…"]
                                                             change a seller's contact details
  export [--format csv|jsonl] [--output FILE] [--status …]   the ledger as CSV or JSON Lines (never a token)
  import sellers.csv [--dry-run] [--confirm-per-day 500] [--report FILE] [--remote s3://bucket/key]
                                                             bring existing authorizations in from a file
                                                             (--dry-run: no LWA, no AWS; remembers ids to find repeats, ~50 bytes a row)
  vault migrate --to packed|per-authorization [--dry-run]    move every refresh token to the other layout (resumable)
  list --bouncing                                            the authorizations whose contact bounced or complained
  report [--since 30d]                                       the renewal funnel per reminder stage, from per-day counters
  client-secret status                                       the app's LWA client secret: days left, rotation pending, last rotation
  client-secret rotate                                       request a client secret rotation now (invokes the credentials function)
  webhooks secret <url> | test | replay --since DAY | enable <url>
                                                             webhook endpoints: signing secret, signed test event, re-send history, re-enable

flags (anywhere on the line):
  --local                   use the stack that ` + "`make run`" + ` started on this machine
  --table NAME              the ledger table (the stack's TableName output; env KEEPER_TABLE)
  --secret-prefix PREFIX    the stack's SecretPrefix parameter (env KEEPER_SECRET_PREFIX; default spapi-keeper)
  --base-url URL            where the renewal pages are served (the stack's BaseUrl output; env KEEPER_BASE_URL)
  --refresh-function NAME   the deployed TokenRefreshFunction (env KEEPER_REFRESH_FUNCTION)
  --credentials-function NAME  after client-secret: the deployed CredentialsFunction (env KEEPER_CREDENTIALS_FUNCTION)
  --region na|eu|fe         which region's authorization, when a connection has several
  --json                    machine-readable output

Against AWS it uses the default credential chain (AWS_PROFILE, environment, SSO, ...).
`

// Globals are the flags every command takes.
type Globals struct {
	Local           bool
	Table           string
	SecretPrefix    string
	BaseURL         string
	RefreshFunction string
	Region          string
	JSON            bool
}

// CLI is keeperctl. Connect builds the operator from the flags (tests give their own);
// Root is the repository whose .local/stack.json --local reads.
type CLI struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader // nil: os.Stdin
	Getenv         func(string) string
	Root           string
	Connect        func(ctx context.Context, c *CLI, g Globals) (*Operator, error)
	Now            func() time.Time
}

// Exit codes: usage mistakes are 2, failures 1.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

var errUsage = errors.New("usage")

// Run executes one command line and returns the exit code. Every failure is one
// line on Stderr.
func (c *CLI) Run(ctx context.Context, args []string) int {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Connect == nil {
		c.Connect = Connect
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	err := c.run(ctx, args)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.Stdout, Usage)
		return ExitOK
	case errors.Is(err, errUsage), errors.Is(err, ErrInvalid):
		fmt.Fprintln(c.Stderr, "keeperctl:", oneLine(err))
		return ExitUsage
	}
	fmt.Fprintln(c.Stderr, "keeperctl:", oneLine(err))
	return ExitFail
}

func oneLine(err error) string {
	s := strings.TrimSuffix(err.Error(), ": usage")
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (c *CLI) flags(name string, g *Globals) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&g.Local, "local", g.Local, "")
	fs.StringVar(&g.Table, "table", g.Table, "")
	fs.StringVar(&g.SecretPrefix, "secret-prefix", g.SecretPrefix, "")
	fs.StringVar(&g.BaseURL, "base-url", g.BaseURL, "")
	fs.StringVar(&g.RefreshFunction, "refresh-function", g.RefreshFunction, "")
	fs.StringVar(&g.Region, "region", g.Region, "")
	fs.BoolVar(&g.JSON, "json", g.JSON, "")
	return fs
}

// parse reads flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%v (keeperctl --help lists the flags): %w", err, errUsage)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (c *CLI) run(ctx context.Context, args []string) error {
	g := Globals{Table: c.Getenv("KEEPER_TABLE"), SecretPrefix: c.Getenv("KEEPER_SECRET_PREFIX"),
		BaseURL: c.Getenv("KEEPER_BASE_URL"), RefreshFunction: c.Getenv("KEEPER_REFRESH_FUNCTION")}
	lead := c.flags("keeperctl", &g)
	if err := lead.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%v (keeperctl --help lists the flags): %w", err, errUsage)
	}
	if lead.NArg() == 0 {
		return fmt.Errorf("no command: want %s (keeperctl --help): %w", Commands, errUsage)
	}
	cmd, rest := lead.Arg(0), lead.Args()[1:]
	switch cmd {
	case "client-secret":
		return c.clientSecret(ctx, g, rest) // clientsecret.go
	case "import":
		return c.importCmd(ctx, g, rest) // importcmd.go
	case "set":
		return c.setCmd(ctx, g, rest) // edit.go
	case "export":
		return c.exportCmd(ctx, g, rest) // export.go
	}
	if cmd == "move" {
		return c.move(ctx, g, rest) // move.go
	}
	if cmd == "vault" {
		return c.vaultCommand(ctx, g, rest) // vaultcmd.go
	}
	if cmd == "webhooks" {
		return c.webhooks(ctx, g, rest) // webhooks.go
	}
	if cmd == "report" {
		return c.report(ctx, g, rest) // report.go
	}
	if cmd == "list" && hasFlag(rest, "bouncing") {
		return c.listBouncing(ctx, g, rest) // report.go
	}
	fs := c.flags(cmd, &g)
	var (
		status, within, email, market string
		history, vendor, yes, purge   bool
	)
	want := 1 // positional arguments: the connection
	switch cmd {
	case "list":
		fs.StringVar(&status, "status", "", "")
		fs.StringVar(&within, "expiring-within", "", "")
		want = 0
	case "show":
		fs.BoolVar(&history, "history", false, "")
	case "onboard":
		fs.StringVar(&email, "email", "", "")
		fs.StringVar(&market, "marketplace", "", "")
		fs.BoolVar(&vendor, "vendor", false, "")
	case "forget":
		fs.BoolVar(&yes, "yes", false, "")
		fs.BoolVar(&purge, "purge", false, "")
	case "link", "refresh":
	case "help":
		return flag.ErrHelp
	default:
		return fmt.Errorf("unknown command %q: want %s (keeperctl --help): %w", cmd, Commands, errUsage)
	}
	pos, err := parse(fs, rest)
	if err != nil {
		return err
	}
	switch {
	case len(pos) < want:
		return fmt.Errorf("%s needs a connection id (keeperctl %s <connection>): %w", cmd, cmd, errUsage)
	case len(pos) > want:
		return fmt.Errorf("%s: unexpected argument %q: %w", cmd, pos[want], errUsage)
	}
	var filter Filter
	if status != "" {
		if filter, err = ParseFilterStatuses(status); err != nil {
			return err
		}
	}
	if within != "" {
		d, err := config.ParseDuration(within)
		if err != nil || d <= 0 {
			return fmt.Errorf("--expiring-within %q: want a duration such as 30d or 72h: %w", within, errUsage)
		}
		filter.ExpiringWithin = d
	}
	region := authz.Region(strings.ToLower(g.Region))
	if region != "" {
		if _, err := authz.ParseRegion(string(region)); err != nil {
			return fmt.Errorf("--region: %v: %w", err, errUsage)
		}
	}
	filter.Region = region
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	now := c.Now()
	switch cmd {
	case "list":
		rows, err := op.List(ctx, filter)
		if err != nil {
			return err
		}
		if g.JSON {
			return c.printJSON(rows)
		}
		WriteTable(c.Stdout, rows, now)
		return nil
	case "show":
		d, err := op.Show(ctx, pos[0], region, history)
		if err != nil {
			return err
		}
		if g.JSON {
			return c.printJSON(d)
		}
		writeDetail(c.Stdout, d)
		return nil
	case "onboard":
		row, link, err := op.Onboard(ctx, OnboardRequest{ConnectionID: pos[0], Region: region, Email: email, Marketplace: market, Vendor: vendor})
		if err != nil {
			return err
		}
		if g.JSON {
			return c.printJSON(map[string]any{"authorization": row, "link": link})
		}
		fmt.Fprintf(c.Stdout, "%s/%s is pending. Send the seller this link to authorize it:\n%s\n", row.ConnectionID, row.Region, link)
		return nil
	case "link":
		row, link, err := op.Link(ctx, pos[0], region)
		if err != nil {
			return err
		}
		if g.JSON {
			return c.printJSON(map[string]any{"connectionId": row.ConnectionID, "region": row.Region, "link": link})
		}
		fmt.Fprintln(c.Stdout, link)
		return nil
	case "refresh":
		out, err := op.Refresh(ctx, pos[0], region)
		if err != nil {
			return err
		}
		if g.JSON {
			_, err := fmt.Fprintln(c.Stdout, strings.TrimSpace(string(out)))
			return err
		}
		writeOutcome(c.Stdout, out)
		return refreshError(out)
	case "forget":
		if err := c.confirmForget(pos[0], region, yes); err != nil {
			return err
		}
		forget := op.Forget
		if purge {
			forget = op.ForgetPurge
		}
		f, err := forget(ctx, pos[0], region)
		if err != nil {
			return err
		}
		if g.JSON {
			return c.printJSON(f)
		}
		writeForgotten(c.Stdout, f, purge)
		return nil
	}
	return nil
}

func (c *CLI) printJSON(v any) error {
	enc := json.NewEncoder(c.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable prints rows as a vendor's "Amazon accounts" page lists them.
func WriteTable(w io.Writer, rows []Row, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tREGION\tSELLER ID\tSTATUS\tEXPIRES\tDAYS LEFT\tLAST REFRESH\tLAST ERROR")
	for _, r := range rows {
		days := "-"
		if r.DaysLeft != nil {
			days = fmt.Sprint(*r.DaysLeft)
		}
		expires := sellerDay(r) // the day the emails and Seller Central name
		if !r.ExpiryKnown && !r.ExpiresAt.IsZero() {
			expires += " (assumed)" // imported without a grant date: the seller is asked to confirm
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ConnectionID, r.Region, dash(r.SellingPartnerID), r.Status,
			expires, days, ago(r.LastRefreshAt, now), dash(truncate(r.LastRefreshError, 60)))
	}
	tw.Flush()
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no authorizations match)")
	}
	writeFingerprintSummary(w, rows)
}

func writeDetail(w io.Writer, d Detail) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	days := "-"
	if d.DaysLeft != nil {
		days = fmt.Sprint(*d.DaysLeft)
	}
	for _, kv := range [][2]string{
		{"connection", d.ConnectionID}, {"region", string(d.Region)}, {"account type", d.AccountType}, {"marketplace", dash(d.Marketplace)},
		{"seller id", dash(d.SellingPartnerID)}, {"contact email", dash(d.ContactEmail)}, {"status", string(d.Status)},
		{"authorized", stamp(d.AuthorizedAt)}, {"expires", stamp(d.ExpiresAt)}, {"days left", days},
		{"last refresh", stamp(d.LastRefreshAt)}, {"last error", dash(d.LastRefreshError)},
		{"refresh failures", fmt.Sprint(d.RefreshFailures)}, {"secret", dash(d.SecretID)}, {"version", fmt.Sprint(d.Version)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	writeReminders(w, d.Reminders) // words.go: a section of its own, so long keys push no column

	if len(d.History) > 0 {
		fmt.Fprintln(w, "\nhistory (newest first):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, h := range d.History {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", stamp(h.At), h.Region, describeEvent(h, d.ContactEmail))
		}
		tw.Flush()
	}
}

func writeOutcome(w io.Writer, out []byte) {
	var o struct {
		ConnectionID string    `json:"connectionId"`
		Region       string    `json:"region"`
		Result       string    `json:"result"`
		Reason       string    `json:"reason"`
		Status       string    `json:"status"`
		ExpiresAt    time.Time `json:"expiresAt"`
		Error        string    `json:"error"`
	}
	if err := json.Unmarshal(out, &o); err != nil || o.Result == "" {
		fmt.Fprintln(w, strings.TrimSpace(string(out)))
		return
	}
	line := fmt.Sprintf("%s/%s: %s", o.ConnectionID, o.Region, o.Result)
	if o.Status != "" {
		line += ", status " + o.Status
	}
	if !o.ExpiresAt.IsZero() {
		line += ", expires " + day(o.ExpiresAt)
	}
	if o.Reason != "" {
		line += " (" + o.Reason + ")"
	}
	if o.Error != "" {
		line += ": " + o.Error
	}
	fmt.Fprintln(w, line)
}

// sellerDay is the row's expiry day in its marketplace's time zone, where its days
// left are counted.
func sellerDay(r Row) string {
	if r.ExpiresAt.IsZero() {
		return "-"
	}
	return r.ExpiresAt.In(authz.Authorization{Marketplace: r.Marketplace, Region: r.Region}.Location()).Format("2006-01-02")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

// Connect builds the operator: against the local stack with --local (its endpoints
// and names from .local/stack.json), otherwise against AWS with the default
// credential chain; the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables apply.
func Connect(ctx context.Context, c *CLI, g Globals) (*Operator, error) {
	sess, err := c.Session(ctx, g)
	if err != nil {
		return nil, err
	}
	g = sess.Globals
	inv := LambdaInvoker{Config: sess.Config, Endpoint: sess.Endpoints[localstate.EnvLambda]}
	return New(Config{BaseURL: g.BaseURL, RefreshFunction: g.RefreshFunction},
		store.New(sess.DynamoDB(), g.Table), sess.Vault(""), inv, authz.ClockFunc(c.Now)), nil
}
