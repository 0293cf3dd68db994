package importer

// This file holds the lag control: how far the reader may run past the oldest
// unfinished row.

import (
	"context"
	"errors"
	"time"
)

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
