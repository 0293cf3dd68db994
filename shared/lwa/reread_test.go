package lwa_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// cachingSource is a credentials source with a cache, as clientcreds.Source: it
// serves cached until Invalidate, then what the store (the lwa-client secret) holds.
type cachingSource struct {
	mu          sync.Mutex
	stored      secret.Value
	cached      secret.Value
	reads       int
	invalidates int
}

func (c *cachingSource) Credentials(context.Context) (lwa.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == "" {
		c.cached = c.stored
		c.reads++
	}
	return lwa.Credentials{ClientID: clientID, ClientSecret: c.cached}, nil
}

func (c *cachingSource) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cached = ""
	c.invalidates++
}

// TestClientErrorRereadsCredentialsOnce: a rotation stored a new client secret a moment
// ago, and this process still holds the old one in its cache. Every grant is refused
// once, re-reads the credentials, and succeeds, with no error for the caller.
func TestClientErrorRereadsCredentialsOnce(t *testing.T) {
	t.Parallel()
	const rotated = "amzn1.oa2-cs.v1.rotated-secret-0123456789"
	tests := []struct {
		name         string
		accepted     []string // what LWA accepts
		stored       secret.Value
		wantOK       bool
		wantRequests int
	}{
		{name: "rotated: refused once, then the re-read secret works", accepted: []string{rotated}, stored: rotated, wantOK: true, wantRequests: 2},
		{name: "nothing new in the store: refused twice", accepted: []string{"amzn1.oa2-cs.v1.someone-elses"}, stored: clientSecret, wantRequests: 2},
		{name: "cache still good: one request", accepted: []string{clientSecret}, stored: clientSecret, wantOK: true, wantRequests: 1},
	}
	for _, tc := range tests {
		for _, c := range calls {
			t.Run(tc.name+"/"+c.grant, func(t *testing.T) {
				t.Parallel()
				src := &cachingSource{stored: clientSecret}
				e := start(t, func(cfg *lwa.Config) { cfg.Credentials = src })
				if _, err := src.Credentials(context.Background()); err != nil { // warm the cache with the old secret
					t.Fatal(err)
				}
				src.mu.Lock()
				src.stored = tc.stored
				src.mu.Unlock()
				e.sim.SetClientSecrets(tc.accepted...)

				_, err := c.run(context.Background(), e)
				switch {
				case tc.wantOK && err != nil:
					t.Fatalf("%v, want success", err)
				case !tc.wantOK:
					wantKind(t, err, lwa.ErrClient)
				}
				if got := c.seen(e); got != tc.wantRequests {
					t.Errorf("LWA saw %d requests, want %d", got, tc.wantRequests)
				}
				wantInvalidates := tc.wantRequests - 1
				if src.invalidates != wantInvalidates {
					t.Errorf("cache invalidated %d times, want %d", src.invalidates, wantInvalidates)
				}
				logs := e.logs.String()
				if wantInvalidates > 0 && !strings.Contains(logs, "reading them again") {
					t.Errorf("the re-read is not logged: %s", logs)
				}
				for _, s := range []string{clientSecret, rotated} {
					if strings.Contains(logs, s) || (err != nil && strings.Contains(err.Error(), s)) {
						t.Fatalf("a client secret leaked: %v\n%s", err, logs)
					}
				}
			})
		}
	}
}

// TestStaticCredentialsAreNotRetried: a source without a cache has nothing to re-read.
func TestStaticCredentialsAreNotRetried(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.sim.SetClientSecrets("amzn1.oa2-cs.v1.the-new-one")
	_, err := clientCredentialsCall.run(context.Background(), e)
	wantKind(t, err, lwa.ErrClient)
	if got := e.sim.ClientCredentialsGrants(); got != 1 {
		t.Fatalf("LWA saw %d requests, want 1", got)
	}
}
