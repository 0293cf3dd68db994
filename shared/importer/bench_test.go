package importer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// countingLedger counts the ledger's record writes (each Create/Update is one
// TransactWriteItems: the record, its history event and, for a known seller, the
// seller's binding) and reads.
type countingLedger struct {
	importer.Ledger
	writes, reads atomic.Int64
}

func (c *countingLedger) Get(ctx context.Context, id string, r authz.Region) (authz.Authorization, error) {
	c.reads.Add(1)
	return c.Ledger.Get(ctx, id, r)
}

func (c *countingLedger) Create(ctx context.Context, a authz.Authorization, ev ...authz.Event) (authz.Authorization, error) {
	c.writes.Add(1)
	return c.Ledger.Create(ctx, a, ev...)
}

func (c *countingLedger) Update(ctx context.Context, a authz.Authorization, ev ...authz.Event) (authz.Authorization, error) {
	c.writes.Add(1)
	return c.Ledger.Update(ctx, a, ev...)
}

func (c *countingLedger) CreateBound(ctx context.Context, a authz.Authorization, at time.Time, ev ...authz.Event) (authz.Authorization, error) {
	c.writes.Add(1)
	return c.Ledger.CreateBound(ctx, a, at, ev...)
}

func (c *countingLedger) UpdateBound(ctx context.Context, a authz.Authorization, at time.Time, ev ...authz.Event) (authz.Authorization, error) {
	c.writes.Add(1)
	return c.Ledger.UpdateBound(ctx, a, at, ev...)
}

// timedLWA notes when each LWA refresh starts: where an import's time goes.
type timedLWA struct {
	importer.TokenRefresher
	mu     sync.Mutex
	starts []time.Time
}

func (l *timedLWA) Refresh(ctx context.Context, rt secret.Value) (lwa.Tokens, error) {
	l.mu.Lock()
	l.starts = append(l.starts, time.Now())
	l.mu.Unlock()
	return l.TokenRefresher.Refresh(ctx, rt)
}

// gaps sums the pauses between calls longer than twice the budget's interval.
func (l *timedLWA) gaps(interval time.Duration) (n int, total time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 1; i < len(l.starts); i++ {
		if d := l.starts[i].Sub(l.starts[i-1]); d > 2*interval {
			n++
			total += d - interval
		}
	}
	return n, total
}

// packedEnv is env with the production vault (the packed layout, its bookkeeping in the
// ledger's table) and every DynamoDB and Secrets Manager call counted.
func packedEnv(t testing.TB) (*env, *testenv.Calls) {
	e := newEnv(t)
	calls := testenv.NewCalls()
	count := func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) }
	db := testenv.DynamoDB(t)
	db = dynamodb.New(db.Options(), count)
	table := testenv.NewTable(t)
	sm := testenv.SecretsManager(t)
	sm = secretsmanager.New(sm.Options(), func(o *secretsmanager.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	e.Store = store.New(db, table)
	e.Vault = vault.New(sm, testenv.Prefix(t), "").WithLogger(slog.New(slog.DiscardHandler)).
		WithTable(db, table, vault.LayoutPacked, vault.Packing{})
	return e, calls
}

// dynamoWrites are the DynamoDB write calls counted so far.
func dynamoWrites(c *testenv.Calls) int {
	n := 0
	for _, op := range []string{"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"} {
		n += c.Count("DynamoDB", op)
	}
	return n
}

func secretWrites(c *testenv.Calls) int {
	return c.Count("Secrets Manager", "PutSecretValue") + c.Count("Secrets Manager", "CreateSecret")
}

// heapSample is the live heap after a collection: all of it, and the part allocated by
// code other than the in-process emulators (the Amazon simulator, the Secrets Manager
// emulator and the HTTP servers they answer through), which keep what the import
// sends them and so grow with the file whatever the importer does.
type heapSample struct{ all, importer float64 }

const profileRate = 4096

// emulatorFrames name the code whose allocations are the emulators'.
var emulatorFrames = []string{"/infra/amazonsim.", "/infra/secretsemu.", "net/http.(*conn).serve", "net/http.(*conn).readRequest", "net/http/httptest."}

// emulatorStacks caches fromEmulator per stack: symbolizing every stack of every
// sample would cost the import its CPU.
var emulatorStacks = map[[32]uintptr]bool{}

func sampleHeap() heapSample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	n, _ := runtime.MemProfile(nil, false)
	recs := make([]runtime.MemProfileRecord, n+256)
	n, _ = runtime.MemProfile(recs, false)
	var own float64
	for _, r := range recs[:n] {
		if r.InUseObjects() == 0 {
			continue
		}
		emu, known := emulatorStacks[r.Stack0]
		if !known {
			emu = fromEmulator(r.Stack())
			emulatorStacks[r.Stack0] = emu
		}
		if emu {
			continue
		}
		// Scale the sampled bytes as pprof does: a sample stands for
		// 1/(1-e^(-size/rate)) allocations of its average size.
		avg := float64(r.AllocBytes) / float64(r.AllocObjects)
		own += float64(r.InUseBytes()) / (1 - math.Exp(-avg/profileRate))
	}
	return heapSample{all: float64(m.HeapAlloc), importer: own}
}

func fromEmulator(stack []uintptr) bool {
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		for _, e := range emulatorFrames {
			if strings.Contains(f.Function, e) {
				return true
			}
		}
		if !more {
			return false
		}
	}
}

// peakHeap samples the live heap while fn runs, every 250 ms, and returns the peaks
// above what was live before it started.
func peakHeap(fn func()) heapSample {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = profileRate
	defer func() { runtime.MemProfileRate = old }()
	base := sampleHeap()
	var mu sync.Mutex
	var peak heapSample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			s := sampleHeap()
			mu.Lock()
			peak.all, peak.importer = max(peak.all, s.all-base.all), max(peak.importer, s.importer-base.importer)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return peak
}

// syntheticFile streams n rows without holding them: the file itself takes no memory.
// tok gives row i's refresh token.
func syntheticFile(n int, tok func(i int) string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		w := io.Writer(pw)
		fmt.Fprint(w, header)
		for i := range n {
			fmt.Fprintf(w, "shop-%07d,eu,%s,A%013d,DE,s%d@shop.example,de-DE,2026-09-01\n", i, tok(i), i, i)
		}
		pw.Close()
	}()
	return pr
}

func simTokens(e *env, n int) func(int) string {
	toks := make([]string, n)
	for i := range toks {
		// syntheticFile's rows name Germany: each account sells there.
		must(e.T, e.Sim.AddSeller(amazonsim.Seller{ID: fmt.Sprintf("A%013d", i), CountryCodes: []string{"DE"}}))
		toks[i] = e.Sim.IssueRefreshToken(fmt.Sprintf("A%013d", i))
	}
	return func(i int) string { return toks[i] }
}

// BenchmarkImport is the issue's figure, scaled in rows only: the LWA simulator
// answering in 150 ms, the issue's budget of 20 calls/s, the production (packed) vault
// and the SP-API fingerprint taken. 100,000 rows at 20/s take 100,000 / 20 s ≈ 83
// minutes; here 1,000 rows take ≈ 50 s. It reports the achieved share of the budget,
// DynamoDB and Secrets Manager writes per row, and the time and LWA calls of a re-run
// of the same file. Run with -bench Import$ -benchtime 1x.
func BenchmarkImport(b *testing.B) {
	const (
		rows   = 1000
		budget = 20.0
	)
	for b.Loop() {
		e, calls := packedEnv(b)
		e.Sim.SetLatency(150 * time.Millisecond)
		tok := simTokens(e, rows)
		ledger := &countingLedger{Ledger: e.Store}
		timed := &timedLWA{TokenRefresher: e.lwa}
		run := func() (*importer.Report, time.Duration) {
			im := importer.New(importer.Config{MaxPerSecond: budget}, importer.Deps{
				Ledger: ledger, Tokens: e.Vault, Writer: e.Vault, LWA: timed, Accounts: e.accounts, Clock: e.Clock})
			began := time.Now()
			rep, err := im.Run(context.Background(), syntheticFile(rows, tok))
			must(b, err)
			return rep, time.Since(began)
		}
		first, took := run()
		if first.Imported() != rows {
			b.Fatalf("imported %d of %d: %v %+v", first.Imported(), rows, first.Counts, first.Rejected)
		}
		achieved := float64(first.LWACalls) / took.Seconds()
		if len(timed.starts) > 0 {
			began := time.Now().Add(-took)
			n, paused := timed.gaps(time.Second / budget)
			b.Logf("first LWA call after %s, last %s before the end; %d pauses over %s between calls, %s in all",
				timed.starts[0].Sub(began).Round(time.Millisecond), time.Since(timed.starts[len(timed.starts)-1]).Round(time.Millisecond),
				n, 2*time.Second/budget, paused.Round(time.Millisecond))
		}
		dw, sw := dynamoWrites(calls), secretWrites(calls)
		b.ReportMetric(achieved/budget, "achieved/budget")
		b.ReportMetric(float64(dw)/rows, "DynamoDB-writes/row")
		b.ReportMetric(float64(ledger.writes.Load())/rows, "ledger-transactions/row")
		b.ReportMetric(float64(sw)/rows, "SecretsManager-writes/row")
		b.ReportMetric(took.Seconds(), "import-s")
		refreshes, before := e.Sim.Refreshes(), calls.Snapshot()
		second, again := run()
		b.ReportMetric(again.Seconds(), "rerun-s")
		b.ReportMetric(float64(e.Sim.Refreshes()-refreshes), "rerun-LWA-calls")
		b.ReportMetric(float64(dynamoWrites(calls)-dw), "rerun-DynamoDB-writes")
		b.ReportMetric(float64(secretWrites(calls)-sw), "rerun-SecretsManager-writes")
		after := calls.Snapshot()
		b.Logf("%d rows at %.0f/s budget, LWA 150 ms: %s (%.1f calls/s, %.2f of the budget); DynamoDB writes %d (%.2f a row), Secrets Manager writes %d (%.3f a row)",
			rows, budget, took.Round(time.Millisecond), achieved, achieved/budget, dw, float64(dw)/rows, sw, float64(sw)/rows)
		b.Logf("re-run %s: %d unchanged, %d LWA calls, %d DynamoDB reads; 100,000 rows at 20/s would take %.0f min",
			again.Round(time.Millisecond), second.Counts[importer.OutcomeUnchanged], e.Sim.Refreshes()-refreshes,
			after["DynamoDB.GetItem"]-before["DynamoDB.GetItem"]+after["DynamoDB.Query"]-before["DynamoDB.Query"], 100000/achieved/60)
		b.Logf("calls of both runs:\n%s", calls)
	}
}

// BenchmarkImportMemory is the importer's peak live heap against the file's size: a
// real import (LWA without latency, a high budget) of two sizes with either vault
// layout, and a dry run of two larger ones. The figures are above the heap before the
// run; "importer" leaves out the in-process emulators' share (they keep what they are
// sent), "all" does not. Run with -bench ImportMemory -benchtime 1x.
func BenchmarkImportMemory(b *testing.B) {
	const mib = 1 << 20
	for _, layout := range []vault.Layout{vault.LayoutPacked, vault.LayoutPerAuthorization} {
		b.Run(string(layout), func(b *testing.B) {
			for b.Loop() {
				var peaks []heapSample
				sizes := []int{1000, 5000}
				for _, n := range sizes {
					e, _ := packedEnv(b)
					if layout == vault.LayoutPerAuthorization {
						e = newEnv(b)
					}
					tok := simTokens(e, n)
					began := time.Now()
					peak := peakHeap(func() {
						im := importer.New(importer.Config{MaxPerSecond: 5000}, importer.Deps{
							Ledger: e.Store, Tokens: e.Vault, Writer: e.Vault, LWA: e.lwa, Clock: e.Clock})
						rep, err := im.Run(context.Background(), syntheticFile(n, tok))
						must(b, err)
						if rep.Imported() != n {
							b.Fatalf("import of %d rows: %v", n, rep.Counts)
						}
					})
					peaks = append(peaks, peak)
					b.ReportMetric(peak.importer/mib, fmt.Sprintf("importer-peak-heap-MiB-%dk-rows", n/1000))
					b.ReportMetric(peak.all/mib, fmt.Sprintf("all-peak-heap-MiB-%dk-rows", n/1000))
					b.Logf("%s: import of %d rows in %s: peak live heap %.1f MiB importer, %.1f MiB with the in-process emulators",
						layout, n, time.Since(began).Round(time.Millisecond), peak.importer/mib, peak.all/mib)
				}
				rows := float64(sizes[1] - sizes[0])
				b.ReportMetric((peaks[1].importer-peaks[0].importer)/rows, "importer-heap-B/row")
				b.ReportMetric((peaks[1].all-peaks[0].all)/rows, "all-heap-B/row")
			}
		})
	}
	b.Run("dry-run", func(b *testing.B) {
		for b.Loop() {
			var peaks []heapSample
			sizes := []int{20_000, 200_000}
			for _, n := range sizes {
				fake := func(i int) string { return fmt.Sprintf("Atzr|synthetic-token-%020d", i) }
				peak := peakHeap(func() {
					rep, err := importer.New(importer.Config{DryRun: true}, importer.Deps{}).Run(context.Background(), syntheticFile(n, fake))
					must(b, err)
					if rep.Counts[importer.OutcomeValid] != n {
						b.Fatalf("dry run of %d rows: %v", n, rep.Counts)
					}
				})
				peaks = append(peaks, peak)
				b.ReportMetric(peak.importer/mib, fmt.Sprintf("peak-heap-MiB-%dk-rows", n/1000))
				b.Logf("dry run of %d rows: peak live heap %.1f MiB", n, peak.importer/mib)
			}
			b.ReportMetric((peaks[1].importer-peaks[0].importer)/float64(sizes[1]-sizes[0]), "heap-B/row")
		}
	})
}
