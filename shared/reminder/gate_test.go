package reminder

import (
	"context"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/pace"
)

// TestSendingGivesUpBeforeTheDeadline: a send whose time on the budget comes after the
// margin kept before the invocation's deadline is deferred at once, so that the batch
// can report it back to the queue in time.
func TestSendingGivesUpBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	p, err := pace.Local(1)
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{pacer: p}
	if err := s.waitToSend(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The next time is a second away, inside the margin kept before the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.waitToSend(ctx); err == nil {
		t.Fatal("got a sending time that leaves no time to finish before the deadline")
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Fatalf("waited %s before giving up; it should know at once", waited)
	}
}
