package app_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/app"
)

func TestPrefetchLoadsOnceInTheBackgroundAndAgainOnlyAfterAFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failFirst int // loads that fail before one succeeds
		gets      int
		wantLoads int32
		wantErrs  int
	}{
		{"loaded at start, served to every get", 0, 5, 1, 0},
		{"failed at start, loaded again by the first get", 1, 5, 2, 0},
		{"failing twice: the first get fails, the next loads", 2, 5, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var loads atomic.Int32
			p := app.Prefetch(func(context.Context) (string, error) {
				if n := loads.Add(1); int(n) <= tc.failFirst {
					return "", errors.New("secrets manager did not answer")
				}
				return "key", nil
			})
			errs := 0
			for range tc.gets {
				v, err := p.Get(context.Background())
				if err != nil {
					errs++
					continue
				}
				if v != "key" {
					t.Fatalf("Get = %q", v)
				}
			}
			if loads.Load() != tc.wantLoads || errs != tc.wantErrs {
				t.Errorf("%d loads and %d failed gets, want %d and %d", loads.Load(), errs, tc.wantLoads, tc.wantErrs)
			}
		})
	}
}

func TestPrefetchGetWaitsForTheStartOrItsOwnContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	p := app.Prefetch(func(context.Context) (int, error) {
		<-release
		return 42, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get before the load finished = %v, want the caller's deadline", err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := p.Get(context.Background()); v != 42 || err != nil {
				t.Errorf("Get = %d, %v", v, err)
			}
		})
	}
	close(release)
	wg.Wait()
}
