package rotation_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// TestNotificationsForAnotherApplicationAreIgnored: a queue registered for several
// applications brings this deployment the others' notifications too. They are
// dropped (not retried, not in the DLQ) before anything is read or written, counted
// under a metric no alarm watches, and logged without their secret.
func TestNotificationsForAnotherApplicationAreIgnored(t *testing.T) {
	t.Parallel()
	const (
		otherApp    = "amzn1.sp.solution.someone-elses-app"
		otherSecret = "amzn1.oa2-cs.v1.another-applications-new-secret"
	)
	tests := []struct {
		name string
		body func(e *env) string
	}{
		// Even with this deployment's client id: the application id decides first.
		{"a new secret", func(e *env) string {
			return newSecretBody(clientID, otherSecret, e.Clock.Now().Add(180*day), e.Clock.Now().Add(7*day), "n-other-app")
		}},
		{"an expiry notice", func(e *env) string {
			return expiryBody("amzn1.application-oa2-client.someone-else", e.Clock.Now().Add(3*day))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 20*day)
			before := e.stored()
			writes, reads := e.secretWrites(), e.Secrets.Calls("GetSecretValue")
			e.send(strings.Replace(tc.body(e), `"applicationId":"`+appID+`"`, `"applicationId":"`+otherApp+`"`, 1))
			if failures := e.deliver(); failures != 0 || e.depth(e.dlqURL) != 0 || e.depth(e.queueURL) != 0 {
				t.Fatalf("failures %d, DLQ depth %d, queue depth %d: an ignored notification is deleted", failures, e.depth(e.dlqURL), e.depth(e.queueURL))
			}
			if got := e.metricCount(rotation.MetricIgnored, rotation.ReasonOtherApplication); got != 1 {
				t.Fatalf("%s{Reason=%s} = %v\n%s", rotation.MetricIgnored, rotation.ReasonOtherApplication, got, e.Metrics.String())
			}
			if strings.Contains(e.Metrics.String(), rotation.MetricFailed) {
				t.Fatalf("an ignored notification counted as a failure:\n%s", e.Metrics.String())
			}
			if e.secretWrites() != writes || e.Secrets.Calls("GetSecretValue") != reads || e.stored().ClientSecret != before.ClientSecret {
				t.Fatal("the lwa-client secret was read or written for another application's notification")
			}
			if e.Sim.RotationRequests() != 0 || len(e.history()) != 0 {
				t.Fatalf("rotation requests %d, history %v", e.Sim.RotationRequests(), e.history())
			}
			logs := e.Logs.String()
			if !strings.Contains(logs, rotation.ReasonOtherApplication) || strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, `"level":"WARN"`) {
				t.Fatalf("want one info line naming the reason:\n%s", logs)
			}
			e.wantNoSecretsLogged(otherSecret)
		})
	}
}

// TestNotificationOfThisApplicationIsApplied: the same notification with this
// deployment's application id is applied, so the check above is not dropping all.
func TestNotificationOfThisApplicationIsApplied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20*day)
	e.send(expiryBody(clientID, e.stored().ClientSecretExpiresAt))
	if e.deliver() != 0 || e.Sim.RotationRequests() != 1 || e.metricCount(rotation.MetricIgnored, rotation.ReasonOtherApplication) != 0 {
		t.Fatalf("rotation requests %d\n%s", e.Sim.RotationRequests(), e.Metrics.String())
	}
}

// TestMalformedNotificationWaitsInTheDLQ: a body that does not parse is reported as a
// batch item failure on every receive, so SQS moves it to the dead-letter queue (it
// may hold a secret a person needs) instead of Lambda deleting it.
func TestMalformedNotificationWaitsInTheDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 60*day)
	body := `{"notificationType":"APPLICATION_OAUTH_CLIENT_NEW_SECRET","payload":{"applicationOAuthClientNewSecret":[`
	e.send(body)
	resp, ok := e.deliverOnce()
	if !ok || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("first delivery: %+v", resp)
	}
	e.deliver()
	dlq := e.peek(e.dlqURL)
	if len(dlq) != 1 || dlq[0] != body || e.depth(e.queueURL) != 0 {
		t.Fatalf("DLQ %q, queue depth %d", dlq, e.depth(e.queueURL))
	}
	if got := e.metricCount(rotation.MetricFailed, rotation.ReasonMalformed); got != maxReceive {
		t.Fatalf("%s{Reason=malformed} = %v, want one per receive", rotation.MetricFailed, got)
	}
}

// TestTemplateNeverAlarmsOnIgnoredNotifications: no alarm of template.yaml watches
// MetricIgnored, and its reason is not one of AlarmReasons; the credentials function
// gets APP_ID.
func TestTemplateNeverAlarmsOnIgnoredNotifications(t *testing.T) {
	t.Parallel()
	if slices.Contains(rotation.AlarmReasons, rotation.ReasonOtherApplication) {
		t.Fatal("other_application is an alarm reason")
	}
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	must(t, err)
	for id, res := range tpl.Resources {
		if typ := samtemplate.Get(res, "Type"); typ == nil || typ.Value != "AWS::CloudWatch::Alarm" {
			continue
		}
		if mentions(res, rotation.MetricIgnored) || mentions(res, rotation.ReasonOtherApplication) {
			t.Errorf("alarm %s watches %s", id, rotation.MetricIgnored)
		}
	}
	fn := tpl.Functions["CredentialsFunction"]
	if fn == nil || fn.Env["APP_ID"].Intrinsic != "!Ref" || fn.Env["APP_ID"].Node.Value != "AppId" {
		t.Fatalf("CredentialsFunction's APP_ID is %+v, want !Ref AppId", fn.Env["APP_ID"])
	}
}

// mentions says whether any scalar under n contains s.
func mentions(n *yaml.Node, s string) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, s) {
		return true
	}
	for _, c := range n.Content {
		if mentions(c, s) {
			return true
		}
	}
	return false
}
