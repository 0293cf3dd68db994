package pace_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestProcessesSharingABudgetNeverExceedItInAnySecond runs several pacers on one
// budget in DynamoDB Local, as several Lambda instances do, each with callers at once,
// and checks the times on the budget they were given: no two closer than the
// interval, so never more than the rate in a one-second window whichever process made
// the calls. (How close the calls come to the rate where the service receives them is
// measured by the rate benchmarks of the reminder sender and the refresh workers.)
func TestProcessesSharingABudgetNeverExceedItInAnySecond(t *testing.T) {
	t.Parallel()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	cases := []struct {
		rate      float64
		processes int
		batch     int // Reserve before each batch of this many calls; 0 waits one by one
	}{
		{rate: 3, processes: 2},
		{rate: 14, processes: 4},
		{rate: 20, processes: 3, batch: 10},
		{rate: 50, processes: 4, batch: 10},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/s over %d, batches of %d", c.rate, c.processes, c.batch), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("test-%v-%d-%d", c.rate, c.processes, c.batch)
			calls := int(c.rate * 2.5)
			var mu sync.Mutex
			var times []time.Time
			var wg sync.WaitGroup
			for p := range c.processes {
				pc, err := pace.New(db, table, name, c.rate)
				if err != nil {
					t.Fatal(err)
				}
				mine := calls / c.processes
				if p < calls%c.processes {
					mine++
				}
				wg.Go(func() {
					for done := 0; done < mine; {
						n := 1
						if c.batch > 0 {
							n = min(c.batch, mine-done)
							pc.Reserve(n)
						}
						var inner sync.WaitGroup
						for range n {
							inner.Go(func() {
								at, err := pc.Next(context.Background())
								if err != nil {
									t.Error(err)
									return
								}
								mu.Lock()
								times = append(times, at)
								mu.Unlock()
							})
						}
						inner.Wait()
						done += n
					}
				})
			}
			wg.Wait()
			sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
			if len(times) != calls {
				t.Fatalf("%d calls let through, want %d", len(times), calls)
			}
			interval := time.Duration(float64(time.Second) / (c.rate * (1 - pace.Margin)))
			for i := 1; i < len(times); i++ {
				if d := times[i].Sub(times[i-1]); d < interval {
					t.Fatalf("calls %d and %d given times %s apart, want at least %s", i-1, i, d, interval)
				}
			}
			if n := testenv.Busiest(times, time.Second); float64(n) > c.rate {
				t.Errorf("busiest second held %d calls, rate %v", n, c.rate)
			}
		})
	}
}

// slowTable is the table as a loaded one answers: each request and each answer
// takes a while on its way, as long as the budget's interval or longer.
type slowTable struct {
	pace.DB
	way time.Duration
}

func (s slowTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	time.Sleep(s.way)
	out, err := s.DB.UpdateItem(ctx, in, optFns...)
	time.Sleep(s.way)
	return out, err
}

// TestManySingleCallClientsShareABudget: 50 processes come to one budget about as
// fast as its rate, each to make one call (a Lambda execution environment per
// renewal), over a loaded table whose round trip is longer than the budget's interval.
// The budget keeps changing under their reservations: that costs them a retry, never
// a failure, and the calls reach the service no faster than the rate in any second.
func TestManySingleCallClientsShareABudget(t *testing.T) {
	t.Parallel()
	db := slowTable{DB: testenv.DynamoDB(t), way: 20 * time.Millisecond}
	table := testenv.NewTable(t)
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(service.Close)
	url, arrivals := testenv.TimingProxy(t, service.URL)
	cases := []struct {
		name      string
		rate      float64
		clients   int
		partition []pace.Option
	}{
		{name: "default partition", rate: 40, clients: 50},
		{name: "own partition", rate: 40, clients: 50, partition: []pace.Option{pace.InPartition("VAULT#pace#budget")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// One measured service: the cases run one after the other.
			arrivals.Reset()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var mu sync.Mutex
			var given []time.Time
			var wg sync.WaitGroup
			interval := time.Duration(float64(time.Second) / (c.rate * (1 - pace.Margin)))
			for i := range c.clients {
				wg.Go(func() {
					// They come about as fast as the rate, so that the budget hovers
					// between idle and busy, where the two kinds of reservation
					// write race each other.
					time.Sleep(time.Duration(i) * interval)
					p, err := pace.New(db, table, "contended", c.rate, c.partition...)
					if err != nil {
						t.Error(err)
						return
					}
					at, err := p.Next(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					resp, err := http.Get(url)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					mu.Lock()
					given = append(given, at)
					mu.Unlock()
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			sort.Slice(given, func(i, j int) bool { return given[i].Before(given[j]) })
			for i := 1; i < len(given); i++ {
				if d := given[i].Sub(given[i-1]); d < interval {
					t.Fatalf("calls %d and %d given times %s apart, want at least %s", i-1, i, d, interval)
				}
			}
			got := arrivals.Times()
			if len(got) != c.clients {
				t.Fatalf("the service received %d calls, want %d", len(got), c.clients)
			}
			if n := testenv.Busiest(got, time.Second); float64(n) > c.rate {
				t.Errorf("the service received %d calls in its busiest second, rate %v", n, c.rate)
			}
		})
	}
}

// TestBatchReservationWritesOnce: a batch's times cost one table write, however many
// callers then wait on them.
func TestBatchReservationWritesOnce(t *testing.T) {
	t.Parallel()
	db := testenv.DynamoDB(t)
	p, err := pace.New(db, testenv.NewTable(t), "batch", 50)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The first write to a new table can take a while; the test is about the next ones.
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	p.Reserve(10)
	for range 10 {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// One write for the batch; a call that woke too late for its time (a busy
	// machine) takes a new one, and a reservation whose answer came after its first
	// time is made again. One write per call is what batching avoids.
	if got, missed := p.Writes()-1, p.Missed(); got > 2+missed {
		t.Errorf("10 calls after one Reserve wrote %d reservations with %d missed times, want 1", got, missed)
	}
}

// TestAWaitPastTheDeadlineReturnsAtOnce: a caller whose deadline comes before the
// budget's next free time is told so without waiting, so that it can hand its message
// back before the invocation ends.
func TestAWaitPastTheDeadlineReturnsAtOnce(t *testing.T) {
	t.Parallel()
	p, err := pace.New(testenv.DynamoDB(t), testenv.NewTable(t), "deadline", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.Wait(ctx)
	if !errors.Is(err, pace.ErrNoSlot) {
		t.Fatalf("Wait = %v, want ErrNoSlot", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("Wait took %s to say there is no slot", d)
	}
}

// TestUnusedTimesAreNotUsedLate: a time reserved and left unused while its moment
// passes is never handed out afterwards (a late call would crowd the ones reserved
// after it): the next call reserves a time of its own.
func TestUnusedTimesAreNotUsedLate(t *testing.T) {
	t.Parallel()
	p, err := pace.New(testenv.DynamoDB(t), testenv.NewTable(t), "late", 20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p.Reserve(5)
	// The first call reserves five times; it uses one and leaves four.
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	before := p.Writes()
	time.Sleep(5*p.Interval() + 2*pace.Late)
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Writes() == before {
		t.Error("a call after the reserved times passed made no reservation: it used a stale time")
	}
}

func TestBadSettingsAreRefused(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0, -1} {
		if _, err := pace.Local(rate); err == nil {
			t.Errorf("Local(%v) accepted", rate)
		}
	}
	if _, err := pace.New(nil, "t", "n", 1); err == nil {
		t.Error("New without a table client accepted")
	}
}
