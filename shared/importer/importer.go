// Package importer brings a vendor's existing seller authorizations into the ledger
// from a file (CSV with a header, or JSON Lines): each refresh token is proven with
// one LWA refresh at the rate budget the proof-of-life refresh shares, the account's
// fingerprint is taken with SP-API, the token is stored in the vault and the record
// written with the status the evidence gives. The file is streamed (memory does not
// grow with it), a re-run changes nothing already imported and calls LWA for none of
// it, and no token ever reaches a log line, an error or the report. keeperctl import
// runs it on the operator's machine; the importer function runs it in the stack on a
// file dropped into the import bucket.
package importer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Ledger is the part of the authorization table an import uses (*store.Store).
type Ledger interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	FindBySeller(ctx context.Context, sellingPartnerID string) ([]authz.Authorization, error)
}

// TokenReader reads a stored refresh token (*vault.Vault), to tell a row already
// imported (the same token) without asking LWA again.
type TokenReader interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (vault.RefreshToken, error)
}

// TokenWriter stores a refresh token and returns the id of the secret that holds it.
// It is the one write of the vault an import makes: a packed vault can give bulk
// writers a batching implementation without touching the import.
type TokenWriter interface {
	Put(ctx context.Context, connectionID string, region authz.Region, rt vault.RefreshToken) (secretID string, err error)
}

// TokenRefresher exchanges a refresh token at LWA (*lwa.Client).
type TokenRefresher interface {
	Refresh(ctx context.Context, refreshToken secret.Value) (lwa.Tokens, error)
}

// AccountReader takes an account's fingerprint with SP-API, using an access token of
// the refresh token in question (the spapi client).
type AccountReader interface {
	Account(ctx context.Context, region authz.Region, accessToken secret.Value) (authz.Account, error)
}

// Outcome is what happened to one row.
type Outcome string

// Outcomes, in the order the report lists them.
const (
	OutcomeActive        Outcome = "imported_active"         // LWA accepted, expiry known
	OutcomeUnknownExpiry Outcome = "imported_unknown_expiry" // LWA accepted, expiry assumed
	OutcomeRevoked       Outcome = "imported_revoked"        // LWA said invalid_grant before expiry (or expiry unknown)
	OutcomeExpired       Outcome = "imported_expired"        // invalid_grant, and authorizedAt + 365 days has passed
	OutcomeUnchanged     Outcome = "unchanged"               // already imported with the same token: nothing done
	OutcomeValid         Outcome = "valid"                   // dry run: the row would be imported
	OutcomeRejected      Outcome = "rejected"                // malformed, refused or another app's token: skipped
	OutcomeFailed        Outcome = "failed"                  // LWA or AWS unavailable: nothing written, run again
)

// Outcomes lists every outcome in report order.
var Outcomes = []Outcome{OutcomeActive, OutcomeUnknownExpiry, OutcomeRevoked, OutcomeExpired, OutcomeUnchanged, OutcomeValid, OutcomeRejected, OutcomeFailed}

// Defaults of Config.
const (
	DefaultUnknownExpiry   = 30 * 24 * time.Hour
	DefaultConcurrency     = 8
	DefaultExpiringWindow  = 31 * 24 * time.Hour
	DefaultMaxRejections   = 10000
	clientFailuresToAbort  = 3
	defaultProgressEvery   = 500 * time.Millisecond
	writeTimeout           = 30 * time.Second
	importedByDetailPrefix = "imported"
)

// ErrClientCredentials says LWA refused the app's own client credentials for the
// first rows and accepted none: every row would fail, so the import stops.
var ErrClientCredentials = errors.New("LWA refused the app's client credentials for every row tried: check the lwa-client secret, then run again")

// Config tunes an import. Zero fields take the defaults.
type Config struct {
	// MaxPerSecond is this import's share of the LWA budget (REFRESH_MAX_PER_SECOND,
	// which the proof-of-life refresh shares).
	MaxPerSecond float64
	// Concurrency is how many rows are in flight, so that LWA's latency does not keep
	// the import below its rate.
	Concurrency int
	// UnknownExpiry is the assumed lifetime left of an authorization whose grant date
	// the file does not give: short, so that the seller is asked to confirm now.
	UnknownExpiry time.Duration
	// ConfirmPerDay paces the "confirm your connection" emails of unknown-expiry rows:
	// the n-th such row's assumed expiry is n/ConfirmPerDay days later, so the first
	// reminder stage falls due for at most ConfirmPerDay sellers a day. 0: no pacing.
	ConfirmPerDay int
	// ExpiringWindow is how long before expiry a record counts as expiring (the first
	// reminder stage's window).
	ExpiringWindow time.Duration
	// Slots is the number of refresh slots (authz.DefaultRefreshSlots).
	Slots int
	// DryRun validates the file without touching LWA or AWS.
	DryRun bool
	// Source names the file in history events and the report.
	Source string
	// SkipThroughLine resumes an import: rows up to this line are read (for the
	// duplicate checks) but not processed.
	SkipThroughLine int
	// SkipLines are lines after SkipThroughLine that a previous run finished already
	// (Report.DoneAfter): they are read but not processed either.
	SkipLines []int
	// MaxRejections bounds the rejected rows the report lists (counts stay exact).
	MaxRejections int
}

func (c Config) withDefaults() Config {
	if c.MaxPerSecond <= 0 {
		c.MaxPerSecond = 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.UnknownExpiry <= 0 {
		c.UnknownExpiry = DefaultUnknownExpiry
	}
	if c.ExpiringWindow <= 0 {
		c.ExpiringWindow = DefaultExpiringWindow
	}
	if c.Slots <= 0 {
		c.Slots = authz.DefaultRefreshSlots
	}
	if c.MaxRejections <= 0 {
		c.MaxRejections = DefaultMaxRejections
	}
	return c
}

// Deps are an import's collaborators. Accounts may be nil: no fingerprint is taken.
type Deps struct {
	Ledger   Ledger
	Tokens   TokenReader
	Writer   TokenWriter
	LWA      TokenRefresher
	Accounts AccountReader
	Clock    authz.Clock
	Log      *slog.Logger
	// Progress, if set, is called about twice a second while the import runs, and
	// once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Limiter, if set, is the LWA budget to share (a process that also refreshes);
	// otherwise one is made at Config.MaxPerSecond.
	Limiter *rate.Limiter
}

// Progress is a snapshot of a running import.
type Progress struct {
	Rows            int             `json:"rows"` // rows with an outcome so far
	Counts          map[Outcome]int `json:"counts"`
	BytesRead       int64           `json:"bytesRead"`
	LWACalls        int             `json:"lwaCalls"`
	Elapsed         time.Duration   `json:"elapsed"`
	DoneThroughLine int             `json:"doneThroughLine"` // every row up to this line is finished
	Done            bool            `json:"done"`
}

// Processed is how many rows have an outcome.
func (p Progress) Processed() int {
	n := 0
	for _, c := range p.Counts {
		n += c
	}
	return n
}

// Importer runs imports.
type Importer struct {
	cfg     Config
	d       Deps
	limiter *rate.Limiter
}

// New builds an importer.
func New(cfg Config, d Deps) *Importer {
	cfg = cfg.withDefaults()
	if d.Clock == nil {
		d.Clock = authz.SystemClock
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.ProgressEvery <= 0 {
		d.ProgressEvery = defaultProgressEvery
	}
	lim := d.Limiter
	if lim == nil {
		// A burst of one, as the refresh workers use: no second is over budget.
		lim = rate.NewLimiter(rate.Limit(cfg.MaxPerSecond), 1)
	}
	return &Importer{cfg: cfg, d: d, limiter: lim}
}

// Config returns the configuration in effect.
func (im *Importer) Config() Config { return im.cfg }

// run is the state of one import.
type run struct {
	im        *Importer
	now       time.Time
	mu        sync.Mutex
	report    *Report
	inFlight  map[int]bool
	lastLine  int
	ahead     map[int]bool // finished lines past the watermark (doneThroughLocked)
	stopped   atomic.Bool  // a row was left undone: the import is being interrupted
	lwaCalls  atomic.Int64
	unknownN  atomic.Int64
	accepted  atomic.Int64
	clientErr atomic.Int64
	abort     context.CancelCauseFunc
}

// Run imports the file read from r. A file refused as a whole (ErrBadFile) returns
// before any row is processed. An interrupted import (ctx ended) returns what it did
// with Report.Interrupted set: run the same file again to finish it.
func (im *Importer) Run(ctx context.Context, r io.Reader) (*Report, error) {
	started := im.d.Clock.Now().UTC()
	rd, err := NewReader(r, im.d.Clock.Now)
	if err != nil {
		return nil, err
	}
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	ru := &run{im: im, now: started, inFlight: map[int]bool{}, ahead: map[int]bool{}, abort: abort,
		report: newReport(im.cfg, rd.Format(), started)}

	rows := make(chan Row, im.cfg.Concurrency)
	var wg sync.WaitGroup
	for range im.cfg.Concurrency {
		wg.Go(func() {
			for row := range rows {
				out, reason := ru.importRow(ctx, row)
				if out == outcomeInterrupted {
					// Not done: its line stays in flight, so doneThroughLine stops
					// before it, and nothing more is started.
					ru.stopped.Store(true)
					ru.abort(errStopped)
					continue
				}
				ru.finish(row.Line, row.ConnectionID, out, reason)
			}
		})
	}
	stopProgress := ru.progressLoop(rd)

	skip := map[int]bool{}
	for _, l := range im.cfg.SkipLines {
		skip[l] = true
	}
	var fileErr error
read:
	for ctx.Err() == nil {
		row, rej, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fileErr = err
			break
		}
		line := row.Line
		if rej != nil {
			line = rej.Line
		}
		if line <= im.cfg.SkipThroughLine {
			continue
		}
		ru.waitLag(ctx, line)
		ru.mu.Lock()
		ru.lastLine = line
		ru.mu.Unlock()
		if skip[line] {
			continue
		}
		if rej != nil {
			ru.finish(rej.Line, rej.ConnectionID, OutcomeRejected, rej.Reason)
			continue
		}
		if im.cfg.DryRun {
			ru.finish(row.Line, row.ConnectionID, OutcomeValid, "")
			continue
		}
		ru.mu.Lock()
		ru.inFlight[row.Line] = true
		ru.mu.Unlock()
		select {
		case rows <- row:
		case <-ctx.Done():
			ru.mu.Lock()
			delete(ru.inFlight, row.Line)
			ru.lastLine = line - 1
			ru.mu.Unlock()
			break read
		}
	}
	close(rows)
	wg.Wait()
	stopProgress()

	rep := ru.snapshotReport()
	rep.FinishedAt = im.d.Clock.Now().UTC()
	switch {
	case errors.Is(context.Cause(ctx), ErrClientCredentials):
		rep.Stopped = ErrClientCredentials.Error()
		return rep, ErrClientCredentials
	case ctx.Err() != nil || ru.stopped.Load():
		rep.Interrupted = true
		rep.Stopped = "interrupted before the end of the file: run the same file again to finish it (imported rows are skipped without calling LWA)"
	}
	if fileErr != nil {
		rep.Stopped = fileErr.Error()
		return rep, fileErr
	}
	return rep, nil
}

// finish records a row's outcome.
func (ru *run) finish(line int, connectionID string, out Outcome, reason string) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	delete(ru.inFlight, line)
	ru.report.add(line, connectionID, out, reason)
	ru.ahead[line] = true
	if len(ru.ahead) > 2*maxAhead {
		done := ru.doneThroughLocked()
		for l := range ru.ahead {
			if l <= done {
				delete(ru.ahead, l)
			}
		}
	}
}

// maxAhead bounds how far the reader runs past the oldest unfinished row (rejected
// rows finish at once, a row waiting on LWA does not), so that the lines finished
// past the watermark, which a continuation must skip, stay few.
const maxAhead = 256

// errStopped ends an import whose rows can no longer be done (the deadline is near).
var errStopped = errors.New("import stopped before the end of the file")

func (ru *run) waitLag(ctx context.Context, line int) {
	for ctx.Err() == nil {
		ru.mu.Lock()
		lag := line - ru.doneThroughLocked()
		ru.mu.Unlock()
		if lag <= maxAhead {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// doneThrough is the last line up to which every row is finished.
func (ru *run) doneThroughLocked() int {
	done := ru.lastLine
	for l := range ru.inFlight {
		if l-1 < done {
			done = l - 1
		}
	}
	return done
}

func (ru *run) snapshotReport() *Report {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	rep := ru.report.clone()
	rep.LWACalls = int(ru.lwaCalls.Load())
	rep.DoneThroughLine = ru.doneThroughLocked()
	rep.DoneAfter = nil
	for l := range ru.ahead {
		if l > rep.DoneThroughLine {
			rep.DoneAfter = append(rep.DoneAfter, l)
		}
	}
	for _, l := range ru.im.cfg.SkipLines {
		if l > rep.DoneThroughLine {
			rep.DoneAfter = append(rep.DoneAfter, l)
		}
	}
	slices.Sort(rep.DoneAfter)
	rep.DoneAfter = slices.Compact(rep.DoneAfter)
	return rep
}

func (ru *run) progressLoop(rd *Reader) (stop func()) {
	if ru.im.d.Progress == nil {
		return func() {}
	}
	snap := func(done bool) Progress {
		ru.mu.Lock()
		defer ru.mu.Unlock()
		p := Progress{Rows: ru.report.Rows, Counts: map[Outcome]int{}, BytesRead: rd.BytesRead(), LWACalls: int(ru.lwaCalls.Load()),
			Elapsed: ru.im.d.Clock.Now().Sub(ru.now), DoneThroughLine: ru.doneThroughLocked(), Done: done}
		for k, v := range ru.report.Counts {
			p.Counts[k] = v
		}
		return p
	}
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(ru.im.d.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				ru.im.d.Progress(snap(true))
				return
			case <-t.C:
				ru.im.d.Progress(snap(false))
			}
		}
	}()
	return func() { close(quit); <-ended }
}

// importRow proves, stores and records one row. The reason of a rejection or failure
// is for the report: it names no token.
func (ru *run) importRow(ctx context.Context, row Row) (Outcome, string) {
	im := ru.im
	existing, err := im.d.Ledger.Get(ctx, row.ConnectionID, row.Region)
	found := err == nil
	if err != nil && !errors.Is(err, authz.ErrNotFound) {
		return ru.failed(ctx, "read the ledger", err)
	}
	if found {
		if existing.SellingPartnerID != "" && row.SellingPartnerID != "" && existing.SellingPartnerID != row.SellingPartnerID {
			return OutcomeRejected, fmt.Sprintf("connection %s exists with seller %s, the file says %s: not overwritten", row.Key(), existing.SellingPartnerID, row.SellingPartnerID)
		}
		stored, err := im.d.Tokens.Get(ctx, row.ConnectionID, row.Region)
		switch {
		case err == nil && sameToken(stored.Token, row.RefreshToken):
			return OutcomeUnchanged, ""
		case err != nil && !errors.Is(err, vault.ErrNotFound) && !errors.Is(err, vault.ErrMalformed):
			return ru.failed(ctx, "read the stored refresh token", err)
		}
		if existing.Status != authz.StatusPending {
			return OutcomeRejected, fmt.Sprintf("connection %s is already in the ledger (%s) with another refresh token: not overwritten", row.Key(), existing.Status)
		}
	}
	if row.SellingPartnerID != "" {
		if reason, err := im.boundElsewhere(ctx, row.SellingPartnerID, row); err != nil {
			return ru.failed(ctx, "read the by-seller index", err)
		} else if reason != "" {
			return OutcomeRejected, reason
		}
	}

	if err := im.limiter.Wait(ctx); err != nil {
		// Wait fails only for the context: ended, or ending before the next token.
		return outcomeInterrupted, ""
	}
	ru.lwaCalls.Add(1)
	tokens, lwaErr := im.d.LWA.Refresh(ctx, row.RefreshToken)
	accepted := lwaErr == nil
	switch {
	case accepted:
		ru.accepted.Add(1)
	case errors.Is(lwaErr, lwa.ErrInvalidGrant):
	case errors.Is(lwaErr, lwa.ErrClient):
		// For one token, LWA's invalid_client / unauthorized_client means the token was
		// issued to another app's client id. For the first rows with none accepted, it
		// is more likely the app's own credentials: stop rather than blame every row.
		if n := ru.clientErr.Add(1); n >= clientFailuresToAbort && ru.accepted.Load() == 0 {
			ru.abort(ErrClientCredentials)
		}
		return OutcomeRejected, "LWA refused this refresh token for the app's client id (invalid_client/unauthorized_client): it belongs to another app"
	case errors.Is(lwaErr, lwa.ErrBadRequest):
		return OutcomeRejected, "LWA called the refresh request malformed (invalid_request)"
	default:
		return ru.failed(ctx, "LWA refresh", lwaErr)
	}

	var acct authz.Account
	if accepted && im.d.Accounts != nil {
		acct, err = im.d.Accounts.Account(ctx, row.Region, tokens.AccessToken)
		if err != nil {
			// The token works; what SP-API did answer is kept (a partial fingerprint
			// has no seller id), and a later renewal takes the rest.
			im.d.Log.InfoContext(ctx, "import: account fingerprint incomplete", "connectionId", row.ConnectionID, "region", string(row.Region), "error", err.Error())
		}
		if acct.SellerIDVerified && acct.SellerID != "" {
			for _, want := range []string{row.SellingPartnerID, existing.SellingPartnerID} {
				if want != "" && want != acct.SellerID {
					return OutcomeRejected, fmt.Sprintf("the refresh token belongs to seller %s, not %s: not imported", acct.SellerID, want)
				}
			}
			if row.SellingPartnerID == "" {
				row.SellingPartnerID = acct.SellerID
				if reason, err := im.boundElsewhere(ctx, acct.SellerID, row); err != nil {
					return ru.failed(ctx, "read the by-seller index", err)
				} else if reason != "" {
					return OutcomeRejected, reason
				}
			}
		}
	}

	a, out, detail := ru.record(row, existing, found, accepted, acct)
	// LWA has answered: finish this row's two writes even if the import is being
	// interrupted, so that what the report counts is what the ledger holds.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	secretID, err := im.d.Writer.Put(ctx, row.ConnectionID, row.Region, vault.RefreshToken{
		Token: row.RefreshToken, SellingPartnerID: a.SellingPartnerID, Region: row.Region, AuthorizedAt: a.AuthorizedAt,
	})
	if err != nil {
		return ru.failed(ctx, "store the refresh token", err)
	}
	a.SecretID = secretID
	ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: ru.now, Kind: authz.EventImported, Detail: detail}
	if found {
		_, err = im.d.Ledger.Update(ctx, a, ev)
	} else {
		_, err = im.d.Ledger.Create(ctx, a, ev)
	}
	switch {
	case errors.Is(err, authz.ErrAlreadyExists), errors.Is(err, authz.ErrVersionConflict):
		return OutcomeFailed, fmt.Sprintf("connection %s was written by someone else meanwhile; run the import again", row.Key())
	case err != nil:
		return ru.failed(ctx, "write the record", err)
	}
	im.d.Log.InfoContext(ctx, "import: row imported", "line", row.Line, "connectionId", a.ConnectionID, "region", string(a.Region),
		"outcome", string(out), "status", string(a.Status), "expiryKnown", !a.ExpiryUnknown)
	return out, ""
}

// boundElsewhere says why a seller cannot be bound to row's connection: it already is
// to another connection in the same region.
func (im *Importer) boundElsewhere(ctx context.Context, sellerID string, row Row) (string, error) {
	others, err := im.d.Ledger.FindBySeller(ctx, sellerID)
	if err != nil {
		return "", err
	}
	for _, o := range others {
		if o.Region == row.Region && o.ConnectionID != row.ConnectionID {
			return fmt.Sprintf("seller %s is already connected as %s in region %s: one seller, one connection per region", sellerID, o.ConnectionID, row.Region), nil
		}
	}
	return "", nil
}

// record is the authorization a row becomes, from what LWA said.
func (ru *run) record(row Row, existing authz.Authorization, found, accepted bool, acct authz.Account) (authz.Authorization, Outcome, string) {
	im := ru.im
	now := ru.now
	a := authz.Authorization{ConnectionID: row.ConnectionID, Region: row.Region}
	if found {
		a = existing // a pending record the vendor onboarded: keep what the file does not give
	}
	a.AccountType = row.AccountType
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&a.Marketplace, row.Marketplace)
	set(&a.SellingPartnerID, row.SellingPartnerID)
	set(&a.ContactEmail, row.ContactEmail)
	set(&a.DisplayName, row.DisplayName)
	if a.Locale == "" || row.Locale != "en-US" {
		a.Locale = row.Locale
	}
	a.RefreshSlot = authz.SlotFor(a.ConnectionID, a.Region, im.cfg.Slots)
	a.Account = acct
	a.Reminders = nil
	a.AuthorizedAt, a.ExpiresAt, a.ExpiryUnknown = time.Time{}, time.Time{}, false
	known := !row.AuthorizedAt.IsZero()
	lapsed := known && !now.Before(row.AuthorizedAt.Add(authz.Lifetime))
	where := fmt.Sprintf("%s line %d", im.cfg.Source, row.Line)
	if im.cfg.Source == "" {
		where = fmt.Sprintf("line %d", row.Line)
	}
	switch {
	case accepted && known && !lapsed:
		a.Status = authz.StatusActive
		a.AuthorizedAt, a.ExpiresAt = row.AuthorizedAt, row.AuthorizedAt.Add(authz.Lifetime)
		a.Status = a.StatusAt(now, im.cfg.ExpiringWindow)
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "", 0
		return a, OutcomeActive, fmt.Sprintf("%s from %s: LWA accepted the token; %s until %s", importedByDetailPrefix, where, a.Status, a.ExpiresAt.Format(authz.DayLayout))
	case accepted:
		n := ru.unknownN.Add(1) - 1
		a.Status = authz.StatusActive
		a.ExpiryUnknown = true
		a.ExpiresAt = now.Add(im.cfg.UnknownExpiry)
		if im.cfg.ConfirmPerDay > 0 {
			a.ExpiresAt = a.ExpiresAt.Add(time.Duration(n/int64(im.cfg.ConfirmPerDay)) * 24 * time.Hour)
		}
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "", 0
		why := "no authorizedAt in the file"
		if lapsed {
			why = "authorizedAt " + row.AuthorizedAt.Format(authz.DayLayout) + " is over a year ago, yet LWA accepted the token (renewed since)"
		}
		return a, OutcomeUnknownExpiry, fmt.Sprintf("%s from %s: LWA accepted the token; expiry unknown (%s), assumed %s; the seller is asked to confirm",
			importedByDetailPrefix, where, why, a.ExpiresAt.Format(authz.DayLayout))
	case lapsed:
		a.Status = authz.StatusExpired
		a.AuthorizedAt, a.ExpiresAt = row.AuthorizedAt, row.AuthorizedAt.Add(authz.Lifetime)
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "invalid_grant at import", 1
		return a, OutcomeExpired, fmt.Sprintf("%s from %s: LWA said invalid_grant and the authorization expired on %s; renewing restores it",
			importedByDetailPrefix, where, a.ExpiresAt.Format(authz.DayLayout))
	default:
		a.Status = authz.StatusRevoked
		if known {
			a.AuthorizedAt, a.ExpiresAt = row.AuthorizedAt, row.AuthorizedAt.Add(authz.Lifetime)
		} else {
			a.ExpiryUnknown = true
		}
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "invalid_grant at import", 1
		return a, OutcomeRevoked, fmt.Sprintf("%s from %s: LWA said invalid_grant: the seller removed the app or Amazon revoked it; the seller must authorize again",
			importedByDetailPrefix, where)
	}
}

// outcomeInterrupted: the import was stopped before this row was done. It is not
// counted, and the next run (or the continuation) does it.
const outcomeInterrupted Outcome = ""

// failed turns an error into a failed row, or into no outcome when the import is
// being stopped.
func (ru *run) failed(ctx context.Context, what string, err error) (Outcome, string) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return outcomeInterrupted, ""
	}
	return OutcomeFailed, fmt.Sprintf("%s: %s; nothing written for this row, run the import again", what, clip(err.Error(), 200))
}

// sameToken compares the stored token with the row's in memory, in constant time:
// no hash of a token is ever computed or kept.
func sameToken(a, b secret.Value) bool {
	return subtle.ConstantTimeCompare([]byte(a.Reveal()), []byte(b.Reveal())) == 1
}
