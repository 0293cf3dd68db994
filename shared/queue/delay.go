package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// VisibilityAPI is the part of the SQS client the delayer uses.
type VisibilityAPI interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Delayer holds received messages of one queue back from their next receive.
type Delayer struct {
	api VisibilityAPI
	url string
}

// NewDelayer returns a delayer for the queue at url.
func NewDelayer(api VisibilityAPI, url string) *Delayer { return &Delayer{api: api, url: url} }

// Delay sets the visibility timeout of the message received with receiptHandle to d,
// in whole seconds: SQS delivers it again no sooner than d from now. SQS refuses more
// than 12 hours from the message's first receive.
func (q *Delayer) Delay(ctx context.Context, receiptHandle string, d time.Duration) error {
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.url),
		ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(d / time.Second)})
	if err != nil {
		return fmt.Errorf("delay message by %s: %w", d, err)
	}
	return nil
}
