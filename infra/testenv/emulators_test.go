package testenv_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestTablesArePerTestAndDeletedAfterward(t *testing.T) {
	t.Parallel()
	db := testenv.DynamoDB(t)
	var first, second string
	t.Run("owner", func(t *testing.T) {
		first, second = testenv.NewTable(t), testenv.NewTable(t)
		if first == second {
			t.Fatalf("two NewTable calls gave one name %q", first)
		}
		if !strings.Contains(first, "owner") {
			t.Errorf("table %q does not say which test made it", first)
		}
		if _, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(first)}); err != nil {
			t.Fatalf("DescribeTable: %v", err)
		}
	})
	for _, name := range []string{first, second} {
		_, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		var gone *ddbtypes.ResourceNotFoundException
		if !errors.As(err, &gone) {
			t.Errorf("table %s after its test ended: %v, want ResourceNotFoundException", name, err)
		}
	}
	if os.Getenv(emulators.EnvDynamoDB) == "" {
		t.Errorf("%s not set for code that builds its clients from the environment", emulators.EnvDynamoDB)
	}
}

func TestQueueWithDLQRedrivesAfterMaxReceive(t *testing.T) {
	t.Parallel()
	c := testenv.SQS(t)
	ctx := t.Context()
	var url, dlq string
	t.Run("owner", func(t *testing.T) {
		url, dlq = testenv.NewQueueWithDLQ(t, "reminders", 1)
		if !strings.HasSuffix(url, "-reminders") || !strings.HasSuffix(dlq, "-reminders-dlq") {
			t.Errorf("queue %s, DLQ %s; want names ending in the name asked for", url, dlq)
		}
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("job")}); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 30})
		if err != nil || len(got.Messages) != 1 {
			t.Fatalf("first receive = %v, %v", got, err)
		}
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
		again, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 30})
		if err != nil || len(again.Messages) != 0 {
			t.Fatalf("second receive = %d messages, %v; want 0 (maxReceive 1 reached)", len(again.Messages), err)
		}
		dead, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), VisibilityTimeout: 30})
		if err != nil || len(dead.Messages) != 1 || aws.ToString(dead.Messages[0].Body) != "job" {
			t.Fatalf("DLQ receive = %v, %v; want the job", dead, err)
		}
		plain := testenv.NewQueue(t, "plain")
		if plain == url {
			t.Error("NewQueue reused a queue")
		}
	})
	for _, u := range []string{url, dlq} {
		_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u)})
		var gone *sqstypes.QueueDoesNotExist
		if !errors.As(err, &gone) {
			t.Errorf("queue %s after its test ended: %v, want QueueDoesNotExist", u, err)
		}
	}
}

func TestSESStoreFiltersByRecipient(t *testing.T) {
	t.Parallel()
	c, mail := testenv.SESv2(t)
	a, b := testenv.NewRecipient(t), testenv.NewRecipient(t)
	send := func(to, subject string) string {
		t.Helper()
		out, err := c.SendEmail(context.Background(), &sesv2.SendEmailInput{
			FromEmailAddress: aws.String("Keeper <keeper@example.com>"),
			Destination:      &sestypes.Destination{ToAddresses: []string{to}},
			Content: &sestypes.EmailContent{Simple: &sestypes.Message{
				Subject: &sestypes.Content{Data: aws.String(subject)},
				Body:    &sestypes.Body{Html: &sestypes.Content{Data: aws.String("<p>" + subject + "</p>")}, Text: &sestypes.Content{Data: aws.String(subject)}},
			}},
		})
		if err != nil {
			t.Fatalf("SendEmail: %v", err)
		}
		return aws.ToString(out.MessageId)
	}
	id1 := send(a, "first")
	send("Seller B <"+strings.ToUpper(b)+">", "for b")
	id2 := send(a, "second")

	got := mail.SentTo(t, a)
	if len(got) != 2 {
		t.Fatalf("SentTo(a) = %d emails, want 2: %+v", len(got), got)
	}
	for i, want := range []struct{ id, subject string }{{id1, "first"}, {id2, "second"}} {
		e := got[i]
		if e.MessageID != want.id || e.Subject != want.subject || e.HTML != "<p>"+want.subject+"</p>" || e.Text != want.subject ||
			!strings.Contains(e.From, "keeper@example.com") || e.At.IsZero() {
			t.Errorf("email %d = %+v, want message id %s, subject/html/text %q, from keeper@", i, e, want.id, want.subject)
		}
	}
	if got := mail.SentTo(t, b); len(got) != 1 || got[0].Subject != "for b" {
		t.Errorf("SentTo(b) = %+v, want the one email, matched without display name or case", got)
	}
	if got := mail.SentTo(t, testenv.NewRecipient(t)); len(got) != 0 {
		t.Errorf("SentTo(nobody) = %+v, want none", got)
	}
}
