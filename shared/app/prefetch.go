package app

import (
	"context"
	"sync"
	"time"
)

// prefetchTimeout bounds the background load Prefetch starts.
const prefetchTimeout = 10 * time.Second

// Prefetched is a value a function loads over the network (the state key, and what
// is built on it) without making its start wait: the load starts in the background
// when the function starts, and the first invocation that needs the value waits for
// it. A load that failed is tried again by the next Get, with that invocation's
// context, so a Secrets Manager hiccup at a cold start costs one invocation a clear
// error (a page, a retried batch) instead of failing the function's start, which
// Lambda would answer with a bare 502 or a crash loop.
type Prefetched[T any] struct {
	load  func(context.Context) (T, error)
	first chan struct{} // closed when the background load has finished
	mu    sync.Mutex
	val   T
	err   error
}

// Prefetch starts load in the background and returns at once.
func Prefetch[T any](load func(context.Context) (T, error)) *Prefetched[T] {
	p := &Prefetched[T]{load: load, first: make(chan struct{})}
	go func() {
		defer close(p.first)
		ctx, cancel := context.WithTimeout(context.Background(), prefetchTimeout)
		defer cancel()
		v, err := load(ctx)
		p.mu.Lock()
		p.val, p.err = v, err
		p.mu.Unlock()
	}()
	return p
}

// Get is the loaded value: it waits for the background load, and loads again while
// the last load failed. Concurrent callers wait for one load.
func (p *Prefetched[T]) Get(ctx context.Context) (T, error) {
	select {
	case <-p.first:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		p.val, p.err = p.load(ctx)
	}
	return p.val, p.err
}
