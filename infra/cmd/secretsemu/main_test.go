package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestMain lets the test binary stand in for the command: with the variable set it runs
// main, so the signal test exercises the real process without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SECRETSEMU_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"secretsemu"}, strings.Fields(os.Getenv("SECRETSEMU_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readURL reads the announced line and returns the URL in it.
func readURL(t *testing.T, r io.Reader) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("read announcement: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("announcement = %q, want \"listening on http://127.0.0.1:PORT\"", line)
	}
	return url
}

// roundTrip stores and reads a secret through the production SDK client.
func roundTrip(t *testing.T, url string) {
	t.Helper()
	c := secretsmanager.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(url) })
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("smoke"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("smoke")})
	if err != nil || aws.ToString(out.SecretString) != "v" {
		t.Fatalf("GetSecretValue: value ok=%v err=%v", out != nil && aws.ToString(out.SecretString) == "v", err)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, pw) }()
	roundTrip(t, readURL(t, pr))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
}

func TestRunRejectsBadAddress(t *testing.T) {
	t.Parallel()
	if err := run(context.Background(), []string{"-addr", "not-an-address"}, io.Discard); err == nil {
		t.Fatal("run with an invalid -addr returned nil")
	}
}

func TestProcessStopsOnSignal(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SECRETSEMU_TEST_RUN_MAIN=1", "SECRETSEMU_TEST_ARGS=-addr 127.0.0.1:0")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			roundTrip(t, readURL(t, stdout))
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("process exited with %v after %s, want status 0", err, sig)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("process still running 10s after %s", sig)
			}
		})
	}
}
