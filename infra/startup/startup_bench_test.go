package startup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	cmd.Dir = "../.."
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

// BenchmarkStartup reports, for every function and a hello-world aws-lambda-go
// function, the bootstrap's size as Lambda gets it (linux/arm64, the Makefile's
// flags) and its start-to-ready time (process start to the first
// /runtime/invocation/next) through the local Runtime API. The runs are paired: each
// round starts hello and then every function, so the machine's load weighs on all
// alike; the median's ratio to hello is reported per function, and to sdkfloor, which
// is hello plus the DynamoDB and Secrets Manager clients every function builds. No
// function waits for an AWS call before its first /next; the callback and the
// reminder sender start reading the state key (from the Secrets Manager emulator
// here) in the background, as in AWS, and that read runs while they get ready.
//
//	go test -run '^$' -bench Startup -benchtime 20x ./infra/startup
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
		"BASE_URL": "https://keeper.example.com", "SENDER_EMAIL": "keeper@example.com",
		"REMINDER_QUEUE_URL": "http://127.0.0.1:1/queue/reminders", "REFRESH_QUEUE_URL": "http://127.0.0.1:1/queue/refresh",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL,
		"EVENT_BUS_NAME": "bench", "WEBHOOK_QUEUE_URL": "http://127.0.0.1:1/queue/webhooks", "WEBHOOK_KEY_SECRET": prefix + "/webhook-key",
	}
	fns := []struct{ name, pkg string }{
		{"hello", "./functions/callback/testdata/hello"},
		{"sdkfloor", "./infra/startup/testdata/sdkfloor"},
		{"callback", "./functions/callback"},
		{"credentials", "./functions/credentials"},
		{"delivery", "./functions/delivery"},
		{"eventpublisher", "./functions/eventpublisher"},
		{"expiryscan", "./functions/expiryscan"},
		{"importer", "./functions/importer"},
		{"reminder", "./functions/reminder"},
		{"tokenrefresh", "./functions/tokenrefresh"},
		{"tokenservice", "./functions/tokenservice"},
		{"webhooksender", "./functions/webhooksender"},
	}
	sizes := map[string]int64{}
	bins := map[string]string{}
	for _, fn := range fns {
		sizes[fn.name] = lambdaBuild(b, fn.pkg, filepath.Join(dir, fn.name+"-arm64"), "arm64")
		bins[fn.name] = filepath.Join(dir, fn.name, "bootstrap")
		lambdaBuild(b, fn.pkg, bins[fn.name], runtime.GOARCH)
	}
	ready := map[string][]time.Duration{}
	b.ResetTimer()
	for range b.N {
		// Each round in its own order, so that no function always follows the same
		// one (a start right after another's exit can find the machine busier).
		round := slices.Clone(fns)
		rand.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		for _, fn := range round {
			r, err := runtimeapi.Start(runtimeapi.Function{Name: fn.name, Binary: bins[fn.name], Env: env, Stdout: discard{}})
			if err != nil {
				b.Fatal(err)
			}
			d, err := r.WaitReady(context.Background())
			r.Stop()
			if err != nil {
				b.Fatalf("%s: %v", fn.name, err)
			}
			ready[fn.name] = append(ready[fn.name], d)
		}
	}
	b.StopTimer()
	// Medians: a round that the machine's other work delays says nothing about the
	// functions.
	hello, floor := median(ready["hello"]), median(ready["sdkfloor"])
	for _, fn := range fns {
		m := median(ready[fn.name])
		b.ReportMetric(float64(sizes[fn.name])/1e6, fn.name+"-MB")
		b.ReportMetric(float64(m)/float64(time.Millisecond), fn.name+"-ms")
		if fn.name != "hello" && hello > 0 {
			b.ReportMetric(float64(m)/float64(hello), fn.name+"-x")
		}
		fmt.Printf("%-14s %6.2f MB (%.2f× hello)  start-to-ready, median %5.1f ms: %.2f× hello, %.2f× sdkfloor\n", fn.name,
			float64(sizes[fn.name])/1e6, float64(sizes[fn.name])/float64(sizes["hello"]), float64(m)/float64(time.Millisecond),
			float64(m)/float64(hello), float64(m)/float64(floor))
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
