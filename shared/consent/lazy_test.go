package consent_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// TestSignerFromSourceReadsItsKeyOnFirstUse: a signer built from a key source reads
// nothing until a request loads it; a failed read fails that request with a clear
// error and is tried again by the next; once read, the key is kept and its tokens are
// those of a signer built with the key.
func TestSignerFromSourceReadsItsKeyOnFirstUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		answers   []error // each read's outcome, in order; nil reads the key
		loads     int
		wantReads int32
		wantErrs  int
		wantErr   string // in the first failed load's error
	}{
		{"read once, kept for every load", []error{nil}, 5, 1, 0, ""},
		{"a failed read, then read by the next load", []error{errors.New("InternalServiceError"), nil}, 5, 2, 1, "read state signing key: InternalServiceError"},
		{"two failed reads", []error{errors.New("timeout"), errors.New("timeout"), nil}, 5, 3, 2, "timeout"},
		{"a short key is refused, and read again", []error{errShort, nil}, 3, 2, 1, "state signing key is 5 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reads atomic.Int32
			s := consent.NewSignerFrom(func(context.Context) (secret.Value, error) {
				n := reads.Add(1)
				switch err := tc.answers[min(int(n), len(tc.answers))-1]; {
				case err == errShort:
					return secret.Value("short"), nil
				case err != nil:
					return "", err
				}
				return secret.Value(key), nil
			})
			if reads.Load() != 0 {
				t.Fatal("the key was read before the first use")
			}
			if _, err := s.VerifyLink("x.y", now); !errors.Is(err, consent.ErrKeyNotRead) {
				t.Fatalf("VerifyLink before Load = %v, want ErrKeyNotRead", err)
			}
			if s.CheckBrowserBinding("n", []string{""}) {
				t.Fatal("a browser binding checked before the key was read")
			}
			errs, first := 0, ""
			for range tc.loads {
				if err := s.Load(context.Background()); err != nil {
					if !errors.Is(err, consent.ErrKeyNotRead) {
						t.Fatalf("Load = %v, want ErrKeyNotRead", err)
					}
					if errs == 0 {
						first = err.Error()
					}
					errs++
				}
			}
			if reads.Load() != tc.wantReads || errs != tc.wantErrs {
				t.Errorf("%d reads and %d failed loads, want %d and %d", reads.Load(), errs, tc.wantReads, tc.wantErrs)
			}
			if !strings.Contains(first, tc.wantErr) || strings.Contains(first, key) {
				t.Errorf("first failed load = %q, want it to say %q and not show the key", first, tc.wantErr)
			}
			l := consent.Link{ConnectionID: "acme", Region: authz.RegionEU, Expires: now.Add(time.Hour)}
			if got, want := s.SignLink(l), signer(t, key).SignLink(l); got != want {
				t.Errorf("SignLink = %q, want the eager signer's %q", got, want)
			}
		})
	}
}

// errShort stands for a source that answers a key too short to sign with.
var errShort = errors.New("short key")

// TestSignerLoadWaitsForOneReadOrItsOwnContext: concurrent loads share one read, and
// a load whose context ends first returns with its context's error.
func TestSignerLoadWaitsForOneReadOrItsOwnContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var reads atomic.Int32
	s := consent.NewSignerFrom(func(context.Context) (secret.Value, error) {
		reads.Add(1)
		<-release
		return secret.Value(key), nil
	})
	go func() { _ = s.Load(context.Background()) }() // the read the others wait for
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Load(ctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, consent.ErrKeyNotRead) {
		t.Fatalf("Load during another's read = %v, want the caller's deadline", err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.Load(context.Background()); err != nil {
				t.Errorf("Load = %v", err)
			}
		})
	}
	close(release)
	wg.Wait()
	if reads.Load() != 1 {
		t.Errorf("%d reads, want 1", reads.Load())
	}
}
