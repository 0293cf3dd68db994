// Package ddbstream reads a table's DynamoDB stream the way Lambda's event source
// mapping does and hands the records over as the Lambda event (events.DynamoDBEvent),
// so the tests and the local stack run the publisher function on what DynamoDB Local
// really streamed. It follows the shards' order; a batch whose handler reports a
// failure is retried from the failed record, up to a retry limit, after which the
// batch's description goes to an on-failure callback (the template's DLQ).
package ddbstream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler is the function the records are given to (the publisher's Handle).
type Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Reader reads one table's stream from its beginning.
type Reader struct {
	streams   *dynamodbstreams.Client
	streamARN string
	iterators map[string]*string // shard id → next iterator
	done      map[string]bool
	// MaxRetries is how often a failing record is retried before OnFailure (the
	// template's MaximumRetryAttempts).
	MaxRetries int
	// OnFailure receives the records that failed MaxRetries+1 times.
	OnFailure func(ctx context.Context, records []events.DynamoDBEventRecord, err error)
	BatchSize int32
	failures  map[string]int // sequence number → failed attempts
}

// New opens the stream of table.
func New(ctx context.Context, db *dynamodb.Client, streams *dynamodbstreams.Client, table string) (*Reader, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	if out.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("table %s has no stream", table)
	}
	return &Reader{streams: streams, streamARN: *out.Table.LatestStreamArn, iterators: map[string]*string{}, done: map[string]bool{},
		MaxRetries: 3, BatchSize: 100, failures: map[string]int{}}, nil
}

// Poll reads what the stream holds now and runs h over it, batch by batch, until
// every shard is read up to its current end. It returns the number of records handed
// to h for the first time.
func (r *Reader) Poll(ctx context.Context, h Handler) (int, error) {
	if err := r.discover(ctx); err != nil {
		return 0, err
	}
	ids := make([]string, 0, len(r.iterators))
	for id := range r.iterators {
		ids = append(ids, id)
	}
	sort.Strings(ids) // parent shards sort before their children in DynamoDB Local
	total := 0
	for _, id := range ids {
		for r.iterators[id] != nil {
			out, err := r.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: r.iterators[id], Limit: aws.Int32(r.BatchSize)})
			if err != nil {
				var expired *types.ExpiredIteratorException
				if errors.As(err, &expired) {
					delete(r.iterators, id)
					break
				}
				return total, fmt.Errorf("get records of shard %s: %w", id, err)
			}
			if len(out.Records) == 0 {
				// Caught up: keep the iterator for the next poll (nil: the shard is closed).
				if out.NextShardIterator == nil {
					r.done[id] = true
				}
				r.iterators[id] = out.NextShardIterator
				break
			}
			recs := make([]events.DynamoDBEventRecord, len(out.Records))
			for i, rec := range out.Records {
				recs[i] = toLambda(rec, r.streamARN)
			}
			total += len(recs)
			if err := r.handle(ctx, h, recs); err != nil {
				return total, err
			}
			r.iterators[id] = out.NextShardIterator
			if out.NextShardIterator == nil {
				r.done[id] = true
			}
		}
	}
	return total, nil
}

// handle runs h until the batch is done, retrying from the first reported failure.
func (r *Reader) handle(ctx context.Context, h Handler, recs []events.DynamoDBEventRecord) error {
	for len(recs) > 0 {
		resp, err := h(ctx, events.DynamoDBEvent{Records: recs})
		from := len(recs)
		if err != nil {
			from = 0
		}
		for _, f := range resp.BatchItemFailures {
			for i, rec := range recs {
				if rec.Change.SequenceNumber == f.ItemIdentifier && i < from {
					from = i
				}
			}
		}
		if from == len(recs) {
			return nil
		}
		seq := recs[from].Change.SequenceNumber
		r.failures[seq]++
		if r.failures[seq] > r.MaxRetries {
			if r.OnFailure != nil {
				r.OnFailure(ctx, recs[from:from+1], err)
			}
			from++
		}
		recs = recs[from:]
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (r *Reader) discover(ctx context.Context) error {
	var start *string
	for {
		out, err := r.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.streamARN), ExclusiveStartShardId: start})
		if err != nil {
			return fmt.Errorf("describe stream: %w", err)
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, known := r.iterators[id]; known || r.done[id] {
				continue
			}
			it, err := r.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.streamARN),
				ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				return fmt.Errorf("shard iterator of %s: %w", id, err)
			}
			r.iterators[id] = it.ShardIterator
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return nil
		}
	}
}

// Run polls every interval until ctx ends, reporting errors to onErr.
func (r *Reader) Run(ctx context.Context, every time.Duration, h Handler, onErr func(error)) {
	for ctx.Err() == nil {
		if _, err := r.Poll(ctx, h); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

func toLambda(rec types.Record, arn string) events.DynamoDBEventRecord {
	d := rec.Dynamodb
	out := events.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(rec.AwsRegion),
		EventID:        aws.ToString(rec.EventID),
		EventName:      string(rec.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   aws.ToString(rec.EventVersion),
		EventSourceArn: arn,
	}
	if d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys:           toMap(d.Keys),
			NewImage:       toMap(d.NewImage),
			OldImage:       toMap(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

func toMap(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = toAttr(v)
	}
	return out
}

func toAttr(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = toAttr(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(toMap(v.Value))
	}
	return events.NewNullAttribute()
}
