package importer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// localPacer spaces this process's LWA calls evenly at a rate, for an import whose
// budget nobody else shares (tests, one-off tools): the generic cell rate algorithm of
// the shared pace budget, kept in memory. The rate is less paceMargin, as on the
// shared budget, so that the calls' varying way to LWA does not crowd a second.
type localPacer struct {
	interval time.Duration

	mu  sync.Mutex
	tat time.Time // the theoretical arrival time of the next call
}

const (
	// paceMargin is the share of the rate left unused.
	paceMargin = 0.04
	// paceLate is how long after its time a call may still go; one that wakes later
	// takes a new time rather than crowd the next call.
	paceLate = 20 * time.Millisecond
	// paceMaxLate is how many times one caller may wake too late before giving up.
	paceMaxLate = 10
)

// errNoSlot means the next free time is after the caller's deadline.
var errNoSlot = errors.New("no free slot before the deadline")

func newLocalPacer(perSecond float64) *localPacer {
	return &localPacer{interval: time.Duration(float64(time.Second) / (perSecond * (1 - paceMargin)))}
}

// Reserve does nothing: the times live in this process, so a batch costs no write.
func (p *localPacer) Reserve(int) {}

// Wait blocks until the caller's call time; it fails at once when that time is after
// ctx's deadline.
func (p *localPacer) Wait(ctx context.Context) error {
	for range paceMaxLate {
		p.mu.Lock()
		at := p.tat
		if now := time.Now(); at.Before(now) {
			at = now
		}
		p.tat = at.Add(p.interval)
		p.mu.Unlock()
		if dl, ok := ctx.Deadline(); ok && at.After(dl) {
			return fmt.Errorf("%w: next at %s, deadline %s", errNoSlot, at.Format(time.RFC3339Nano), dl.Format(time.RFC3339Nano))
		}
		if err := sleep(ctx, time.Until(at)); err != nil {
			return err
		}
		if time.Since(at) <= paceLate {
			return nil
		}
	}
	return fmt.Errorf("LWA budget: woke too late for %d times in a row", paceMaxLate)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
