package importer

// This file holds the state of one import and Run, which drives the reader, the workers
// and the writer.

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

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
