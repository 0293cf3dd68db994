package s3object_test

import (
	"context"
	"os"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/s3object"
)

// TestEndpointFromLambdaEnvironment: the client finds its endpoint where the SDK's
// S3 client would in the configuration the functions load (awsclients.FromEnv):
// AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, and addresses an override by path
// (not parallel: t.Setenv).
func TestEndpointFromLambdaEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantURL string
	}{
		{"AWS's own", nil, "", "https://import-bucket.s3.eu-west-1.amazonaws.com/imports/a%20b.csv?x-id=GetObject"},
		{"S3's own variable", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000",
			"http://127.0.0.1:9000/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"the global variable", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566/base/"}, "http://127.0.0.1:4566/base/",
			"http://127.0.0.1:4566/base/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"S3's own wins", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000",
			"http://127.0.0.1:9000/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "",
			"https://import-bucket.s3.eu-west-1.amazonaws.com/imports/a%20b.csv?x-id=GetObject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DEFAULT_REGION"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
			t.Setenv("AWS_SESSION_TOKEN", "session-example")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			cfg, err := awsclients.FromEnv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s3object.EndpointFromConfig(ctx, cfg)
			if err != nil || got != tt.want {
				t.Fatalf("EndpointFromConfig = %q, %v; want %q", got, err, tt.want)
			}
			hc := &capture{}
			cfg.HTTPClient = hc
			c, err := s3object.NewFromConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := c.GetObject(ctx, "import-bucket", "imports/a b.csv", "")
			if err != nil {
				t.Fatal(err)
			}
			obj.Body.Close()
			if got := hc.req.URL.String(); got != tt.wantURL {
				t.Errorf("URL = %s, want %s", got, tt.wantURL)
			}
		})
	}
}

// TestNewFromConfigRefusesABadEndpoint: a typo in the endpoint variable fails at the
// cold start, not at the first import.
func TestNewFromConfigRefusesABadEndpoint(t *testing.T) {
	t.Parallel()
	for _, e := range []string{"127.0.0.1:9000", "ftp://host", "http://", "http://host/?q=1", "http://host/#f"} {
		cfg := testConfig()
		if _, err := s3object.NewFromConfig(context.Background(), cfg, func(o *s3object.Options) { o.Endpoint = e }); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	cfg := testConfig()
	cfg.Region = ""
	if _, err := s3object.NewFromConfig(context.Background(), cfg); err == nil {
		t.Error("no region accepted")
	}
}
