package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
)

// SQS returns the production SQS client pointed at the SQS emulator (fauxqs).
func SQS(t testing.TB) *sqs.Client {
	t.Helper()
	url := endpoint(t, emulators.EnvSQS)
	return sqs.NewFromConfig(Config(), func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = fastRetryer()
	})
}

// NewQueue creates a standard queue whose name is unique to this test and ends in name,
// and deletes it when the test ends. It returns the queue URL.
func NewQueue(t testing.TB, name string) string {
	t.Helper()
	return createQueue(t, SQS(t), resourceName(t, name, 80), nil)
}

// NewQueueWithDLQ creates a queue and its dead-letter queue, as template.yaml pairs
// them: after maxReceive receives without a delete, SQS moves a message to the DLQ on
// the next receive. It returns both URLs.
func NewQueueWithDLQ(t testing.TB, name string, maxReceive int) (url, dlqURL string) {
	t.Helper()
	client := SQS(t)
	// SQS queue names: 1 to 80 of letters, digits, '-' and '_'.
	qName := resourceName(t, name, 76)
	dlqURL = createQueue(t, client, qName+"-dlq", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlqURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("testenv: dead-letter queue arn: %v", err)
	}
	policy, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": out.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     maxReceive,
	})
	if err != nil {
		t.Fatal(err)
	}
	url = createQueue(t, client, qName, map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)})
	return url, dlqURL
}

func createQueue(t testing.TB, client *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("testenv: create queue %s: %v", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
		var gone *types.QueueDoesNotExist
		if err != nil && !errors.As(err, &gone) {
			t.Errorf("testenv: delete queue %s: %v", name, err)
		}
	})
	return url
}
