package reminder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/rate"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// Store is the ledger as the sender uses it: claim a stage, then mark it sent,
// release it, or record that SES rejected it.
type Store interface {
	ClaimReminder(ctx context.Context, c authz.ReminderClaim, staleAfter time.Duration) (authz.Authorization, error)
	MarkReminderSent(ctx context.Context, c authz.ReminderClaim, messageID string, sentAt time.Time) error
	ReleaseReminder(ctx context.Context, c authz.ReminderClaim) error
	RejectReminder(ctx context.Context, c authz.ReminderClaim, reason string, at time.Time) error
}

// SenderConfig tunes the sender.
type SenderConfig struct {
	From        string      // SENDER_EMAIL, verified in SES
	AppNotifier AppNotifier // the Seller Central channel (appnotify.go); nil: off
	Schedule    Schedule    // REMINDER_STAGES: a job for another stage is malformed
	// Pacer spaces the sends of every sender of the stack on one budget,
	// SES_MAX_PER_SECOND (shared/pace), so that all concurrent invocations together
	// stay under the account's SES sending rate in every second. nil paces this sender
	// alone at RatePerSecond (tests, one-off tools).
	Pacer         Pacer
	RatePerSecond float64
	// ClaimTimeout is how old a claim without sentAt must be before another sender
	// takes it over: longer than the function's timeout, so that a live sender never
	// loses its claim, and shorter than the queue's visibility timeout, so that the
	// redelivery after a crash finds it stale. Default 5 minutes.
	ClaimTimeout time.Duration
	// Parallel is how many messages of a batch are in flight at once, so that the
	// latency of DynamoDB and SES does not keep the sender under its rate: the gate
	// paces the sends whatever the parallelism. Default 10, the batch size.
	Parallel int
	// MarkRetries is how often recording a sent email is retried before giving up;
	// default 3, with RetryDelay (default 200 ms) doubling between tries.
	MarkRetries int
	RetryDelay  time.Duration
}

// DefaultClaimTimeout is stages.DefaultClaimTimeout.
const DefaultClaimTimeout = stages.DefaultClaimTimeout

// Pacer hands out sending times on the SES budget (shared/pace.Pacer).
type Pacer interface {
	// Reserve announces a batch about to be sent, so that one reservation serves it.
	Reserve(n int)
	// Wait blocks until the caller's sending time; it fails at once when that time is
	// after ctx's deadline.
	Wait(ctx context.Context) error
}

// Sender turns reminder queue messages into emails, each stage at most once.
type Sender struct {
	cfg      SenderConfig
	from     string
	store    Store
	mailer   Mailer
	renderer *Renderer
	clock    authz.Clock
	log      *slog.Logger
	metrics  *metrics.Emitter
	pacer    Pacer
}

// NewSender checks cfg and wires the sender, which sends through mailer. m may be nil.
func NewSender(cfg SenderConfig, st Store, mailer Mailer, r *Renderer, clock authz.Clock, log *slog.Logger, m *metrics.Emitter) (*Sender, error) {
	from, err := FormatSender(cfg.From)
	if err != nil {
		return nil, err
	}
	if len(cfg.Schedule) == 0 {
		return nil, errors.New("reminder sender: empty schedule")
	}
	if cfg.Pacer == nil {
		if !(cfg.RatePerSecond > 0) || math.IsInf(cfg.RatePerSecond, 0) {
			return nil, fmt.Errorf("reminder sender: rate %v per second, want > 0", cfg.RatePerSecond)
		}
		cfg.Pacer = rate.NewLocal(cfg.RatePerSecond)
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 10
	}
	if cfg.MarkRetries <= 0 {
		cfg.MarkRetries = 3
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 200 * time.Millisecond
	}
	if clock == nil {
		clock = authz.SystemClock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, from: from, store: st, mailer: mailer, renderer: r, clock: clock, log: log, metrics: m, pacer: cfg.Pacer}, nil
}

// Outcome is what became of one message, for logs and tests.
type Outcome string

const (
	OutcomeSent      Outcome = "sent"      // SES accepted it; recorded
	OutcomeDuplicate Outcome = "duplicate" // the stage was already sent or rejected: nothing done
	OutcomeStale     Outcome = "stale"     // the authorization was renewed since the job was queued
	OutcomeRejected  Outcome = "rejected"  // permanent: recorded on the authorization, not retried
	OutcomeMalformed Outcome = "malformed" // not a job we can act on: nothing written; Handle hands one that is not a job (ErrBadJob) back, for the DLQ
	OutcomeRetry     Outcome = "retry"     // back to the queue (throttled, busy, unavailable)
)

// Handle processes an SQS batch and reports the messages to retry, for an event
// source mapping with ReportBatchItemFailures. Once SES throttles, the messages that
// have not reached SES yet are handed back (their claims released): sending more
// would only be throttled too.
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		resp      events.SQSEventResponse
		mu        sync.Mutex
		throttled atomic.Bool
		wg        sync.WaitGroup
		next      = make(chan events.SQSMessage)
	)
	// One reservation on the budget for the batch: the times it does not use (a
	// duplicate, a stale job) pass unused rather than cost a write per email.
	s.pacer.Reserve(len(ev.Records))
	for range min(s.cfg.Parallel, len(ev.Records)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range next {
				out := OutcomeRetry
				var err error
				if !throttled.Load() {
					out, err = s.process(ctx, m, &throttled)
					if errors.Is(err, ErrThrottled) {
						throttled.Store(true)
					}
				}
				// A message that is not a job goes back too: after the queue's receives it
				// waits in the dead-letter queue (and its alarm) rather than being deleted
				// unread. A job for a connection that no longer exists is just removed.
				if out == OutcomeRetry || (out == OutcomeMalformed && errors.Is(err, ErrBadJob)) {
					mu.Lock()
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
					mu.Unlock()
				}
			}
		}()
	}
	for _, m := range ev.Records {
		next <- m
	}
	close(next)
	wg.Wait()
	return resp, nil
}

// Process handles one message. The error explains an OutcomeRetry (and is returned,
// logged, for the others that went wrong); the outcome decides the queue's fate.
func (s *Sender) Process(ctx context.Context, m events.SQSMessage) (Outcome, error) {
	return s.process(ctx, m, nil)
}

// process is Process within a batch: once stop is set (SES throttled another message
// of the batch), a message that has not reached SES yet gives its claim back and
// returns to the queue.
func (s *Sender) process(ctx context.Context, m events.SQSMessage, stop *atomic.Bool) (Outcome, error) {
	log := s.log.With("messageId", m.MessageId)
	job, err := ParseJob(m.Body)
	if err == nil && job.Stage != StageReconnect {
		if _, ok := s.cfg.Schedule.ByKey(job.Stage); !ok {
			err = fmt.Errorf("%w: stage %q is not in the schedule %s", ErrBadJob, job.Stage, s.cfg.Schedule)
		}
	}
	if err != nil {
		// A message that can never succeed writes nothing; Handle reports it as failed so
		// that the redrive policy parks it in the dead-letter queue after maxReceiveCount.
		log.WarnContext(ctx, "reminder job malformed; left for the dead-letter queue", "error", err)
		s.failed(ReasonMalformed)
		return OutcomeMalformed, err
	}
	log = log.With("connectionId", job.ConnectionID, "region", job.Region, "stage", job.Key())

	claim := authz.ReminderClaim{ConnectionID: job.ConnectionID, Region: job.Region, Key: job.Key(), ExpiresAt: job.ExpiresAt, ClaimedAt: s.clock.Now().UTC()}
	a, err := s.store.ClaimReminder(ctx, claim, s.cfg.ClaimTimeout)
	switch {
	case errors.Is(err, authz.ErrNotFound):
		log.WarnContext(ctx, "reminder job for an unknown authorization, removed")
		s.failed(ReasonUnknown)
		return OutcomeMalformed, err
	case errors.Is(err, authz.ErrReminderDone):
		log.InfoContext(ctx, "reminder already sent, duplicate delivery dropped")
		return OutcomeDuplicate, nil
	case errors.Is(err, authz.ErrReminderStale):
		log.InfoContext(ctx, "reminder job stale: the authorization was renewed since, dropped")
		return OutcomeStale, nil
	case errors.Is(err, authz.ErrReminderClaimed):
		// Another sender is sending it right now, or crashed doing so: ask again after
		// the visibility timeout, when it is either sent or stale enough to take over.
		log.InfoContext(ctx, "reminder claimed by another sender, retried later")
		return OutcomeRetry, err
	case err != nil:
		log.ErrorContext(ctx, "reminder claim failed, retried later", "error", err)
		return OutcomeRetry, err
	}

	email, err := s.renderer.Render(a, job, s.clock.Now())
	if err != nil {
		if errors.Is(err, ErrContactUnreachable) {
			// The contact bounced or complained: Seller Central is where this seller can
			// still be reached, before the stage is recorded as not emailed.
			s.notifyApp(ctx, log, claim, a, job, email)
		}
		if errors.Is(err, ErrBadAddress) {
			return s.reject(ctx, log, claim, ReasonNoAddress, err)
		}
		log.ErrorContext(ctx, "reminder render failed, retried later", "error", err)
		s.release(ctx, log, claim)
		s.failed(ReasonUnavailable)
		return OutcomeRetry, err
	}

	// The time is taken right before the request leaves, so that the rate is measured
	// where SES measures it; waiting gives up early enough for the batch to report
	// before the invocation's deadline.
	if err := s.waitToSend(ctx); err != nil {
		log.InfoContext(ctx, "reminder deferred: no sending time before the deadline", "error", err)
		s.release(ctx, log, claim)
		return OutcomeRetry, fmt.Errorf("wait for a sending time: %w", err)
	}
	if stop != nil && stop.Load() {
		log.InfoContext(ctx, "reminder deferred: SES throttled this batch")
		s.release(ctx, log, claim)
		return OutcomeRetry, ErrThrottled
	}
	messageID, err := s.mailer.Send(ctx, Message{From: s.from, To: email.To, Subject: email.Subject, HTML: email.HTML, Text: email.Text, Tags: email.Tags})
	if err != nil {
		if errors.Is(err, ErrRejected) {
			return s.reject(ctx, log, claim, ReasonRejected, err)
		}
		log.WarnContext(ctx, "reminder not sent, retried later", "reason", Reason(err), "error", err)
		s.release(ctx, log, claim)
		s.failed(Reason(err))
		return OutcomeRetry, err
	}
	log = log.With("sesMessageId", messageID)
	if err := s.mark(ctx, claim, messageID); err != nil {
		// SES has the email. Retrying the message would send it twice, so it is removed;
		// the claim stays without sentAt and the log line says what to repair.
		log.ErrorContext(ctx, "reminder sent but not recorded", "error", err)
		s.metrics.Count(metrics.RemindersSent, 1)
		return OutcomeSent, err
	}
	log.InfoContext(ctx, "reminder sent")
	s.metrics.Count(metrics.RemindersSent, 1)
	s.notifyApp(ctx, log, claim, a, job, email) // appnotify.go: the Seller Central channel
	return OutcomeSent, nil
}

// reject records a permanent failure on the authorization, so that the stage is not
// tried again, and counts it.
func (s *Sender) reject(ctx context.Context, log *slog.Logger, c authz.ReminderClaim, reason string, cause error) (Outcome, error) {
	s.failed(reason)
	if err := s.store.RejectReminder(ctx, c, cause.Error(), s.clock.Now().UTC()); err != nil {
		log.ErrorContext(ctx, "reminder rejected, recording failed, retried later", "reason", reason, "cause", cause, "error", err)
		s.release(ctx, log, c)
		return OutcomeRetry, err
	}
	log.WarnContext(ctx, "reminder rejected permanently, recorded", "reason", reason, "error", cause)
	return OutcomeRejected, cause
}

// release gives the stage back so that the retry can claim it at once.
func (s *Sender) release(ctx context.Context, log *slog.Logger, c authz.ReminderClaim) {
	if err := s.store.ReleaseReminder(context.WithoutCancel(ctx), c); err != nil {
		// The claim goes stale after ClaimTimeout and the retry takes it over then.
		log.WarnContext(ctx, "reminder claim not released", "error", err)
	}
}

func (s *Sender) mark(ctx context.Context, c authz.ReminderClaim, messageID string) error {
	ctx = context.WithoutCancel(ctx) // the email is gone: record it even if the invocation is ending
	delay := s.cfg.RetryDelay
	var err error
	for try := 0; try < s.cfg.MarkRetries; try++ {
		if err = s.store.MarkReminderSent(ctx, c, messageID, s.clock.Now().UTC()); err == nil || !errors.Is(err, authz.ErrStoreUnavailable) {
			return err
		}
		time.Sleep(delay)
		delay *= 2
	}
	return err
}

func (s *Sender) failed(reason string) {
	s.metrics.Count(metrics.ReminderFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: reason})
}

// deadlineMargin is kept free at the end of an invocation for the claims, sends and
// records already under way, and the batch response.
const deadlineMargin = 3 * time.Second

// waitToSend waits for the next sending time on the budget, keeping deadlineMargin
// free at the end of the invocation.
func (s *Sender) waitToSend(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	return s.pacer.Wait(ctx)
}
