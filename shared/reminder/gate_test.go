package reminder

import (
	"context"
	"sort"
	"testing"
	"time"
)

// maxInWindow is the most events in any half-open window [t, t+w).
func maxInWindow(times []time.Time, w time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestGateKeepsEveryOneSecondWindowUnderTheRate: waiters on several goroutines, as in
// a batch, never get more than the rate's worth of slots in any second, and together
// get close to the rate.
func TestGateKeepsEveryOneSecondWindowUnderTheRate(t *testing.T) {
	t.Parallel()
	const perSecond, sends = 200, 300
	g := newGate(perSecond)
	times := make(chan time.Time, sends)
	start := time.Now()
	done := make(chan struct{})
	for range 4 {
		go func() {
			for range sends / 4 {
				sent, err := g.wait(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				times <- time.Now()
				time.Sleep(2 * time.Millisecond) // SES answering
				sent()
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	elapsed := time.Since(start)
	close(times)
	var all []time.Time
	for ts := range times {
		all = append(all, ts)
	}
	if n := maxInWindow(all, time.Second); n > perSecond {
		t.Fatalf("%d sends in one second, rate %d", n, perSecond)
	}
	// The bucket holds perSecond/10 tokens: 300 sends at 200/s take at least
	// (300-20)/200 = 1.4 s (and 1.5 s when the machine keeps up; a loaded CI runner
	// may take longer, which is no fault of the gate).
	if elapsed < 1390*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("%d sends took %s at %d/s", sends, elapsed, perSecond)
	}
}

func TestGateGivesUpBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	g := newGate(1)
	sent, err := g.wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sent()
	// The next slot is a second away, inside the margin kept before the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := g.wait(ctx); err == nil {
		t.Fatal("got a slot that leaves no time to finish before the deadline")
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Fatalf("waited %s before giving up; it should know at once", waited)
	}
}

func TestPerSenderRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		total float64
		n     int
		want  float64
	}{{14, 2, 7}, {1, 2, 0.5}, {50, 1, 50}, {50, 0, 50}}
	for _, tt := range tests {
		if got := PerSenderRate(tt.total, tt.n); got != tt.want {
			t.Errorf("PerSenderRate(%v, %d) = %v, want %v", tt.total, tt.n, got, tt.want)
		}
	}
}
