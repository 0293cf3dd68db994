package importer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importbucket"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// s3Event is the sample event of events/, aimed at this test's bucket and key.
func s3Event(t *testing.T, bucket, key string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../events/import-object-created.json")
	must(t, err)
	var ev events.S3Event
	must(t, json.Unmarshal(b, &ev))
	ev.Records[0].S3.Bucket.Name = bucket
	ev.Records[0].S3.Object.Key = strings.ReplaceAll(key, " ", "+")
	ev.Records[0].S3.Object.ETag = ""
	out, err := json.Marshal(ev)
	must(t, err)
	return out
}

func TestRemoteImportContinuesAcrossInvocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Sim.SetLatency(10 * time.Millisecond)
	s3c := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	sqsc := testenv.SQS(t)
	queueURL := testenv.NewQueue(t, "imports")
	const n = 30
	var b strings.Builder
	b.WriteString(header)
	for i := range n {
		fmt.Fprintf(&b, "shop-%d,eu,%s,,,,,\n", i, e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i)))
	}
	b.WriteString("broken,zz,Atzr|not-imported-anyway-0000,,,,,\n")
	key := "vendor uploads/sellers.csv"
	_, err := s3c.PutObject(e.Ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(b.String())})
	must(t, err)

	r := &importer.Remote{
		New: func(c importer.Config) *importer.Importer {
			c.MaxPerSecond, c.Concurrency = 15, 2
			return importer.New(c, importer.Deps{Ledger: e.Store, Tokens: e.Vault, Writer: e.writes, LWA: e.lwa, Accounts: e.accounts, Clock: e.Clock})
		},
		Objects: importbucket.Objects{Client: testenv.S3Objects(t)}, Statuses: e.Store, Queue: queue.NewSender(sqsc, queueURL),
		Clock: e.Clock, Log: testLogger(e), Margin: 10 * time.Second,
	}
	// Each invocation's deadline leaves it about a second of work (~15 of the 30 rows
	// on an idle machine): it must hand over through the queue until the file is done.
	invoke := func(raw json.RawMessage) {
		t.Helper()
		ctx, cancel := context.WithTimeout(e.Ctx, 10*time.Second+time.Second)
		defer cancel()
		resp, err := r.Handle(ctx, raw)
		must(t, err)
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch failures: %+v", resp.BatchItemFailures)
		}
	}
	invoke(s3Event(t, bucket, key))
	var st store.ImportStatus
	for range 40 {
		st, err = e.Store.ImportStatus(e.Ctx, key)
		must(t, err)
		if st.State != importer.StateRunning {
			break
		}
		// The continuation is on the queue; the next invocation takes it as Lambda would.
		out, err := sqsc.ReceiveMessage(e.Ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), WaitTimeSeconds: 2, MaxNumberOfMessages: 10})
		must(t, err)
		if len(out.Messages) > 1 {
			t.Fatalf("%d continuations at once", len(out.Messages))
		}
		for _, m := range out.Messages {
			if !strings.Contains(aws.ToString(m.Body), `"skipThroughLine"`) {
				t.Fatalf("continuation = %s", aws.ToString(m.Body))
			}
			raw, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"}}})
			invoke(raw)
		}
	}
	if st.State != importer.StateDone || st.Counts[string(importer.OutcomeUnknownExpiry)] != n || st.Counts[string(importer.OutcomeRejected)] != 1 ||
		st.Invocations < 2 || e.Sim.Refreshes() < n || e.Sim.Refreshes() > n+2*st.Invocations {
		// At most the two rows in flight at each deadline are sent to LWA twice.
		t.Errorf("final status %+v, LWA refreshes %d", st, e.Sim.Refreshes())
	}
	if !strings.Contains(st.Report, `"line":32`) {
		t.Errorf("report lacks the rejected line 32: %s", st.Report)
	}
	// The file with the tokens is gone; the report (no token) stays.
	if _, err := s3c.HeadObject(e.Ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		t.Error("the import object was not deleted")
	}
	rep, err := s3c.GetObject(e.Ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.ReportKey)})
	must(t, err)
	body, _ := io.ReadAll(rep.Body)
	e.noToken("report object", body)
	e.noToken("status item", []byte(fmt.Sprint(st)))
	for i := range n {
		if a := e.get(fmt.Sprintf("shop-%d", i), authz.RegionEU); a.Status != authz.StatusActive {
			t.Errorf("shop-%d = %s", i, a.Status)
		}
	}
	// A redelivery of the original notification after the end does nothing.
	calls := e.Sim.Refreshes()
	_, err = r.Handle(e.Ctx, s3Event(t, bucket, key))
	must(t, err)
	if e.Sim.Refreshes() != calls {
		t.Errorf("redelivery called LWA")
	}
}

func TestRemoteImportOfAWrongFileFailsAndDeletesIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s3c := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	key := "wrong.csv"
	_, err := s3c.PutObject(e.Ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader("id,token\nx,Atzr|something-secret-here\n")})
	must(t, err)
	r := &importer.Remote{
		New: func(c importer.Config) *importer.Importer {
			return importer.New(c, importer.Deps{Ledger: e.Store, Tokens: e.Vault, Writer: e.writes, LWA: e.lwa, Clock: e.Clock})
		},
		Objects: importbucket.Objects{Client: testenv.S3Objects(t)}, Statuses: e.Store, Queue: queue.NewSender(testenv.SQS(t), testenv.NewQueue(t, "imports")),
		Clock: e.Clock, Log: testLogger(e),
	}
	_, err = r.Handle(e.Ctx, s3Event(t, bucket, key))
	must(t, err)
	st, err := e.Store.ImportStatus(e.Ctx, key)
	must(t, err)
	if st.State != importer.StateFailed || !strings.Contains(st.Error, "header") || strings.Contains(st.Error, "something-secret") {
		t.Errorf("status = %+v", st)
	}
	if _, err := s3c.HeadObject(e.Ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		t.Error("the refused file was kept")
	}
	if _, err := e.Store.ImportStatus(e.Ctx, "never-uploaded.csv"); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("status of an unknown import: %v", err)
	}
	var _ store.ImportStatus = st
}
