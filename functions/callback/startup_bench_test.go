package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// lambdaBuild builds pkg as the Makefile builds a function, for goarch.
func lambdaBuild(b *testing.B, pkg, out, goarch string) int64 {
	b.Helper()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, o)
	}
	st, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// BenchmarkStartup reports each bootstrap's size as Lambda gets it (linux/arm64,
// -trimpath -ldflags '-s -w') and its start-to-ready time (process start to the first
// /runtime/invocation/next) through the local Runtime API, beside a hello-world
// aws-lambda-go function. The callback's init reads the state key from Secrets
// Manager (the emulator here), as it does in AWS.
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	sm := httptest.NewServer(secretsemu.New())
	defer sm.Close()
	prefix := "bench"
	client := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(sm.URL) })
	if err := vault.New(client, prefix, "").PutStateKey(context.Background(), secret.Value(demo.StateKey)); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"TABLE_NAME": "bench", "SECRET_PREFIX": prefix, "APP_ID": demo.AppID, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL,
	}
	fns := []struct{ name, pkg string }{{"hello", "./testdata/hello"}, {"callback", "."}}
	ready := map[string]time.Duration{}
	for _, fn := range fns {
		size := lambdaBuild(b, fn.pkg, filepath.Join(dir, fn.name+"-arm64"), "arm64")
		bin := filepath.Join(dir, fn.name, "bootstrap")
		lambdaBuild(b, fn.pkg, bin, runtime.GOARCH)
		b.Run(fn.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				r, err := runtimeapi.Start(runtimeapi.Function{Name: fn.name, Binary: bin, Env: env, Stdout: &discard{}})
				if err != nil {
					b.Fatal(err)
				}
				d, err := r.WaitReady(context.Background())
				r.Stop()
				if err != nil {
					b.Fatal(err)
				}
				total += d
			}
			ready[fn.name] = total / time.Duration(b.N)
			b.ReportMetric(float64(size)/1e6, "MB-arm64")
			b.ReportMetric(float64(ready[fn.name])/float64(time.Millisecond), "ms-to-ready")
		})
	}
	if ready["hello"] > 0 {
		b.Logf("callback start-to-ready = %.1f× hello world (%s vs %s)", float64(ready["callback"])/float64(ready["hello"]), ready["callback"], ready["hello"])
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
