package importer

// This file holds the writer pipeline: proven rows in batches, tokens to the vault,
// then records to the ledger.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

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
	entries := make([]authz.VaultEntry, len(batch))
	for i, p := range batch {
		entries[i] = authz.VaultEntry{ConnectionID: p.row.ConnectionID, Region: p.row.Region, Token: authz.RefreshToken{
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
	var bound *authz.SellerBoundError
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
