// Package pace spaces calls to a rate-limited service evenly across every process of
// the stack that shares one budget: SES's sending rate for the reminder senders, the
// LWA budget for the refresh workers and the importer.
//
// A budget is one small item in the table (pk=META#pace, or the partition InPartition
// names; sk={name}) holding tat, the
// theoretical arrival time of the next call (the generic cell rate algorithm). A
// process reserves send times by moving tat forward in one conditional UpdateItem;
// each time it gets is interval = 1/(rate·(1-Margin)) after the one before, whoever
// reserved it. Calls made at their times are never closer than the interval, so no
// one-second window holds more than the rate, however many Lambda instances run and
// however the budget is shared between them; a per-instance share (the total divided
// by the event source's MaximumConcurrency) rounds down and wastes what an idle
// instance does not use.
//
// Many processes may share a budget, each making as little as one call (a Lambda
// execution environment per renewal): a reservation that finds the budget changing
// under it is contention, not a failure. It tries again after a jittered backoff for
// as long as the caller's deadline allows.
//
// Margin is the guard against the calls' varying way to the service: in a one-second
// window the rate's calls are spread over 1/(1-Margin) seconds, so a call may reach
// the service up to about Margin seconds (40 ms) later than the one rate calls
// before it, and no window holds more than the rate.
package pace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// Margin is the share of the rate left unused (see the package comment).
const Margin = 0.04

// Late is how long after its time a reserved slot may still be used (half the 40 ms
// Margin leaves; the other half is for the request's way to the service): a goroutine
// wakes a little after its timer. A slot older than that is dropped, since a call made
// at it could crowd the calls reserved after it.
const Late = 20 * time.Millisecond

// Horizon caps a batch reservation to this much of the rate's time, so that a batch of
// 50 at 1 call a second does not hold the budget for 50 seconds.
const Horizon = 2 * time.Second

// PK is the partition of the pace items, outside the authorization key space (no
// index attribute, so no index writes); a budget's name is its sort key.
const PK = tablekeys.PacePK

// ErrNoSlot means the next free time is after the caller's deadline, or that the
// budget stayed contended until then.
var ErrNoSlot = errors.New("no free slot before the deadline")

// DB is the part of the DynamoDB client a Pacer uses.
type DB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Pacer hands out call times on one shared budget. Safe for concurrent use.
type Pacer struct {
	db       DB // nil: the budget is this process's alone (tests, one-off tools)
	table    string
	pk       string // the budget item's partition (PK unless InPartition says)
	name     string
	interval time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	ready  []time.Time   // reserved by this process, not handed out yet, in order
	tat    time.Time     // the budget's state when db is nil
	busy   bool          // the last reservation found the budget busy
	lead   time.Duration // how far ahead of now an idle budget's first time is set
	missed int           // reserved times that went unused (see Missed)
	want   int           // calls announced by Reserve and not made yet
	writes int           // reservations written, for tests and benchmarks
}

// The first time reserved on an idle budget lies a little ahead, by twice the last
// write's round trip (within these bounds): a time set to the moment of asking would
// already have passed when the answer arrives, and the call would crowd the next.
const (
	minLead     = 5 * time.Millisecond
	maxLead     = 500 * time.Millisecond
	initialLead = 50 * time.Millisecond
)

// Option changes how New sets up a Pacer.
type Option func(*Pacer)

// InPartition keeps the budget item under partition key pk instead of PK (its sort
// key is still the budget's name): for a budget whose users may only touch their own
// part of the table.
func InPartition(pk string) Option { return func(p *Pacer) { p.pk = pk } }

// New paces calls at perSecond (less Margin) on the budget named name in table.
func New(db DB, table, name string, perSecond float64, opts ...Option) (*Pacer, error) {
	if db == nil || table == "" || name == "" {
		return nil, fmt.Errorf("pace %q: a table and a name are needed", name)
	}
	p, err := Local(perSecond)
	if err != nil {
		return nil, fmt.Errorf("pace %q: %w", name, err)
	}
	p.db, p.table, p.pk, p.name = db, table, PK, name
	for _, o := range opts {
		o(p)
	}
	if p.pk == "" {
		return nil, fmt.Errorf("pace %q: an empty partition key", name)
	}
	return p, nil
}

// Local paces calls at perSecond (less Margin) within this process only.
func Local(perSecond float64) (*Pacer, error) {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		return nil, fmt.Errorf("rate %v per second, want > 0", perSecond)
	}
	return &Pacer{
		interval: time.Duration(float64(time.Second) / (perSecond * (1 - Margin))),
		now:      time.Now,
		sleep:    sleepCtx,
		lead:     initialLead,
	}, nil
}

// Interval is the time between two calls on this budget.
func (p *Pacer) Interval() time.Duration { return p.interval }

// Writes is how many reservations this pacer has written to the table.
func (p *Pacer) Writes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes
}

// Reserve announces n calls about to be made (a batch): the next reservation takes
// times for all of them at once (capped at Horizon's worth), so that one table write
// serves the batch. It writes nothing itself: the times are taken when the first call
// asks, so that the work before it (reading the record, rendering the email) does not
// let them pass unused. Times a batch does not use are lost to the budget, never used
// late.
func (p *Pacer) Reserve(n int) {
	p.mu.Lock()
	p.want = max(n, 0)
	p.mu.Unlock()
}

// Wait blocks until the caller's call time: the next reserved one, or a new one.
// It returns ErrNoSlot at once if that time is after ctx's deadline.
func (p *Pacer) Wait(ctx context.Context) error {
	_, err := p.Next(ctx)
	return err
}

// Next is Wait, and says which time on the budget the caller was given.
//
// A caller goes within Late of its time or not at all: one that wakes later (a busy
// CPU) takes a new time instead, since going late would crowd the call another
// process has at the next time.
func (p *Pacer) Next(ctx context.Context) (time.Time, error) {
	for range maxLate {
		at, err := p.take(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if dl, ok := ctx.Deadline(); ok && at.After(dl) {
			return time.Time{}, fmt.Errorf("%w: next at %s, deadline %s", ErrNoSlot, at.Format(time.RFC3339Nano), dl.Format(time.RFC3339Nano))
		}
		if err := p.sleep(ctx, at.Sub(p.now())); err != nil {
			return time.Time{}, err
		}
		if p.now().Sub(at) <= Late {
			return at, nil
		}
		p.mu.Lock()
		p.missed++
		p.mu.Unlock()
	}
	return time.Time{}, fmt.Errorf("pace budget %s: woke too late for %d times in a row", p.name, maxLate)
}

// maxLate is how many times one caller may wake too late before giving up.
const maxLate = 10

// take hands out the next reserved time, reserving one if none is left.
func (p *Pacer) take(ctx context.Context) (time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLate()
	for try := 0; len(p.ready) == 0; try++ {
		// Every time reserved had passed when the answer came (a slow round trip):
		// the lead has grown with that round trip, so the next reservation lies
		// further ahead. Try again while the deadline allows.
		if try > 0 {
			if err := p.backoff(ctx, try-1, "every time reserved had passed when the reservation returned"); err != nil {
				return time.Time{}, err
			}
		}
		n := min(max(p.want, 1), max(1, int(Horizon/p.interval)))
		if err := p.reserve(ctx, n); err != nil {
			return time.Time{}, err
		}
		p.dropLate()
	}
	at := p.ready[0]
	p.ready = p.ready[1:]
	p.want = max(p.want-1, 0)
	return at, nil
}

// Missed is how many reserved times went unused: passed while no caller asked for
// them, or given to a caller that woke too late for it and took another.
func (p *Pacer) Missed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.missed
}

// dropLate removes the reserved times that passed more than Late ago. p.mu is held.
func (p *Pacer) dropLate() {
	cut := p.now().Add(-Late)
	i := 0
	for i < len(p.ready) && p.ready[i].Before(cut) {
		i++
	}
	p.missed += i
	p.ready = p.ready[i:]
}

// reserve appends n call times to p.ready. p.mu is held: one reservation at a time
// per process, which also merges what concurrent callers would have written.
func (p *Pacer) reserve(ctx context.Context, n int) error {
	span := time.Duration(n) * p.interval
	var start time.Time
	if p.db == nil {
		now := p.now()
		start = p.tat
		if start.Before(now) {
			start = now
		}
		p.tat = start.Add(span)
	} else {
		asked := p.now()
		var err error
		if start, err = p.reserveShared(ctx, span); err != nil {
			return err
		}
		p.writes++
		p.lead = min(max(2*p.now().Sub(asked), minLead), maxLead)
	}
	for i := range n {
		p.ready = append(p.ready, start.Add(time.Duration(i)*p.interval))
	}
	return nil
}

// reserveShared moves the shared tat forward by span and returns where the span
// starts: the generic cell rate algorithm's tat = max(tat, soon) + span, where soon is
// now plus the lead. DynamoDB has no max, so two conditional writes cover the two
// cases without a read: the budget is busy (tat beyond soon: add span to it
// atomically) or idle (tat at or before soon, or absent: set it to soon+span). Both
// writes only ever move tat forward, and soon is fixed for the attempt, so once the
// idle write's condition fails (tat > soon) the busy write's holds: an attempt ends
// within three writes. Anything else (the item changed some other way) is contention,
// tried again after a jittered backoff within the caller's deadline.
func (p *Pacer) reserveShared(ctx context.Context, span time.Duration) (time.Time, error) {
	for attempt := 0; ; attempt++ {
		start, ok, err := p.reserveOnce(ctx, span)
		if err != nil || ok {
			return start, err
		}
		if err := p.backoff(ctx, attempt, "kept changing under the reservation"); err != nil {
			return time.Time{}, err
		}
	}
}

// reserveOnce is one attempt of reserveShared; ok is false if neither case held.
func (p *Pacer) reserveOnce(ctx context.Context, span time.Duration) (time.Time, bool, error) {
	key := map[string]types.AttributeValue{
		tablekeys.PK: &types.AttributeValueMemberS{Value: p.pk},
		tablekeys.SK: &types.AttributeValueMemberS{Value: p.name},
	}
	// The first time handed out lies lead ahead of now in both cases, so that it has
	// not passed when the answer arrives.
	first := p.now().Add(p.lead)
	soon := num(first.UnixNano())
	busy := p.busy
	for range 3 {
		in := &dynamodb.UpdateItemInput{TableName: aws.String(p.table), Key: key}
		if busy {
			in.UpdateExpression = aws.String("SET tat = tat + :span")
			in.ConditionExpression = aws.String("tat > :soon")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":span": num(int64(span)), ":soon": soon}
			in.ReturnValues = types.ReturnValueUpdatedNew
		} else {
			in.UpdateExpression = aws.String("SET tat = :end")
			in.ConditionExpression = aws.String("attribute_not_exists(tat) OR tat <= :soon")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":end": num(first.Add(span).UnixNano()), ":soon": soon}
		}
		out, err := p.db.UpdateItem(ctx, in)
		var failed *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed):
			busy = !busy
			continue
		case err != nil:
			return time.Time{}, false, fmt.Errorf("reserve %s on pace budget %s: %w", span, p.name, err)
		}
		p.busy = busy
		if !busy {
			return first, true, nil
		}
		end, err := tatOf(out.Attributes)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("pace budget %s: %w", p.name, err)
		}
		return time.Unix(0, end).Add(-span), true, nil
	}
	return time.Time{}, false, nil
}

// Backoff between two tries on a contended budget: full jitter over an exponential
// ceiling, so that many processes that collided do not collide again in step.
const (
	backoffBase = 5 * time.Millisecond
	backoffCap  = 200 * time.Millisecond
	// maxTries bounds the tries of a caller without a deadline.
	maxTries = 50
)

// backoff sleeps before try attempt+1 of something that failed for why, or says
// ErrNoSlot if the caller's deadline does not leave the time (or, without a deadline,
// the tries are spent).
func (p *Pacer) backoff(ctx context.Context, attempt int, why string) error {
	ceiling := min(backoffBase<<min(attempt, 16), backoffCap)
	d := time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond
	dl, ok := ctx.Deadline()
	if (ok && p.now().Add(d).After(dl)) || (!ok && attempt+1 >= maxTries) {
		return fmt.Errorf("%w: pace budget %s: %s, %d tries", ErrNoSlot, p.name, why, attempt+1)
	}
	return p.sleep(ctx, d)
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func tatOf(item map[string]types.AttributeValue) (int64, error) {
	v, ok := item["tat"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("the update returned no tat")
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
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
