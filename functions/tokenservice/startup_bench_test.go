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

// BenchmarkColdStart reports the token service's start-to-ready time (process start to
// the first /runtime/invocation/next, its init reading the state key from Secrets
// Manager) beside the callback's, both built as Lambda gets them.
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	sm := httptest.NewServer(secretsemu.New())
	defer sm.Close()
	client := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(sm.URL) })
	if err := vault.New(client, "bench", "").PutStateKey(context.Background(), secret.Value(demo.StateKey)); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"TABLE_NAME": "bench", "SECRET_PREFIX": "bench", "APP_ID": demo.AppID, "BASE_URL": "https://keeper.example", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL,
	}
	ready := map[string]time.Duration{}
	for _, fn := range []struct{ name, pkg string }{{"callback", "../callback"}, {"tokenservice", "."}} {
		bin := filepath.Join(dir, fn.name, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, fn.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", fn.pkg, err, out)
		}
		b.Run(fn.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				r, err := runtimeapi.Start(runtimeapi.Function{Name: fn.name, Binary: bin, Env: env, Stdout: discard{}})
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
			b.ReportMetric(float64(ready[fn.name])/float64(time.Millisecond), "ms-to-ready")
		})
	}
	if ready["callback"] > 0 {
		b.Logf("token service start-to-ready = %.2f× the callback's (%s vs %s)", float64(ready["tokenservice"])/float64(ready["callback"]), ready["tokenservice"], ready["callback"])
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
