package testenv

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Calls counts the AWS calls that SDK clients send, per service and operation, and
// for DynamoDB the capacity each one consumed (ReturnConsumedCapacity INDEXES, filled
// in by DynamoDB Local as AWS would): the figures cost benchmarks are computed from.
// Attach it to a client with its APIOptions, or to an aws.Config with Attach. Safe
// for concurrent use.
type Calls struct {
	mu    sync.Mutex
	calls map[string]int        // "Service.Operation"
	units map[string]float64    // "read"/"write" × "table"/index name → capacity units
	ops   map[string][2]float64 // "DynamoDB.Operation" → read, write units
}

// NewCalls returns an empty counter.
func NewCalls() *Calls {
	return &Calls{calls: map[string]int{}, units: map[string]float64{}, ops: map[string][2]float64{}}
}

// Attach adds the counter to cfg's API options, so every client built from the
// returned config counts.
func (c *Calls) Attach(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, c.Middleware)
	return cfg
}

// Middleware is the API option that counts; add it to a client's Options.APIOptions.
func (c *Calls) Middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("testenvCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			askCapacity(in.Parameters)
			out, md, err := next.HandleInitialize(ctx, in)
			c.record(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), out.Result)
			return out, md, err
		}), middleware.After)
}

func askCapacity(params any) {
	const all = types.ReturnConsumedCapacityIndexes
	switch p := params.(type) {
	case *dynamodb.PutItemInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.UpdateItemInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.DeleteItemInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.GetItemInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.QueryInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.ScanInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.BatchGetItemInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.BatchWriteItemInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.TransactWriteItemsInput:
		p.ReturnConsumedCapacity = all
	case *dynamodb.TransactGetItemsInput:
		p.ReturnConsumedCapacity = all
	}
}

func consumed(result any) []types.ConsumedCapacity {
	one := func(c *types.ConsumedCapacity) []types.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []types.ConsumedCapacity{*c}
	}
	switch r := result.(type) {
	case *dynamodb.PutItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.GetItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		return r.ConsumedCapacity
	case *dynamodb.BatchWriteItemOutput:
		return r.ConsumedCapacity
	case *dynamodb.TransactWriteItemsOutput:
		return r.ConsumedCapacity
	case *dynamodb.TransactGetItemsOutput:
		return r.ConsumedCapacity
	}
	return nil
}

func (c *Calls) record(service, op string, result any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := service + "." + op
	c.calls[key]++
	for _, cc := range consumed(result) {
		reads := strings.Contains(op, "Get") || op == "Query" || op == "Scan"
		// DynamoDB Local answers CapacityUnits alone (no read/write split): the
		// operation says which it is.
		split := func(total, r, w *float64) (float64, float64) {
			if aws.ToFloat64(r) != 0 || aws.ToFloat64(w) != 0 {
				return aws.ToFloat64(r), aws.ToFloat64(w)
			}
			if reads {
				return aws.ToFloat64(total), 0
			}
			return 0, aws.ToFloat64(total)
		}
		r, w := split(cc.CapacityUnits, cc.ReadCapacityUnits, cc.WriteCapacityUnits)
		o := c.ops[key]
		o[0] += r
		o[1] += w
		c.ops[key] = o
		if cc.Table != nil {
			r, w := split(cc.Table.CapacityUnits, cc.Table.ReadCapacityUnits, cc.Table.WriteCapacityUnits)
			c.units["read/table"] += r
			c.units["write/table"] += w
		}
		for name, idx := range cc.GlobalSecondaryIndexes {
			r, w := split(idx.CapacityUnits, idx.ReadCapacityUnits, idx.WriteCapacityUnits)
			c.units["read/"+name] += r
			c.units["write/"+name] += w
		}
	}
}

// Count is how many calls of service.op were sent ("DynamoDB.PutItem"); op "" counts
// every operation of the service.
func (c *Calls) Count(service, op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op != "" {
		return c.calls[service+"."+op]
	}
	n := 0
	for k, v := range c.calls {
		if strings.HasPrefix(k, service+".") {
			n += v
		}
	}
	return n
}

// Snapshot returns the calls per "Service.Operation" so far.
func (c *Calls) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// Units returns the DynamoDB read and write capacity units consumed so far, in all
// and by index ("table" and each GSI's name, from ConsumedCapacity's breakdown).
func (c *Calls) Units() (read, write float64, byIndex map[string][2]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.ops {
		read += o[0]
		write += o[1]
	}
	byIndex = map[string][2]float64{}
	for k, v := range c.units {
		kind, name, _ := strings.Cut(k, "/")
		b := byIndex[name]
		if kind == "read" {
			b[0] += v
		} else {
			b[1] += v
		}
		byIndex[name] = b
	}
	return read, write, byIndex
}

// OpUnits returns the read and write units of one DynamoDB operation so far.
func (c *Calls) OpUnits(op string) (read, write float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.ops["DynamoDB."+op]
	return o[0], o[1]
}

// Reset forgets everything counted.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
	c.units = map[string]float64{}
	c.ops = map[string][2]float64{}
}

// String lists the calls, one "Service.Operation n" a line, sorted.
func (c *Calls) String() string {
	snap := c.Snapshot()
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d\n", k, snap[k])
	}
	return b.String()
}
