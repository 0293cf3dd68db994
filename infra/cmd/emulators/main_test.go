package main

import (
	"bufio"
	"context"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("env file line %q is not KEY=VALUE", sc.Text())
		}
		env[k] = v
	}
	return env
}

func TestWritesTheEnvFileOnceReadyAndCleansUpOnSignal(t *testing.T) {
	t.Parallel()
	envFile := filepath.Join(t.TempDir(), "sub", "emulators.env")
	if err := os.MkdirAll(filepath.Dir(envFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envFile, []byte("AWS_ENDPOINT_URL_SQS=http://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err) // left by a run that crashed
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var log testenv.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-env-file", envFile, "-dynamodb=false"}, &log) }()

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(log.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("no ready line; log:\n%s", log.String())
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	env := readEnv(t, envFile)
	want := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["AWS_ENDPOINT_URL_DYNAMODB"]; ok {
		t.Error("DynamoDB endpoint written although -dynamodb=false")
	}
	var addrs []string
	for _, k := range []string{"AWS_ENDPOINT_URL_SESV2", "AWS_ENDPOINT_URL_SQS"} {
		addr := strings.TrimPrefix(env[k], "http://127.0.0.1:")
		if addr == env[k] || addr == "1" {
			t.Fatalf("%s = %q, want a fresh http://127.0.0.1:PORT", k, env[k])
		}
		conn, err := net.Dial("tcp", "127.0.0.1:"+addr)
		if err != nil {
			t.Fatalf("%s does not answer: %v", k, err)
		}
		conn.Close()
		addrs = append(addrs, "127.0.0.1:"+addr)
	}

	cancel() // what SIGINT or SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after signal: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("env file still there after stop: %v", err)
	}
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still answers after stop", a)
		}
	}
}

func TestFailsWithOneClearLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no env file", nil, "-env-file is required"},
		{"not installed", []string{"-env-file", filepath.Join(t.TempDir(), "e.env"), "-infra", t.TempDir()},
			"DynamoDB Local jar not found: run `npm ci --prefix infra`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testenv.Buffer
			err := run(t.Context(), tt.args, &log)
			if err == nil {
				t.Fatal("run succeeded")
			}
			line := firstLine(err)
			if strings.Contains(line, "\n") || !strings.Contains(line, tt.want) {
				t.Errorf("message %q, want one line saying %q", line, tt.want)
			}
		})
	}
}
