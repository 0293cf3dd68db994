package awsclients_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// lambdaEnv is what Lambda (or `sam local invoke`, or the local stack) sets.
var lambdaEnv = map[string]string{
	"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-example", "AWS_SESSION_TOKEN": "session-example",
}

// The variables FromEnv reads; each case starts with all of them unset but its own,
// and with no shared config or credentials file to fall back on.
var allVars = []string{"AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SESV2", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range allVars {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	if _, ok := env["AWS_CONFIG_FILE"]; !ok {
		t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	}
}

func with(extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range lambdaEnv {
		m[k] = v
	}
	for k, v := range extra {
		if v == "-" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// TestFromEnvReadsWhatLambdaSets: region, the role's credentials and the SDK's own
// endpoint variables, through config.LoadDefaultConfig (not parallel: t.Setenv).
func TestFromEnvReadsWhatLambdaSets(t *testing.T) {
	tests := []struct {
		name                      string
		env                       map[string]string
		wantErr                   string
		wantRegion                string
		wantDynamoDB, wantSecrets string // resolved base endpoints; "" = AWS's own
		wantSES                   string
	}{
		{name: "Lambda", env: lambdaEnv, wantRegion: "eu-west-1"},
		{name: "AWS_DEFAULT_REGION when AWS_REGION is unset", env: with(map[string]string{"AWS_REGION": "-", "AWS_DEFAULT_REGION": "us-west-2"}), wantRegion: "us-west-2"},
		{name: "per-service endpoints", env: with(map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9000"}),
			wantRegion: "eu-west-1", wantDynamoDB: "http://127.0.0.1:8000", wantSecrets: "http://127.0.0.1:9000"},
		{name: "a global endpoint, a service's own wins", env: with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SESV2": "http://127.0.0.1:8005"}),
			wantRegion: "eu-west-1", wantDynamoDB: "http://127.0.0.1:4566", wantSecrets: "http://127.0.0.1:4566", wantSES: "http://127.0.0.1:8005"},
		{name: "configured endpoints ignored", env: with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}),
			wantRegion: "eu-west-1"},
		{name: "no region", env: with(map[string]string{"AWS_REGION": "-"}), wantErr: "AWS_REGION is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			cfg, err := awsclients.FromEnv(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tc.wantRegion {
				t.Errorf("region = %q, want %q", cfg.Region, tc.wantRegion)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != tc.env["AWS_ACCESS_KEY_ID"] || creds.SecretAccessKey != tc.env["AWS_SECRET_ACCESS_KEY"] || creds.SessionToken != tc.env["AWS_SESSION_TOKEN"] {
				t.Errorf("credentials = %q/%q/%q, want the environment's", creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
			}
			got := map[string]*string{
				"DynamoDB":        dynamodb.NewFromConfig(cfg).Options().BaseEndpoint,
				"Secrets Manager": secretsmanager.NewFromConfig(cfg).Options().BaseEndpoint,
				"SESv2":           sesv2.NewFromConfig(cfg).Options().BaseEndpoint,
			}
			for svc, want := range map[string]string{"DynamoDB": tc.wantDynamoDB, "Secrets Manager": tc.wantSecrets, "SESv2": tc.wantSES} {
				if aws.ToString(got[svc]) != want {
					t.Errorf("%s endpoint = %q, want %q", svc, aws.ToString(got[svc]), want)
				}
			}
		})
	}
}

// TestLoadTalksToTheEmulators: the clients a function's main builds reach the
// emulators through AWS_ENDPOINT_URL_DYNAMODB alone, as in a local run.
func TestLoadTalksToTheEmulators(t *testing.T) {
	endpoint := aws.ToString(testenv.DynamoDB(t).Options().BaseEndpoint)
	table := testenv.NewTable(t)
	setEnv(t, with(map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": endpoint}))
	c, err := awsclients.Load(context.Background(), awsclients.DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets != nil {
		t.Error("Secrets Manager client built though not asked for")
	}
	out, err := c.DynamoDB.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("describe %s through AWS_ENDPOINT_URL_DYNAMODB: %v", table, err)
	}
	if aws.ToString(out.Table.TableName) != table {
		t.Errorf("table = %q, want %q", aws.ToString(out.Table.TableName), table)
	}
}
