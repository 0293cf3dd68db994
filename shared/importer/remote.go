package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// The remote import: the vendor drops the file into the stack's import bucket
// (KMS-encrypted, no public access), S3 notifies the import queue, and the import
// function runs the file there, so tokens never pass through a laptop. A Lambda
// invocation lasts at most 15 minutes and an import at 10 LWA calls a second takes
// longer than that for more than ~9,000 rows, so an invocation stops short of its
// deadline and puts a continuation on the queue (the line to resume after); the
// next invocation skips the rows already done. The object is deleted once the import
// ends, whatever the outcome.

// Objects is the import bucket (the S3 adapter).
type Objects interface {
	// Open streams an object; etag, when set, must still match (the file must not
	// change between two invocations of one import). ErrNoObject if it is gone.
	Open(ctx context.Context, bucket, key, etag string) (body io.ReadCloser, gotETag string, meta map[string]string, err error)
	Delete(ctx context.Context, bucket, key string) error
	PutReport(ctx context.Context, bucket, key string, body []byte) error
}

// ErrNoObject: the import object does not exist (deleted by a finished import).
var ErrNoObject = errors.New("import object not found")

// Statuses keeps the progress item of each remote import in the ledger.
type Statuses interface {
	PutImportStatus(ctx context.Context, st authz.ImportStatus) error
	ImportStatus(ctx context.Context, id string) (authz.ImportStatus, error)
}

// Sender puts continuation messages on the import queue.
type Sender interface {
	Send(ctx context.Context, bodies []string) (int, error)
}

// Continuation is the import queue's own message: resume an import after a line.
type Continuation struct {
	Bucket          string `json:"bucket"`
	Key             string `json:"key"`
	ETag            string `json:"etag"`
	SkipThroughLine int    `json:"skipThroughLine"`
	SkipLines       []int  `json:"skipLines,omitempty"` // finished past SkipThroughLine
}

// Remote runs imports of objects in the import bucket.
type Remote struct {
	New      func(cfg Config) *Importer // an importer for one invocation's share of the file
	Config   Config
	Objects  Objects
	Statuses Statuses
	Queue    Sender
	Clock    authz.Clock
	Log      *slog.Logger
	// Margin is how long before the invocation's deadline the import stops, writes
	// its status and queues the continuation.
	Margin time.Duration
}

// Remote's states of an import.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// ImportPrefix is where files to import go; ReportPrefix is where the bucket keeps
// finished imports' reports.
const (
	ImportPrefix = "imports/"
	ReportPrefix = "reports/"
)

// Object metadata an upload may carry to tune its import (keeperctl import --remote
// sets them from its flags): whole days of assumed expiry, confirmation emails a day.
const (
	MetaUnknownExpiry = "unknown-expiry-days"
	MetaConfirmPerDay = "confirm-per-day"
)

// ImportID names the import of an object: its key (unique in the bucket).
func ImportID(key string) string { return key }

// Handle takes an S3 ObjectCreated notification (direct, or through the import queue)
// or a continuation, and reports the queue messages that should be delivered again.
func (r *Remote) Handle(ctx context.Context, raw json.RawMessage) (events.SQSEventResponse, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || len(probe.Records) == 0 {
		return events.SQSEventResponse{}, fmt.Errorf("not an S3 or SQS event: %.100s", raw)
	}
	if probe.Records[0].EventSource == "aws:sqs" {
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return events.SQSEventResponse{}, fmt.Errorf("SQS event: %w", err)
		}
		// A message that fails goes back to the queue, and after maxReceiveCount to the
		// dead-letter queue: a malformed one too, kept there for a person, never deleted
		// unread (ReportBatchItemFailures).
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			if err := r.message(ctx, []byte(m.Body)); err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return resp, nil
	}
	return events.SQSEventResponse{}, r.message(ctx, raw)
}

// message handles one S3 notification or continuation.
func (r *Remote) message(ctx context.Context, body []byte) error {
	var c Continuation
	if err := json.Unmarshal(body, &c); err == nil && c.Bucket != "" && c.Key != "" {
		return r.run(ctx, c)
	}
	var n events.S3Event
	if err := json.Unmarshal(body, &n); err != nil {
		return fmt.Errorf("import queue message is neither an S3 notification nor a continuation: %w", err)
	}
	if len(n.Records) == 0 {
		// S3 sends s3:TestEvent when the notification is configured: nothing to do.
		r.Log.InfoContext(ctx, "import: message without records ignored")
		return nil
	}
	var errs []error
	for _, rec := range n.Records {
		if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
			continue
		}
		// Keys in S3 notifications are URL-encoded, spaces as '+'.
		key, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("object key %q: %w", rec.S3.Object.Key, err))
			continue
		}
		if strings.HasPrefix(key, ReportPrefix) {
			continue
		}
		// The first invocation reads the object as it is; its continuations pin the ETag
		// it read, so a file replaced half way is not imported as a mix of two.
		errs = append(errs, r.run(ctx, Continuation{Bucket: rec.S3.Bucket.Name, Key: key}))
	}
	return errors.Join(errs...)
}

// run imports one object from SkipThroughLine until the end or the deadline.
func (r *Remote) run(ctx context.Context, c Continuation) error {
	id := ImportID(c.Key)
	now := r.Clock.Now().UTC()
	st, err := r.Statuses.ImportStatus(ctx, id)
	switch {
	case errors.Is(err, authz.ErrNotFound):
		st = authz.ImportStatus{ID: id, StartedAt: now, Counts: map[string]int{}}
	case err != nil:
		return err
	case st.State != StateRunning && c.SkipThroughLine == 0 && st.DoneThroughLine > 0:
		// A new upload under a finished import's key: a new import.
		st = authz.ImportStatus{ID: id, StartedAt: now, Counts: map[string]int{}}
	}
	if c.SkipThroughLine < st.DoneThroughLine && st.State == StateRunning {
		c.SkipThroughLine = st.DoneThroughLine // a redelivered message: do not redo
	}
	st.Bucket, st.Key, st.State, st.UpdatedAt = c.Bucket, c.Key, StateRunning, now
	st.Invocations++
	body, etag, meta, err := r.Objects.Open(ctx, c.Bucket, c.Key, c.ETag)
	if errors.Is(err, ErrNoObject) {
		r.Log.InfoContext(ctx, "import: object gone (already imported or deleted)", "bucket", c.Bucket, "key", c.Key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("open s3://%s/%s: %w", c.Bucket, c.Key, err)
	}
	defer body.Close()
	if err := r.Statuses.PutImportStatus(ctx, st); err != nil {
		return err
	}

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		runCtx, cancel = context.WithDeadline(ctx, dl.Add(-r.Margin))
	}
	defer cancel()
	cfg := r.Config
	cfg.Source = "s3://" + c.Bucket + "/" + c.Key
	cfg.SkipThroughLine, cfg.SkipLines = c.SkipThroughLine, c.SkipLines
	if n, err := strconv.Atoi(meta[MetaUnknownExpiry]); err == nil && n >= 1 && n <= 365 {
		cfg.UnknownExpiry = time.Duration(n) * 24 * time.Hour
	}
	if n, err := strconv.Atoi(meta[MetaConfirmPerDay]); err == nil && n >= 0 {
		cfg.ConfirmPerDay = n
	}
	im := r.New(cfg)
	im.d.Progress = func(p Progress) {
		if p.Done {
			return
		}
		cur := st
		cur.UpdatedAt = r.Clock.Now().UTC()
		cur.Rows, cur.LWACalls, cur.Counts = st.Rows+p.Rows, st.LWACalls+p.LWACalls, addCounts(st.Counts, outcomeCounts(p.Counts))
		cur.DoneThroughLine = max(st.DoneThroughLine, p.DoneThroughLine)
		if err := r.Statuses.PutImportStatus(ctx, cur); err != nil {
			r.Log.WarnContext(ctx, "import: progress not written", "importId", id, "error", err.Error())
		}
	}
	if im.d.ProgressEvery < 2*time.Second {
		im.d.ProgressEvery = 2 * time.Second
	}
	rep, runErr := im.Run(runCtx, body)
	st.UpdatedAt = r.Clock.Now().UTC()
	if rep != nil {
		st.Rows += rep.Rows
		st.LWACalls += rep.LWACalls
		st.Counts = addCounts(st.Counts, outcomeCounts(rep.Counts))
		st.DoneThroughLine = max(st.DoneThroughLine, rep.DoneThroughLine)
		if err := mergeReport(&st, rep); err != nil {
			return err
		}
	}
	if rep != nil && rep.Interrupted && ctx.Err() == nil && runErr == nil {
		// Our own deadline, not Lambda's: hand the rest to the next invocation.
		next := Continuation{Bucket: c.Bucket, Key: c.Key, ETag: etag, SkipThroughLine: st.DoneThroughLine, SkipLines: rep.DoneAfter}
		b, _ := json.Marshal(next)
		if _, err := r.Queue.Send(ctx, []string{string(b)}); err != nil {
			return fmt.Errorf("queue the continuation of %s: %w", id, err)
		}
		r.Log.InfoContext(ctx, "import: continues in the next invocation", "importId", id, "doneThroughLine", st.DoneThroughLine)
		return r.Statuses.PutImportStatus(ctx, st)
	}
	if ctx.Err() != nil {
		// Lambda's own deadline or a shutdown: the queue delivers the message again.
		_ = r.Statuses.PutImportStatus(context.WithoutCancel(ctx), st)
		return ctx.Err()
	}
	st.State = StateDone
	if runErr != nil {
		st.State, st.Error = StateFailed, clip(runErr.Error(), 500)
	}
	st.ReportKey = ReportPrefix + c.Key + ".report.json"
	if err := r.Objects.PutReport(ctx, c.Bucket, st.ReportKey, []byte(st.Report)); err != nil {
		return fmt.Errorf("write the report of %s: %w", id, err)
	}
	if err := r.Statuses.PutImportStatus(ctx, st); err != nil {
		return err
	}
	// The file holds refresh tokens: it goes as soon as the import has ended.
	if err := r.Objects.Delete(ctx, c.Bucket, c.Key); err != nil {
		return fmt.Errorf("delete s3://%s/%s after the import: %w", c.Bucket, c.Key, err)
	}
	r.Log.InfoContext(ctx, "import: finished", "importId", id, "state", st.State, "rows", st.Rows, "lwaCalls", st.LWACalls)
	return nil
}

func addCounts(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

func outcomeCounts(c map[Outcome]int) map[string]int {
	out := map[string]int{}
	for k, v := range c {
		out[string(k)] = v
	}
	return out
}

// maxStoredRejections bounds the rejections kept in the status item (DynamoDB items
// are at most 400 KB); the counts stay exact.
const maxStoredRejections = 1000

// mergeReport adds this invocation's rejections to the import's report.
func mergeReport(st *authz.ImportStatus, rep *Report) error {
	var whole Report
	if st.Report != "" {
		if err := json.Unmarshal([]byte(st.Report), &whole); err != nil {
			return fmt.Errorf("import %s: stored report: %w", st.ID, err)
		}
	} else {
		whole = Report{Source: rep.Source, Format: rep.Format, DryRun: rep.DryRun, StartedAt: st.StartedAt}
	}
	whole.FinishedAt, whole.Stopped, whole.Interrupted = rep.FinishedAt, rep.Stopped, false
	whole.Rows, whole.LWACalls, whole.DoneThroughLine = st.Rows, st.LWACalls, st.DoneThroughLine
	whole.Counts = map[Outcome]int{}
	for k, v := range st.Counts {
		whole.Counts[Outcome(k)] = v
	}
	for _, list := range []struct {
		dst *[]Rejection
		src []Rejection
	}{{&whole.Rejected, rep.Rejected}, {&whole.Failed, rep.Failed}} {
		for _, rj := range list.src {
			if len(whole.Rejected)+len(whole.Failed) >= maxStoredRejections {
				whole.Omitted++
				continue
			}
			*list.dst = append(*list.dst, rj)
		}
	}
	whole.Omitted += rep.Omitted
	b, err := json.Marshal(whole)
	if err != nil {
		return err
	}
	st.Report = string(b)
	return nil
}
