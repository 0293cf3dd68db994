package rotation_test

import (
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// TestTemplateAlarmsOnTheReasonsThatNeedAPerson keeps template.yaml's rotation alarm
// summing exactly AlarmReasons, and the notifications queue open to Amazon's
// notification service, encrypted, with its dead-letter queue.
func TestTemplateAlarmsOnTheReasonsThatNeedAPerson(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	must(t, err)
	alarm := tpl.Resources["ClientSecretRotationFailedAlarm"]
	if alarm == nil {
		t.Fatal("template.yaml has no ClientSecretRotationFailedAlarm")
	}
	var reasons []string
	for _, m := range samtemplate.Get(alarm, "Properties", "Metrics").Content {
		metric := samtemplate.Get(m, "MetricStat", "Metric")
		if metric == nil {
			continue
		}
		if v := samtemplate.Get(metric, "MetricName"); v == nil || v.Value != rotation.MetricFailed {
			t.Fatalf("the alarm watches %v", v)
		}
		for _, d := range samtemplate.Get(metric, "Dimensions").Content {
			reasons = append(reasons, samtemplate.Get(d, "Value").Value)
		}
	}
	want := slices.Clone(rotation.AlarmReasons)
	slices.Sort(want)
	slices.Sort(reasons)
	if !slices.Equal(reasons, want) {
		t.Fatalf("the alarm sums %v, rotation.AlarmReasons is %v", reasons, want)
	}

	const amazon = "arn:aws:iam::437568002678:root"
	policy := samtemplate.Get(tpl.Resources["ClientSecretNotificationsQueuePolicy"], "Properties", "PolicyDocument", "Statement")
	if policy == nil || len(policy.Content) != 1 {
		t.Fatal("no queue policy for Amazon's notification service")
	}
	st := policy.Content[0]
	if samtemplate.Get(st, "Principal", "AWS").Value != amazon || !equalValues(samtemplate.Get(st, "Action"), "sqs:SendMessage", "sqs:GetQueueAttributes") {
		t.Fatalf("queue policy statement %v", st)
	}
	queue := samtemplate.Get(tpl.Resources["ClientSecretNotificationsQueue"], "Properties")
	if samtemplate.Get(queue, "KmsMasterKeyId") == nil || samtemplate.Get(queue, "RedrivePolicy", "deadLetterTargetArn") == nil {
		t.Fatal("the notifications queue must be KMS-encrypted and have a dead-letter queue")
	}
	fn := tpl.Functions["CredentialsFunction"]
	if fn == nil || fn.EventTypes["Notifications"] != "SQS" || fn.EventTypes["Daily"] != "Schedule" {
		t.Fatalf("CredentialsFunction events %v", fn)
	}
	if frt := samtemplate.Get(fn.Node, "Properties", "Events", "Notifications", "Properties", "FunctionResponseTypes"); !equalValues(frt, "ReportBatchItemFailures") {
		t.Fatal("the notifications event source must report batch item failures")
	}
}

func equalValues(n *yaml.Node, want ...string) bool {
	if n == nil || len(n.Content) != len(want) {
		return false
	}
	for i, c := range n.Content {
		if c.Value != want[i] {
			return false
		}
	}
	return true
}
