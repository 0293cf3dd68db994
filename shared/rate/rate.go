// Package rate spaces one process's calls to a rate-limited service evenly: the
// generic cell rate algorithm of the stack-wide budget (shared/pace), kept in memory,
// for a service whose budget nobody else shares (tests, one-off tools). It imports no
// AWS SDK, so a use case can fall back on it.
package rate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Local spaces this process's calls evenly at a rate. The rate is less Margin, as on
// the shared budget, so that the calls' varying way to the service does not crowd a
// second.
type Local struct {
	interval time.Duration

	mu  sync.Mutex
	tat time.Time // the theoretical arrival time of the next call
}

const (
	// Margin is the share of the rate left unused.
	Margin = 0.04
	// Late is how long after its time a call may still go; one that wakes later
	// takes a new time rather than crowd the next call.
	Late = 20 * time.Millisecond
	// MaxLate is how many times one caller may wake too late before giving up.
	MaxLate = 10
)

// ErrNoSlot means the next free time is after the caller's deadline.
var ErrNoSlot = errors.New("no free slot before the deadline")

// NewLocal paces calls at perSecond (less Margin).
func NewLocal(perSecond float64) *Local {
	return &Local{interval: time.Duration(float64(time.Second) / (perSecond * (1 - Margin)))}
}

// Reserve does nothing: the times live in this process, so a batch costs no write.
func (p *Local) Reserve(int) {}

// Wait blocks until the caller's call time; it fails at once when that time is after
// ctx's deadline.
func (p *Local) Wait(ctx context.Context) error {
	for range MaxLate {
		p.mu.Lock()
		at := p.tat
		if now := time.Now(); at.Before(now) {
			at = now
		}
		p.tat = at.Add(p.interval)
		p.mu.Unlock()
		if dl, ok := ctx.Deadline(); ok && at.After(dl) {
			return fmt.Errorf("%w: next at %s, deadline %s", ErrNoSlot, at.Format(time.RFC3339Nano), dl.Format(time.RFC3339Nano))
		}
		if err := sleep(ctx, time.Until(at)); err != nil {
			return err
		}
		if time.Since(at) <= Late {
			return nil
		}
	}
	return fmt.Errorf("rate: woke too late for %d times in a row", MaxLate)
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
