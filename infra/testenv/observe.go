package testenv

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// MetricSum adds up the values of one metric in emf, the EMF lines a function wrote,
// for one Reason dimension ("" for lines without one). Every line must be an EMF
// document in the project's namespace, so a malformed metric fails the test.
func MetricSum(t testing.TB, emf, name, reason string) float64 {
	t.Helper()
	total := 0.0
	for _, line := range strings.Split(emf, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		meta, ok := doc["_aws"].(map[string]any)
		if !ok {
			t.Fatalf("metric line without _aws: %s", line)
		}
		directives, _ := meta["CloudWatchMetrics"].([]any)
		if len(directives) == 0 {
			t.Fatalf("metric line without CloudWatchMetrics: %s", line)
		}
		if d, _ := directives[0].(map[string]any); d["Namespace"] != metrics.Namespace {
			t.Fatalf("metric line in namespace %v: %s", d["Namespace"], line)
		}
		v, ok := doc[name].(float64)
		if !ok {
			continue
		}
		if got, _ := doc["Reason"].(string); got != reason {
			continue
		}
		total += v
	}
	return total
}

// QueueDepth is how many messages the queue at url holds, visible or in flight.
func QueueDepth(t testing.TB, client *sqs.Client, url string) int {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatalf("depth of %s: %v", url, err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}
