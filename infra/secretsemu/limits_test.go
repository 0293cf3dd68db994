package secretsemu_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
)

// The limits the packed vault relies on, each as AWS documents it.

func TestSecretStringOf65536BytesIsTheLimit(t *testing.T) {
	t.Parallel()
	c, emu := start(t)
	create(t, c, "app/big", "x")
	tests := []struct {
		name string
		size int
		code string
	}{
		{"exactly 64 KiB", 65536, ""},
		{"one byte more", 65537, "ValidationException"},
		{"far more", 200_000, "ValidationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := emu.Versions("app/big")
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/big"), SecretString: aws.String(strings.Repeat("y", tc.size))})
			if got := errorCode(err); got != tc.code {
				t.Fatalf("PutSecretValue of %d bytes: error %q (%v), want %q", tc.size, got, err, tc.code)
			}
			if tc.code != "" && emu.Versions("app/big") != before {
				t.Error("a refused value still added a version")
			}
		})
	}
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/too-big"), SecretString: aws.String(strings.Repeat("z", 65537))}); errorCode(err) != "ValidationException" {
		t.Errorf("CreateSecret of 65537 bytes: %v, want ValidationException", err)
	}
}

func TestMoreThan100VersionsIn24HoursAreRefused(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, emu := start(t, secretsemu.WithClock(clock))
	create(t, c, "app/busy", "v0")
	for i := 1; i < 100; i++ {
		advance(time.Minute)
		put(t, c, "app/busy", "v"+string(rune('a'+i%26))+strings.Repeat("-", i))
	}
	if n := emu.Versions("app/busy"); n != 100 {
		t.Fatalf("Versions = %d, want 100", n)
	}
	_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/busy"), SecretString: aws.String("one too many")})
	if got := errorCode(err); got != "LimitExceededException" {
		t.Fatalf("101st version within 24 hours: %q (%v), want LimitExceededException", got, err)
	}
	// A retry of a version that exists is no new version: still answered.
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/busy")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/busy"), SecretString: out.SecretString, ClientRequestToken: out.VersionId}); err != nil {
		t.Errorf("idempotent retry at the quota: %v", err)
	}
	// Once the first version is 24 hours old it may be removed, and a write goes through.
	advance(24*time.Hour - 99*time.Minute)
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/busy"), SecretString: aws.String("a day later")}); err != nil {
		t.Fatalf("write once the oldest version is 24 hours old: %v", err)
	}
	if n := emu.Versions("app/busy"); n > 100 {
		t.Errorf("Versions = %d after pruning, want at most 100", n)
	}
}

func TestDelayedRequestLandsAfterTheClientGaveUp(t *testing.T) {
	t.Parallel()
	c, emu := start(t)
	create(t, c, "app/slow", "first")
	emu.DelayNext("PutSecretValue", 300*time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.PutSecretValue(short, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/slow"), SecretString: aws.String("late")}); err == nil {
		t.Fatal("the client waited past its deadline")
	}
	deadline := time.Now().Add(5 * time.Second)
	for emu.Landed("PutSecretValue") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/slow")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SecretString) != "late" {
		t.Errorf("current value %q, want the late write to have landed", aws.ToString(out.SecretString))
	}
}
