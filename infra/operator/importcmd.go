package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// keeperctl import: the vendor's existing authorizations, from a file.
//
//	keeperctl import sellers.csv [--dry-run] [--confirm-per-day 500] [--report FILE]
//	keeperctl import --remote s3://bucket/sellers.csv sellers.csv   (the import runs in the stack)
//
// The import streams the file in flat memory; --dry-run, which has no ledger to find
// repeated connection and seller ids in, remembers them (~50 bytes a row).

// ErrImportIncomplete: the import ran, but some rows were rejected or failed.
var ErrImportIncomplete = errors.New("import finished with rows not imported")

// KMSKeyEnv names the stack's KMS key (the KmsKeyId output) that encrypts the
// secrets an import creates.
const KMSKeyEnv = "KEEPER_KMS_KEY_ID"

// importFlags are import's own flags.
type importFlags struct {
	dryRun        bool
	confirmPerDay int
	unknownExpiry string
	report        string
	maxPerSecond  float64
	concurrency   int
	kmsKeyID      string
	lwaEndpoint   string
	remote        string
	progress      string // auto, bar, lines, none
}

func (c *CLI) importCmd(ctx context.Context, g Globals, args []string) error {
	f := importFlags{kmsKeyID: c.Getenv(KMSKeyEnv), lwaEndpoint: c.Getenv("LWA_ENDPOINT"), progress: "auto"}
	fs := c.flags("import", &g)
	fs.BoolVar(&f.dryRun, "dry-run", false, "")
	fs.IntVar(&f.confirmPerDay, "confirm-per-day", 0, "")
	fs.StringVar(&f.unknownExpiry, "unknown-expiry", "30d", "")
	fs.StringVar(&f.report, "report", "", "")
	fs.Float64Var(&f.maxPerSecond, "max-per-second", 0, "")
	fs.IntVar(&f.concurrency, "concurrency", 0, "")
	fs.StringVar(&f.kmsKeyID, "kms-key-id", f.kmsKeyID, "")
	fs.StringVar(&f.lwaEndpoint, "lwa-endpoint", f.lwaEndpoint, "")
	fs.StringVar(&f.remote, "remote", "", "")
	fs.StringVar(&f.progress, "progress", f.progress, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("import needs one file (keeperctl import sellers.csv, or - for standard input): %w", errUsage)
	}
	unknown, err := config.ParseDuration(f.unknownExpiry)
	if err != nil || unknown < 24*time.Hour || unknown > authz.Lifetime {
		return fmt.Errorf("--unknown-expiry %q: want a duration of 1 to 365 days, such as 30d: %w", f.unknownExpiry, errUsage)
	}
	if f.confirmPerDay < 0 || f.maxPerSecond < 0 || f.concurrency < 0 {
		return fmt.Errorf("--confirm-per-day, --max-per-second and --concurrency take positive numbers: %w", errUsage)
	}
	switch f.progress {
	case "auto", "bar", "lines", "none":
	default:
		return fmt.Errorf("--progress %q: want auto, bar, lines or none: %w", f.progress, errUsage)
	}
	if f.remote != "" {
		return c.remoteImport(ctx, g, f, pos[0], unknown) // remoteimport.go
	}

	in, size, name, closeIn, err := c.openInput(pos[0])
	if err != nil {
		return err
	}
	defer closeIn()
	cfg := importer.Config{DryRun: f.dryRun, ConfirmPerDay: f.confirmPerDay, UnknownExpiry: unknown, Source: name,
		MaxPerSecond: f.maxPerSecond, Concurrency: f.concurrency}
	deps := importer.Deps{Clock: authz.ClockFunc(func() time.Time { return c.Now().UTC() })}
	if !f.dryRun {
		sess, err := c.Session(ctx, g)
		if err != nil {
			return err
		}
		if cfg.MaxPerSecond == 0 {
			cfg.MaxPerSecond = importBudget(sess.FunctionEnv(localstate.TokenRefreshFunction, "REFRESH_MAX_PER_SECOND"))
		}
		endpoint := f.lwaEndpoint
		if endpoint == "" {
			endpoint = sess.FunctionEnv(localstate.TokenRefreshFunction, "LWA_ENDPOINT")
		}
		if endpoint == "" {
			endpoint = config.DefaultLWAEndpoint
		}
		if sess.Stack == nil && f.kmsKeyID == "" {
			return fmt.Errorf("%w: --kms-key-id is required against AWS (the stack's KmsKeyId output; env %s): the refresh tokens are encrypted with the stack's key",
				ErrNotConfigured, KMSKeyEnv)
		}
		v := sess.Vault(f.kmsKeyID)
		st := store.New(sess.DynamoDB(), sess.Globals.Table)
		deps.Ledger, deps.Tokens, deps.Writer = st, v, v
		// The stack's LWA budget, shared with its refresh workers through the table.
		pacer, err := pace.New(sess.DynamoDB(), sess.Globals.Table, app.LWABudget, cfg.MaxPerSecond)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		deps.Pacer = pacer
		deps.LWA = lwa.NewClient(lwa.Config{Endpoint: endpoint, Credentials: clientcreds.New(v, 0)})
		deps.Accounts = c.accountReader(sess)
	}
	bar := c.progressPrinter(f.progress, size)
	deps.Progress = bar.update
	rep, runErr := importer.New(cfg, deps).Run(ctx, in)
	bar.end()
	if rep == nil {
		return runErr
	}
	return c.finishImport(g, f.report, rep, runErr)
}

// importBudget is the import's default LWA rate: REFRESH_MAX_PER_SECOND, the budget
// the import takes its call times from together with the proof-of-life refresh (one
// item in the table), so that the two together never exceed it.
func importBudget(refreshMax string) float64 {
	total, err := strconv.ParseFloat(refreshMax, 64)
	if err != nil || total <= 0 {
		total = 20 // REFRESH_MAX_PER_SECOND's default
	}
	return total
}

// openInput opens the file (or standard input for "-") and tells its size for the ETA.
func (c *CLI) openInput(arg string) (io.Reader, int64, string, func(), error) {
	if arg == "-" {
		return c.stdin(), 0, "standard input", func() {}, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, 0, "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, filepath.Base(arg), func() { f.Close() }, nil
}

func (c *CLI) stdin() io.Reader {
	if c.Stdin != nil {
		return c.Stdin
	}
	return os.Stdin
}

// finishImport prints the report, writes it to a file, and says how it went.
func (c *CLI) finishImport(g Globals, path string, rep *importer.Report, runErr error) error {
	if path == "" {
		ext := ".txt"
		if g.JSON {
			ext = ".json"
		}
		path = "import-report-" + rep.StartedAt.Format("20060102-150405") + ext
	}
	var write func(io.Writer) error = rep.WriteText
	if g.JSON || strings.HasSuffix(path, ".json") {
		write = rep.WriteJSON
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	werr := write(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write the report %s: %w", path, werr)
	}
	if g.JSON {
		_ = rep.WriteJSON(c.Stdout)
	} else {
		_ = rep.WriteText(c.Stdout)
		fmt.Fprintf(c.Stdout, "report written to %s\n", path)
	}
	switch {
	case runErr != nil:
		return runErr
	case rep.Interrupted:
		return fmt.Errorf("%w: interrupted; run the same command again to finish (imported rows are skipped)", ErrImportIncomplete)
	case rep.Counts[importer.OutcomeRejected]+rep.Counts[importer.OutcomeFailed] > 0:
		return fmt.Errorf("%w: %d rejected, %d failed (see %s)", ErrImportIncomplete,
			rep.Counts[importer.OutcomeRejected], rep.Counts[importer.OutcomeFailed], path)
	}
	return nil
}
