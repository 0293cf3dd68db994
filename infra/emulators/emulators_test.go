package emulators_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
)

var (
	setOnce sync.Once
	set     *emulators.Set
	setErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if set != nil {
		if err := set.Stop(); err != nil {
			os.Stderr.WriteString("stop emulators: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// running starts the whole set once for the tests that talk to the emulators.
func running(t *testing.T) *emulators.Set {
	t.Helper()
	setOnce.Do(func() {
		set, setErr = emulators.Start(context.Background(), emulators.Options{DynamoDB: true, SES: true, SQS: true})
	})
	if setErr != nil {
		t.Fatalf("start emulators: %v", setErr)
	}
	return set
}

var cfg = aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}

func TestEndpointsAreLoopbackURLsThatAnswer(t *testing.T) {
	t.Parallel()
	eps := running(t).Endpoints()
	for _, name := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		u, err := url.Parse(eps[name])
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
			t.Errorf("%s = %q, want http://127.0.0.1:PORT", name, eps[name])
		}
	}
	if len(eps) != 3 {
		t.Errorf("Endpoints() has %d entries, want 3: %v", len(eps), eps)
	}
	// Endpoints returns a copy: a caller cannot change the set's view.
	eps[emulators.EnvSQS] = "changed"
	if running(t).Endpoints()[emulators.EnvSQS] == "changed" {
		t.Error("Endpoints() exposes the set's own map")
	}
}

func TestDynamoDBLocalAnswersTheSDK(t *testing.T) {
	t.Parallel()
	c := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(running(t).Endpoints()[emulators.EnvDynamoDB])
	})
	if _, err := c.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
}

func TestSESv2LocalStoresSentMail(t *testing.T) {
	t.Parallel()
	base := running(t).Endpoints()[emulators.EnvSES]
	c := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(base) })
	to := "seller-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com"
	out, err := c.SendEmail(t.Context(), &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("keeper@example.com"),
		Destination:      &sestypes.Destination{ToAddresses: []string{to}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Renew your authorization")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("plain")}, Html: &sestypes.Content{Data: aws.String("<p>html</p>")}},
		}},
	})
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	resp, err := http.Get(base + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var store struct {
		Emails []struct {
			MessageID   string `json:"messageId"`
			Subject     string `json:"subject"`
			Destination struct {
				To []string `json:"to"`
			} `json:"destination"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		t.Fatalf("decode /store: %v", err)
	}
	for _, e := range store.Emails {
		if len(e.Destination.To) == 1 && e.Destination.To[0] == to {
			if e.MessageID != aws.ToString(out.MessageId) || e.Subject != "Renew your authorization" {
				t.Errorf("stored %+v, want message id %s and the subject sent", e, aws.ToString(out.MessageId))
			}
			return
		}
	}
	t.Fatalf("no email to %s in /store", to)
}

// TestSQSEmulatorSpeaksTheSDKProtocol is why fauxqs was chosen: every call the
// project's queue code makes, through aws-sdk-go-v2's SQS client (AWS JSON protocol),
// with the semantics the consumers rely on (receive counts, visibility, redrive).
func TestSQSEmulatorSpeaksTheSDKProtocol(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(running(t).Endpoints()[emulators.EnvSQS]) })
	name := "proto" + strconv.FormatInt(time.Now().UnixNano(), 36)

	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("CreateQueue dlq: %v", err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes QueueArn: %v", err)
	}
	dlqArn := attrs.Attributes[string(types.QueueAttributeNameQueueArn)]
	if !strings.HasSuffix(dlqArn, ":"+name+"-dlq") {
		t.Fatalf("dlq arn = %q", dlqArn)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"RedrivePolicy":     `{"maxReceiveCount":"2","deadLetterTargetArn":"` + dlqArn + `"}`,
		"VisibilityTimeout": "30",
	}})
	if err != nil {
		t.Fatalf("CreateQueue with RedrivePolicy: %v", err)
	}
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil || aws.ToString(got.QueueUrl) != aws.ToString(q.QueueUrl) {
		t.Fatalf("GetQueueUrl = %v, %v; want %s", aws.ToString(got.QueueUrl), err, aws.ToString(q.QueueUrl))
	}

	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(`{"n":0}`),
		MessageAttributes: map[string]types.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("reminder")}}}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	batch, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String(`{"n":1}`)},
		{Id: aws.String("b"), MessageBody: aws.String(`{"n":2}`)},
	}})
	if err != nil || len(batch.Successful) != 2 || len(batch.Failed) != 0 {
		t.Fatalf("SendMessageBatch = %+v, %v; want 2 successful", batch, err)
	}
	if n := approxMessages(t, c, q.QueueUrl); n != 3 {
		t.Fatalf("ApproximateNumberOfMessages = %d, want 3", n)
	}

	recv, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(recv.Messages) != 3 {
		t.Fatalf("ReceiveMessage = %d messages, %v; want 3", len(recv.Messages), err)
	}
	var first types.Message
	var rest []types.DeleteMessageBatchRequestEntry
	for i, m := range recv.Messages {
		if m.Attributes["ApproximateReceiveCount"] != "1" {
			t.Errorf("message %s ApproximateReceiveCount = %q, want 1", aws.ToString(m.Body), m.Attributes["ApproximateReceiveCount"])
		}
		if aws.ToString(m.Body) == `{"n":0}` {
			first = m
			if v := m.MessageAttributes["kind"]; aws.ToString(v.StringValue) != "reminder" {
				t.Errorf("message attribute kind = %v, want reminder", aws.ToString(v.StringValue))
			}
			continue
		}
		rest = append(rest, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	// All three are in flight for 30 s: nothing to receive.
	if again := receive(t, c, q.QueueUrl, 30); len(again) != 0 {
		t.Fatalf("received %d messages inside the visibility timeout, want 0", len(again))
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: rest})
	if err != nil || len(del.Successful) != 2 {
		t.Fatalf("DeleteMessageBatch = %+v, %v; want 2 successful", del, err)
	}
	// Making the first one visible again is what a consumer does to retry it early.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: q.QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	second := receive(t, c, q.QueueUrl, 30)
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("second receive = %+v, want the first message with ApproximateReceiveCount 2", second)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: q.QueueUrl, ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	// maxReceiveCount 2: the third receive moves it to the dead-letter queue, as SQS does.
	if third := receive(t, c, q.QueueUrl, 30); len(third) != 0 {
		t.Fatalf("third receive returned %d messages, want 0 (moved to the DLQ)", len(third))
	}
	dead := receive(t, c, dlq.QueueUrl, 30)
	if len(dead) != 1 || aws.ToString(dead[0].Body) != `{"n":0}` {
		t.Fatalf("DLQ holds %+v, want the first message", dead)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: dlq.QueueUrl, ReceiptHandle: dead[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}

	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: q.QueueUrl}); err != nil {
		t.Fatalf("PurgeQueue: %v", err)
	}
	if n := approxMessages(t, c, q.QueueUrl); n != 0 {
		t.Fatalf("ApproximateNumberOfMessages after purge = %d, want 0", n)
	}
	var missing *types.QueueDoesNotExist
	if _, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name + "-nope")}); !errors.As(err, &missing) {
		t.Fatalf("GetQueueUrl of a missing queue: %v, want QueueDoesNotExist", err)
	}
}

// receive asks for up to 10 messages with their system attributes. visibility must be
// positive: the SDK leaves a zero VisibilityTimeout out of the request.
func receive(t *testing.T, c *sqs.Client, q *string, visibility int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10, VisibilityTimeout: visibility,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func approxMessages(t *testing.T, c *sqs.Client, q *string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: q,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	n, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		t.Fatalf("ApproximateNumberOfMessages: %v", err)
	}
	return n
}

func TestStopEndsTheEmulatorsItStarted(t *testing.T) {
	t.Parallel()
	s, err := emulators.Start(t.Context(), emulators.Options{SES: true, SQS: true})
	if err != nil {
		t.Fatal(err)
	}
	eps := s.Endpoints()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for name, u := range eps {
		host := strings.TrimPrefix(u, "http://")
		if conn, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections on %s after Stop", name, host)
		}
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	select {
	case err := <-s.Exited():
		t.Errorf("Exited reported %v for a stop we asked for", err)
	default:
	}
}

func TestStartSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	empty := t.TempDir() // an infra folder where nobody ran npm ci
	tests := []struct {
		name string
		opts emulators.Options
		want string
	}{
		{"dynamodb", emulators.Options{DynamoDB: true}, "DynamoDB Local jar not found: run `npm ci --prefix infra`"},
		{"ses", emulators.Options{SES: true}, "aws-ses-v2-local not found: run `npm ci --prefix infra`"},
		{"sqs", emulators.Options{SQS: true}, "fauxqs (the SQS emulator) not found: run `npm ci --prefix infra`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.InfraDir = empty
			s, err := emulators.Start(t.Context(), tt.opts)
			if !errors.Is(err, emulators.ErrNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v, want ErrNotFound saying %q", err, tt.want)
			}
			if s != nil {
				t.Fatal("Start returned a set with an error")
			}
		})
	}
}

func TestFindInfraDirWalksUpToTheModuleRoot(t *testing.T) {
	t.Parallel()
	wd, _ := os.Getwd()
	got, err := emulators.FindInfraDir(filepath.Join(wd, "testdata-does-not-need-to-exist"))
	if err != nil {
		t.Fatal(err)
	}
	if got != wd[:len(wd)-len("/emulators")] {
		t.Errorf("FindInfraDir = %s, want the infra folder above %s", got, wd)
	}
	if _, err := emulators.FindInfraDir(t.TempDir()); !errors.Is(err, emulators.ErrNotFound) {
		t.Errorf("FindInfraDir outside a module = %v, want ErrNotFound", err)
	}
}
