// Package importer brings a vendor's existing seller authorizations into the ledger
// from a file (CSV with a header, or JSON Lines): each refresh token is proven with
// one LWA refresh at the rate budget the proof-of-life refresh shares, the account's
// fingerprint is taken with SP-API and compared with what the row and the ledger claim
// (evidence.go), the token is stored in the vault and the record written with the
// status the evidence gives. The file is streamed (memory grows only by a hash of each
// row's token, to refuse a token's second row), a re-run changes nothing already
// imported and calls LWA for none of it, and no token ever reaches a log line, an
// error or the report. keeperctl import runs it on the operator's machine; the
// importer function runs it in the stack on a file dropped into the import bucket.
package importer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Ledger is the part of the authorization table an import uses (*store.Store).
type Ledger interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	// CreateBound and UpdateBound also bind the record's seller to its connection in
	// the same transaction, and write nothing if another connection holds the seller
	// in that region (*store.SellerBoundError): the binding, not a memory of the file,
	// refuses one seller under two connections, so the import's memory stays flat.
	CreateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error)
	UpdateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error)
	// SellerBinding names the connection a seller is bound to in a region ("" if none).
	SellerBinding(ctx context.Context, region authz.Region, sellingPartnerID string) (string, error)
	// FindBySeller returns a seller's records in every region, whose fingerprints a
	// token said to be that seller's must match.
	FindBySeller(ctx context.Context, sellingPartnerID string) ([]authz.Authorization, error)
}

// TokenReader reads a stored refresh token (*vault.Vault), to tell a row already
// imported (the same token) without asking LWA again.
type TokenReader interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (vault.RefreshToken, error)
}

// TokenWriter stores refresh tokens many at a time and returns the id of the secret
// that holds each (*vault.Vault). The packed vault writes each bucket secret once per
// call, so an import writes a bucket a few times, not once per row: Secrets Manager
// refuses more than about 100 versions of one secret in 24 hours. Delete removes a
// token stored for a row whose record was then refused.
type TokenWriter interface {
	PutMany(ctx context.Context, entries []vault.Entry) ([]string, error)
	Delete(ctx context.Context, connectionID string, region authz.Region) error
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
	DefaultConcurrency     = 8 // at least; see Config.Concurrency
	DefaultBatchSize       = vault.DefaultMaxEntries
	perSecretBatchSize     = 8
	DefaultExpiringWindow  = 31 * 24 * time.Hour
	DefaultMaxRejections   = 10000
	clientFailuresToAbort  = 3
	defaultProgressEvery   = 500 * time.Millisecond
	flushTimeout           = 2 * time.Minute
	maxConcurrency         = 64
	rowSeconds             = 3 // a row's time in flight: ledger reads, LWA (p99) and SP-API, on a busy day
	maxBatchWait           = 5 * time.Second
	recordWriters          = 16
	importedByDetailPrefix = "imported"
)

// ErrClientCredentials says LWA refused the app's own client credentials for the
// first rows and accepted none: every row would fail, so the import stops.
var ErrClientCredentials = errors.New("LWA refused the app's client credentials for every row tried: check the lwa-client secret, then run again")

// Pacer hands out LWA call times on the budget (shared/pace.Pacer).
type Pacer interface {
	Wait(ctx context.Context) error
}

// Config tunes an import. Zero fields take the defaults.
type Config struct {
	// MaxPerSecond is the LWA budget (REFRESH_MAX_PER_SECOND): the rate of a Pacer
	// made here when Deps.Pacer is nil, and what the number of rows in flight is sized
	// for. The deployed import shares the budget with the proof-of-life refresh
	// through the table (shared/pace), so that together they never exceed it.
	MaxPerSecond float64
	// Concurrency is how many rows are in flight, so that LWA's latency does not keep
	// the import below its rate: by default MaxPerSecond × 3 s (a row's ledger reads,
	// LWA and SP-API, with room for slow answers), at least DefaultConcurrency and
	// at most 64. The limiter, not the workers, then sets the pace.
	Concurrency int
	// BatchSize is how many proven rows are stored together: one PutMany of the vault
	// (a bucket's worth by default; 8 for a vault that keeps a secret per
	// authorization), then their records. A batch also leaves after 5 s, so rows are
	// written at least that often at a slow pace.
	BatchSize int
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
	// SkipThroughLine resumes an import: rows up to this line are read but not
	// processed.
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
		c.Concurrency = min(maxConcurrency, max(DefaultConcurrency, int(math.Ceil(c.MaxPerSecond*rowSeconds))))
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
	// Pacer, if set, spaces the LWA calls on the budget the import shares with the
	// refresh workers (shared/pace); otherwise this import paces itself alone at
	// Config.MaxPerSecond.
	Pacer Pacer
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
	cfg      Config
	d        Deps
	limiter  Pacer
	flushers int // batches stored at once
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
	var lim Pacer = d.Pacer
	if lim == nil {
		p, err := pace.Local(cfg.MaxPerSecond)
		if err != nil { // an infinite rate: withDefaults keeps only numbers above 0
			p, _ = pace.Local(20)
		}
		lim = p
	}
	// A packed vault's batches go one after the other: two at once would queue on the
	// open bucket's lease and write it once each. A vault that keeps one secret per
	// authorization writes a secret per row whatever the batch, so batches go side by
	// side there.
	flushers, batch := 1, DefaultBatchSize
	if l, ok := d.Writer.(interface{ Layout() vault.Layout }); ok && l.Layout() == vault.LayoutPerAuthorization {
		// Its PutMany writes the secrets one after the other: short batches, so that
		// none waits long behind a slow one.
		flushers, batch = 4, perSecretBatchSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = batch
	}
	return &Importer{cfg: cfg, d: d, limiter: lim, flushers: flushers}
}

// Config returns the configuration in effect.
func (im *Importer) Config() Config { return im.cfg }

// run is the state of one import. Its memory is bounded by the rows in flight, never
// by the file, but for the line each token first appeared on (tokenLines) and a dry
// run's duplicate checks.
type run struct {
	im        *Importer
	now       time.Time
	mu        sync.Mutex
	report    *Report
	inFlight  map[int][]string // line → the ids it holds in keys
	keys      map[string]int   // connection and seller ids of the rows in flight → line
	lastLine  int
	ahead     map[int]bool // finished lines past the watermark (doneThroughLocked)
	maxAhead  int
	nudge     chan struct{} // the reader waits on the oldest rows: store the batch gathered so far
	tokens    *tokenLines   // the line each token of the file first appeared on
	stopped   atomic.Bool   // a row was left undone: the import is being interrupted
	lwaCalls  atomic.Int64
	unknownN  atomic.Int64
	accepted  atomic.Int64
	clientErr atomic.Int64
	abort     context.CancelCauseFunc
}

// proven is a row LWA has answered, waiting for its batch: the token is stored in the
// vault first, then the record.
type proven struct {
	row      Row
	a        authz.Authorization
	found    bool // a record existed (pending): Update rather than Create
	hadToken bool // the vault held a token for it before
	out      Outcome
	detail   string
}

// Run imports the file read from r. A file refused as a whole (ErrBadFile) returns
// before any row is processed. An interrupted import (ctx ended) returns what it did
// with Report.Interrupted set: run the same file again to finish it.
//
// Rows flow from the reader to Concurrency workers (ledger reads, the LWA refresh at
// the limiter's pace, SP-API), then in batches to the writer (the vault's PutMany,
// then the records). A row repeating a connection or seller of a row still in flight
// is rejected at once; one repeating a finished row meets that row's record or seller
// binding in the ledger.
func (im *Importer) Run(ctx context.Context, r io.Reader) (*Report, error) {
	started := im.d.Clock.Now().UTC()
	rd, err := NewReader(r, im.d.Clock.Now)
	if err != nil {
		return nil, err
	}
	if im.cfg.DryRun {
		// No ledger to meet: the reader remembers the ids (flat memory is the import's).
		rd.TrackDuplicates()
	}
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	ru := &run{im: im, now: started, inFlight: map[int][]string{}, keys: map[string]int{}, ahead: map[int]bool{}, abort: abort,
		report: newReport(im.cfg, rd.Format(), started), nudge: make(chan struct{}, 1), tokens: newTokenLines()}
	// The reader may run this far past the oldest unfinished row: beyond the rows in
	// flight and the batches being gathered, stored and recorded (the writer's channel,
	// its gathering, one waiting to be stored, those being stored, two being recorded
	// and one waiting for that), so that it never waits on a batch that waits for rows.
	ru.maxAhead = max(minAhead, 2*(im.cfg.Concurrency+(im.flushers+5)*im.cfg.BatchSize))

	rows := make(chan Row, im.cfg.Concurrency)
	writes := make(chan *proven, im.cfg.BatchSize)
	var wg sync.WaitGroup
	for range im.cfg.Concurrency {
		wg.Go(func() {
			for row := range rows {
				out, reason, p := ru.importRow(ctx, row)
				if p != nil {
					writes <- p
					continue
				}
				ru.settle(row, out, reason)
			}
		})
	}
	writerDone := ru.writer(ctx, writes)
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
		line, firstOfToken := row.Line, 0
		if rej != nil {
			line = rej.Line
		} else {
			// Skipped rows count too: a continuation refuses what the whole run would.
			firstOfToken = ru.tokens.see(row)
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
			if firstOfToken > 0 {
				ru.finish(row.Line, row.ConnectionID, OutcomeRejected, repeatedToken(firstOfToken))
				continue
			}
			ru.finish(row.Line, row.ConnectionID, OutcomeValid, "")
			continue
		}
		if reason := ru.dispatch(row, firstOfToken); reason != "" {
			ru.finish(row.Line, row.ConnectionID, OutcomeRejected, reason)
			continue
		}
		select {
		case rows <- row:
		case <-ctx.Done():
			ru.mu.Lock()
			ru.releaseLocked(row.Line)
			ru.lastLine = line - 1
			ru.mu.Unlock()
			break read
		}
	}
	close(rows)
	wg.Wait()
	close(writes)
	writerDone()
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

func connectionKey(r Row) string { return "c\x00" + r.Key() }

func sellerKey(sellerID string, region authz.Region) string {
	return "s\x00" + sellerID + "/" + string(region)
}

// dispatch puts a row in flight, holding its connection and seller ids, or says why it
// repeats a row still in flight (whose record is not written yet, so the ledger could
// not refuse it), or an earlier row's token (firstOfToken, its line).
func (ru *run) dispatch(row Row, firstOfToken int) string {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	if first, dup := ru.keys[connectionKey(row)]; dup {
		return fmt.Sprintf("connection %s appears again (first on line %d)", row.Key(), first)
	}
	held := []string{connectionKey(row)}
	if row.SellingPartnerID != "" {
		k := sellerKey(row.SellingPartnerID, row.Region)
		if first, dup := ru.keys[k]; dup {
			return fmt.Sprintf("seller %s in region %s appears again (first on line %d)", row.SellingPartnerID, row.Region, first)
		}
		held = append(held, k)
	}
	if firstOfToken > 0 {
		return repeatedToken(firstOfToken)
	}
	for _, k := range held {
		ru.keys[k] = row.Line
	}
	ru.inFlight[row.Line] = held
	return ""
}

// claimSeller holds a seller id SP-API named for a row in flight; it reports the line
// of another row in flight that holds it.
func (ru *run) claimSeller(row Row, sellerID string) (int, bool) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	k := sellerKey(sellerID, row.Region)
	if first, dup := ru.keys[k]; dup && first != row.Line {
		return first, true
	}
	ru.keys[k] = row.Line
	ru.inFlight[row.Line] = append(ru.inFlight[row.Line], k)
	return 0, false
}

func (ru *run) releaseLocked(line int) {
	for _, k := range ru.inFlight[line] {
		if ru.keys[k] == line {
			delete(ru.keys, k)
		}
	}
	delete(ru.inFlight, line)
}

// settle records a row's outcome, or, for a row the import was stopped before it
// could finish, leaves it in flight (doneThroughLine stops before it) and starts no
// more rows.
func (ru *run) settle(row Row, out Outcome, reason string) {
	if out == outcomeInterrupted {
		ru.stopped.Store(true)
		ru.abort(errStopped)
		return
	}
	ru.finish(row.Line, row.ConnectionID, out, reason)
}

// finish records a row's outcome.
func (ru *run) finish(line int, connectionID string, out Outcome, reason string) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	ru.releaseLocked(line)
	ru.report.add(line, connectionID, out, reason)
	ru.ahead[line] = true
	if len(ru.ahead) > 2*ru.maxAhead {
		done := ru.doneThroughLocked()
		for l := range ru.ahead {
			if l <= done {
				delete(ru.ahead, l)
			}
		}
	}
}

// minAhead bounds how far the reader runs past the oldest unfinished row (rejected
// rows finish at once, a row waiting on LWA or its batch does not), so that the lines
// finished past the watermark, which a continuation must skip, stay few.
const minAhead = 256

// errStopped ends an import whose rows can no longer be done (the deadline is near).
var errStopped = errors.New("import stopped before the end of the file")

func (ru *run) waitLag(ctx context.Context, line int) {
	for nudged := false; ctx.Err() == nil; nudged = true {
		ru.mu.Lock()
		// Every line before this one is read: those not in flight are finished. (The
		// watermark itself stops at the last line handed out, and a CSV record whose
		// quoted fields span many lines moves the next row's line far past it.)
		done := line - 1
		for l := range ru.inFlight {
			done = min(done, l-1)
		}
		lag := line - done
		ru.mu.Unlock()
		if lag <= ru.maxAhead {
			return
		}
		if !nudged {
			// Many rows finished at once (unchanged, rejected) past one that waits in
			// a batch: store that batch now rather than when it is full or 5 s old.
			select {
			case ru.nudge <- struct{}{}:
			default:
			}
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

// importRow proves one row: the ledger's and the vault's state, the LWA refresh and
// the account's fingerprint. A row to store comes back as proven, for the writer;
// any other has its outcome. The reason of a rejection or failure is for the report:
// it names no token.
func (ru *run) importRow(ctx context.Context, row Row) (Outcome, string, *proven) {
	im := ru.im
	existing, err := im.d.Ledger.Get(ctx, row.ConnectionID, row.Region)
	found := err == nil
	if err != nil && !errors.Is(err, authz.ErrNotFound) {
		out, reason := ru.failed(ctx, "read the ledger", err)
		return out, reason, nil
	}
	hadToken := false
	if found {
		if existing.SellingPartnerID != "" && row.SellingPartnerID != "" && existing.SellingPartnerID != row.SellingPartnerID {
			return OutcomeRejected, fmt.Sprintf("connection %s exists with seller %s, the file says %s: not overwritten", row.Key(), existing.SellingPartnerID, row.SellingPartnerID), nil
		}
		stored, err := im.d.Tokens.Get(ctx, row.ConnectionID, row.Region)
		switch {
		case err == nil && sameToken(stored.Token, row.RefreshToken):
			// Already imported (by an earlier run, or by an earlier row of this file
			// that said the same): nothing to do, and no LWA call.
			return OutcomeUnchanged, "", nil
		case err != nil && !errors.Is(err, vault.ErrNotFound) && !errors.Is(err, vault.ErrMalformed):
			out, reason := ru.failed(ctx, "read the stored refresh token", err)
			return out, reason, nil
		}
		hadToken = err == nil
		if existing.Status != authz.StatusPending {
			return OutcomeRejected, fmt.Sprintf("connection %s is already in the ledger (%s) with another refresh token: not overwritten", row.Key(), existing.Status), nil
		}
	}
	if row.SellingPartnerID != "" {
		if reason, err := im.boundElsewhere(ctx, row.SellingPartnerID, row); err != nil {
			out, reason := ru.failed(ctx, "read the seller's binding", err)
			return out, reason, nil
		} else if reason != "" {
			return OutcomeRejected, reason, nil
		}
	}

	if err := im.limiter.Wait(ctx); err != nil {
		// Wait fails only for the context: ended, or ending before the next token.
		return outcomeInterrupted, "", nil
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
		return OutcomeRejected, "LWA refused this refresh token for the app's client id (invalid_client/unauthorized_client): it belongs to another app", nil
	case errors.Is(lwaErr, lwa.ErrBadRequest):
		return OutcomeRejected, "LWA called the refresh request malformed (invalid_request)", nil
	default:
		out, reason := ru.failed(ctx, "LWA refresh", lwaErr)
		return out, reason, nil
	}

	var acct authz.Account
	if !accepted && found && !existing.Account.IsZero() {
		return OutcomeRejected, fmt.Sprintf("connection %s has an account on record, and LWA refused this token (invalid_grant), so SP-API cannot say whose it is: not imported", row.Key()), nil
	}
	if accepted {
		var acctErr error
		if im.d.Accounts != nil {
			acct, acctErr = im.d.Accounts.Account(ctx, row.Region, tokens.AccessToken)
			if acctErr != nil {
				// The token works; what SP-API did answer is kept (a partial fingerprint
				// has no seller id), and a later renewal takes the rest.
				im.d.Log.InfoContext(ctx, "import: account fingerprint incomplete", "connectionId", row.ConnectionID, "region", string(row.Region), "error", acctErr.Error())
			}
		}
		out, reason, err := ru.checkEvidence(ctx, &row, existing, found, acct, acctErr)
		if err != nil {
			out, reason := ru.failed(ctx, "read the ledger", err)
			return out, reason, nil
		}
		if out != "" {
			return out, reason, nil
		}
	}
	a, out, detail := ru.record(row, existing, found, accepted, acct)
	return out, "", &proven{row: row, a: a, found: found, hadToken: hadToken, out: out, detail: detail}
}

// checkEvidence compares what SP-API said about the token's account (acct) with what
// the row and the ledger claim, and says why the token cannot be stored on the row's
// connection: the account on record for the connection is another (Account.SameAs),
// the row's marketplace is not one the account sells in, the verified seller id is
// not the row's or is bound to another connection, or the seller the row names is on
// record elsewhere with another account. A verified seller id the row lacks is set on
// row. No outcome: the row may be stored.
func (ru *run) checkEvidence(ctx context.Context, row *Row, existing authz.Authorization, found bool, acct authz.Account, acctErr error) (Outcome, string, error) {
	im := ru.im
	if found && !existing.Account.IsZero() {
		if acct.IsZero() {
			why := "no SP-API client"
			if acctErr != nil {
				why = clip(acctErr.Error(), 160)
			}
			return OutcomeFailed, fmt.Sprintf("connection %s has an account on record and SP-API did not answer for the token (%s), so it cannot be shown to be that account: nothing written, run the import again",
				row.Key(), why), nil
		}
		if same, why := existing.Account.SameAs(acct); !same {
			return OutcomeRejected, fmt.Sprintf("the token's account is not the one on record for %s (%s): not imported", row.Key(), why), nil
		}
	}
	marketplace := row.Marketplace
	if marketplace == "" && found {
		marketplace = existing.Marketplace
	}
	if reason := sellsIn(acct, marketplace); reason != "" {
		return OutcomeRejected, reason, nil
	}
	if acct.SellerIDVerified && acct.SellerID != "" {
		for _, want := range []string{row.SellingPartnerID, existing.SellingPartnerID} {
			if want != "" && want != acct.SellerID {
				return OutcomeRejected, fmt.Sprintf("the refresh token belongs to seller %s, not %s: not imported", acct.SellerID, want), nil
			}
		}
		if row.SellingPartnerID == "" {
			row.SellingPartnerID = acct.SellerID
			if first, dup := ru.claimSeller(*row, acct.SellerID); dup {
				return OutcomeRejected, fmt.Sprintf("seller %s in region %s appears again (first on line %d)", acct.SellerID, row.Region, first), nil
			}
			reason, err := im.boundElsewhere(ctx, acct.SellerID, *row)
			if err != nil || reason != "" {
				return OutcomeRejected, reason, err
			}
		}
		return "", "", nil
	}
	claimed := row.SellingPartnerID
	if claimed == "" {
		claimed = existing.SellingPartnerID
	}
	reason, err := im.claimedSellerDisagrees(ctx, *row, claimed, acct)
	if err != nil || reason != "" {
		return OutcomeRejected, reason, err
	}
	return "", "", nil
}

// writer gathers proven rows into batches and stores them (storeTokens, then
// writeRecords), until in is closed and every batch is recorded. A batch leaves when
// it is full, maxBatchWait after its first row, or when the reader waits on it.
func (ru *run) writer(ctx context.Context, in <-chan *proven) (wait func()) {
	batches := make(chan []*proven)
	// A batch's records are written while the next batch's tokens are stored, two
	// batches' at most: the vault's writes and the ledger's then overlap.
	var flushers, records sync.WaitGroup
	recordSlots := make(chan struct{}, 2)
	for range ru.im.flushers {
		flushers.Go(func() {
			for b := range batches {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
				stored := ru.storeTokens(ctx, b)
				recordSlots <- struct{}{}
				records.Go(func() {
					defer func() { <-recordSlots }()
					defer cancel()
					ru.writeRecords(ctx, stored)
				})
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer records.Wait()
		defer flushers.Wait()
		defer close(batches)
		var pending []*proven
		timer := time.NewTimer(maxBatchWait)
		timer.Stop()
		send := func() {
			timer.Stop()
			if len(pending) > 0 {
				batches <- pending
				pending = nil
			}
		}
		for {
			select {
			case p, ok := <-in:
				if !ok {
					send()
					return
				}
				if len(pending) == 0 {
					timer.Reset(maxBatchWait)
				}
				pending = append(pending, p)
				if len(pending) >= ru.im.cfg.BatchSize {
					send()
				}
			case <-timer.C:
				send()
			case <-ru.nudge:
				send()
			}
		}
	}()
	return func() { <-done }
}

// storeTokens stores a batch's tokens in one PutMany and returns the rows whose token
// is stored, for writeRecords; the others fail. LWA has answered for these rows: they
// are stored even if the import is being interrupted (ctx is not the import's), so
// that what the report counts is what the ledger holds, and a record is only ever
// written once its token is stored.
func (ru *run) storeTokens(ctx context.Context, batch []*proven) []*proven {
	entries := make([]vault.Entry, len(batch))
	for i, p := range batch {
		entries[i] = vault.Entry{ConnectionID: p.row.ConnectionID, Region: p.row.Region, Token: vault.RefreshToken{
			Token: p.row.RefreshToken, SellingPartnerID: p.a.SellingPartnerID, Region: p.row.Region, AuthorizedAt: p.a.AuthorizedAt,
		}}
	}
	ids, err := ru.im.d.Writer.PutMany(ctx, entries)
	if err == nil && len(ids) != len(batch) {
		err = fmt.Errorf("the vault returned %d secret ids for %d tokens", len(ids), len(batch))
	}
	var stored []*proven
	for i, p := range batch {
		if i >= len(ids) || ids[i] == "" {
			// Not stored (a PutMany that failed part way stored the others): no record.
			why := err
			if why == nil {
				why = errors.New("the vault returned no secret id")
			}
			out, reason := ru.failed(ctx, "store the refresh token", why)
			ru.settle(p.row, out, reason)
			continue
		}
		p.a.SecretID = ids[i]
		stored = append(stored, p)
	}
	return stored
}

// writeRecords writes the records of rows whose tokens are stored, a few at a time.
func (ru *run) writeRecords(ctx context.Context, stored []*proven) {
	sem := make(chan struct{}, recordWriters)
	var wg sync.WaitGroup
	for _, p := range stored {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out, reason := ru.writeRecord(ctx, p)
			ru.settle(p.row, out, reason)
		})
	}
	wg.Wait()
}

// writeRecord writes a stored row's record, binding its seller if it has one.
func (ru *run) writeRecord(ctx context.Context, p *proven) (Outcome, string) {
	im := ru.im
	a, row := p.a, p.row
	ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: ru.now, Kind: authz.EventImported, Detail: p.detail}
	var err error
	switch {
	case a.SellingPartnerID != "" && p.found:
		_, err = im.d.Ledger.UpdateBound(ctx, a, ru.now, ev)
	case a.SellingPartnerID != "":
		_, err = im.d.Ledger.CreateBound(ctx, a, ru.now, ev)
	case p.found:
		_, err = im.d.Ledger.Update(ctx, a, ev)
	default:
		_, err = im.d.Ledger.Create(ctx, a, ev)
	}
	var bound *store.SellerBoundError
	switch {
	case errors.As(err, &bound):
		// Another connection took the seller since the check (an earlier row of the
		// file that SP-API named the same seller, or a renewal): the token stored for
		// this row goes again, unless the vault held one for it before.
		if !p.hadToken {
			if derr := im.d.Writer.Delete(ctx, row.ConnectionID, row.Region); derr != nil {
				im.d.Log.WarnContext(ctx, "import: refused row's refresh token not removed from the vault", "connectionId", row.ConnectionID,
					"region", string(row.Region), "error", derr.Error())
			}
		}
		return OutcomeRejected, fmt.Sprintf("seller %s is already connected as %s in region %s: one seller, one connection per region", bound.SellingPartnerID, bound.ConnectionID, row.Region)
	case errors.Is(err, authz.ErrAlreadyExists), errors.Is(err, authz.ErrVersionConflict):
		return OutcomeFailed, fmt.Sprintf("connection %s was written by someone else meanwhile; run the import again", row.Key())
	case err != nil:
		return ru.failed(ctx, "write the record", err)
	}
	im.d.Log.InfoContext(ctx, "import: row imported", "line", row.Line, "connectionId", a.ConnectionID, "region", string(a.Region),
		"outcome", string(p.out), "status", string(a.Status), "expiryKnown", !a.ExpiryUnknown)
	return p.out, ""
}

// boundElsewhere says why a seller cannot be bound to row's connection: it already is
// to another connection in the same region.
func (im *Importer) boundElsewhere(ctx context.Context, sellerID string, row Row) (string, error) {
	other, err := im.d.Ledger.SellerBinding(ctx, row.Region, sellerID)
	if err != nil {
		return "", err
	}
	if other != "" && other != row.ConnectionID {
		return fmt.Sprintf("seller %s is already connected as %s in region %s: one seller, one connection per region", sellerID, other, row.Region), nil
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
// no hash of a token is kept beyond the run's memory (tokenLines, seeded at random).
func sameToken(a, b secret.Value) bool {
	return subtle.ConstantTimeCompare([]byte(a.Reveal()), []byte(b.Reveal())) == 1
}
