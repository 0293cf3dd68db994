package localstack_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
)

func loadTemplate(t *testing.T) *localstack.Template {
	t.Helper()
	root, err := localstack.FindRoot(".")
	must(t, err)
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	must(t, err)
	return tmpl
}

// TestTemplateAsTheStackRunsIt reads the project's template.yaml: the event sources,
// queues and timeouts the local stack plays must be the ones AWS would.
func TestTemplateAsTheStackRunsIt(t *testing.T) {
	t.Parallel()
	tmpl := loadTemplate(t)
	cb := tmpl.Functions["CallbackFunction"]
	if cb == nil || len(cb.Routes) != 3 || cb.Routes[0] != (localstack.Route{Method: "GET", Path: "/authorize"}) || cb.Timeout != 29*time.Second {
		t.Errorf("CallbackFunction: %+v", cb)
	}
	rem := tmpl.Functions["ReminderFunction"]
	if rem == nil || len(rem.Queues) != 1 || rem.Queues[0] != (localstack.SQSSource{Queue: "ReminderQueue", BatchSize: 10, ReportFailures: true}) {
		t.Errorf("ReminderFunction event sources: %+v", rem)
	}
	tr := tmpl.Functions["TokenRefreshFunction"]
	if tr == nil || len(tr.Schedules) != 1 || len(tr.Queues) != 1 || tr.Queues[0].Queue != "RefreshQueue" || tr.Memory != 512 {
		t.Errorf("TokenRefreshFunction: %+v", tr)
	}
	if q := tmpl.Queues["ReminderQueue"]; q == nil || q.DeadLetter != "ReminderDLQ" || q.MaxReceiveCount != 8 || q.VisibilityTimeout != 720 {
		t.Errorf("ReminderQueue: %+v", q)
	}
	for id, fn := range tmpl.Functions {
		if _, err := os.Stat(filepath.Join("..", "..", "functions", fn.Dir, "main.go")); err != nil {
			t.Errorf("%s: no main package in functions/%s", id, fn.Dir)
		}
	}
}

// TestEnvironment resolves a function's variables as AWS would, with the local values.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	tmpl := loadTemplate(t)
	full := localstack.Bindings{
		Params:    map[string]string{"AppId": "amzn1.sp.solution.x", "AppName": "X", "SenderEmail": "s@x.example"},
		Resources: map[string]string{"Table": "tbl", "KmsKey": "", "ReminderQueue": "http://q/rem", "RefreshQueue": "http://q/ref"},
		Overrides: map[string]string{"BASE_URL": "http://front", "REDIRECT_URI": "http://front/callback", "LWA_ENDPOINT": "http://sim/auth/o2/token",
			"SES_CONFIGURATION_SET": "keeper-local-reminders"}, // template.yaml picks the vendor's set or its own with !If
	}
	tests := []struct {
		name string
		fn   string
		b    localstack.Bindings
		want map[string]string
		err  string
	}{
		{"globals and the function's own", "ReminderFunction", full, map[string]string{
			"TABLE_NAME": "tbl", "SECRET_PREFIX": "spapi-keeper", "APP_ID": "amzn1.sp.solution.x", "BASE_URL": "http://front",
			"SENDER_EMAIL": "s@x.example", "SES_MAX_PER_SECOND": "1", "REMINDER_STAGES": "-30,-23,-16,-9,-3,-1,0,7,14,28",
		}, ""},
		{"overrides added", "CallbackFunction", full, map[string]string{"LWA_ENDPOINT": "http://sim/auth/o2/token", "KMS_KEY_ID": ""}, ""},
		{"queue references", "TokenRefreshFunction", full, map[string]string{"REFRESH_QUEUE_URL": "http://q/ref", "REMINDER_QUEUE_URL": "http://q/rem", "REFRESH_INTERVAL": "24h"}, ""},
		{"a parameter without default", "CallbackFunction", localstack.Bindings{Resources: full.Resources, Overrides: full.Overrides}, nil, "APP_ID: !Ref AppId"},
		{"an !If without override", "CallbackFunction", localstack.Bindings{Params: full.Params, Resources: full.Resources}, nil, "REDIRECT_URI: !If"},
		{"an unknown function", "NoFunction", full, nil, "not in the template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, err := tmpl.Environment(tc.fn, tc.b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(tc.err, "!") && !errors.Is(err, localstack.ErrUnresolved) {
					t.Fatalf("err = %v, want ErrUnresolved", err)
				}
				return
			}
			must(t, err)
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %t), want %q", k, got, ok, v)
				}
			}
		})
	}
}

// TestEnvironmentGivesOnlyWhatTheTemplateGives is the settings contract locally: a
// function gets a setting only if its template sets it, whatever the stack overrides,
// so a setting the template forgets is missing here too (as it would be in AWS);
// only what stands in for AWS and Amazon reaches every function.
func TestEnvironmentGivesOnlyWhatTheTemplateGives(t *testing.T) {
	t.Parallel()
	tmpl := loadTemplate(t)
	b := localstack.Bindings{
		Params:    map[string]string{"AppId": "amzn1.sp.solution.x", "AppName": "X", "SenderEmail": "s@x.example", "AppNotificationsTemplateId": "tmpl-1"},
		Resources: map[string]string{"Table": "tbl", "KmsKey": "", "ReminderQueue": "http://q/rem", "RefreshQueue": "http://q/ref"},
		Overrides: map[string]string{
			"BASE_URL": "http://front", "REDIRECT_URI": "http://front/callback", "SES_CONFIGURATION_SET": "keeper-local-reminders",
			"LWA_ENDPOINT": "http://sim/auth/o2/token", "SELLER_CENTRAL_URL": "http://sim", "SP_API_ENDPOINT": "http://sim",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://ddb", "AWS_REGION": "us-east-1",
		},
	}
	standIns := []string{"LWA_ENDPOINT", "SELLER_CENTRAL_URL", "SP_API_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_REGION"}
	tests := []struct {
		fn      string
		want    map[string]string // set, with this value
		without []string          // not set at all
	}{
		// The reminder's template sets the public URL and the configuration set: the
		// stack's values replace the template's.
		{"ReminderFunction", map[string]string{"BASE_URL": "http://front", "SES_CONFIGURATION_SET": "keeper-local-reminders", "APP_NOTIFICATIONS_TEMPLATE_ID": "tmpl-1"}, nil},
		// The callback's template sets no BASE_URL and no configuration set: overriding
		// them does not give them to it.
		{"CallbackFunction", map[string]string{"REDIRECT_URI": "http://front/callback", "APP_NOTIFICATIONS_TEMPLATE_ID": "tmpl-1"}, []string{"BASE_URL", "SES_CONFIGURATION_SET"}},
		{"DeliveryFunction", nil, []string{"BASE_URL", "REDIRECT_URI", "SES_CONFIGURATION_SET", "APP_NOTIFICATIONS_TEMPLATE_ID", "REMINDER_QUEUE_URL"}},
		{"ExpiryScanFunction", map[string]string{"REMINDER_QUEUE_URL": "http://q/rem"}, []string{"BASE_URL", "REDIRECT_URI", "APP_NOTIFICATIONS_TEMPLATE_ID", "REFRESH_QUEUE_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.fn, func(t *testing.T) {
			t.Parallel()
			env, err := tmpl.Environment(tc.fn, b)
			must(t, err)
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %t), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.without {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, but the template does not give it to %s", k, v, tc.fn)
				}
			}
			for _, k := range standIns {
				if env[k] != b.Overrides[k] {
					t.Errorf("%s = %q, want the stand-in %q in every function", k, env[k], b.Overrides[k])
				}
			}
		})
	}
}

func TestStandsIn(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"AWS_ENDPOINT_URL_SQS": true, "AWS_ACCESS_KEY_ID": true, "LWA_ENDPOINT": true, "SELLER_CENTRAL_URL": true, "SP_API_ENDPOINT": true,
		"BASE_URL": false, "APP_NOTIFICATIONS_TEMPLATE_ID": false, "SES_CONFIGURATION_SET": false, "KMS_KEY_ID": false, "WEBHOOK_URL": false,
	} {
		if got := localstack.StandsIn(name); got != want {
			t.Errorf("StandsIn(%s) = %t, want %t", name, got, want)
		}
	}
}
