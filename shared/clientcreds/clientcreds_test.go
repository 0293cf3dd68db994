package clientcreds

import (
	"context"

	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestSourceCachesAndInvalidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sm, emu := testenv.SecretsManagerInProcess(t)
	prefix := testenv.Prefix(t)
	v := vault.New(sm, prefix, "")
	w := vault.New(sm, prefix, "") // the rotation: its reads before writing are not the source's
	put := func(secretValue string) {
		t.Helper()
		if err := w.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: "amzn1.application-oa2-client.x", ClientSecret: secret.Value(secretValue)}); err != nil {
			t.Fatal(err)
		}
	}
	put("s1")
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	s := New(v, time.Minute)
	s.now = func() time.Time { return now }
	reads := func() int { return emu.Calls("GetSecretValue") - int(w.Counters().SecretReads) }
	base := reads()
	for i := 0; i < 3; i++ {
		if c, err := s.Credentials(ctx); err != nil || c.ClientSecret.Reveal() != "s1" {
			t.Fatalf("Credentials = %v, %v", c, err)
		}
	}
	if got := reads() - base; got != 1 {
		t.Fatalf("secret read %d times within the TTL, want 1", got)
	}
	put("s2")
	if c, _ := s.Credentials(ctx); c.ClientSecret.Reveal() != "s1" {
		t.Fatal("cache ignored")
	}
	s.Invalidate()
	if c, _ := s.Credentials(ctx); c.ClientSecret.Reveal() != "s2" {
		t.Fatalf("after Invalidate: secret %q, want s2", c.ClientSecret.Reveal())
	}
	now = now.Add(2 * time.Minute)
	_, _ = s.Credentials(ctx)
	if got := reads() - base; got != 3 {
		t.Fatalf("after the TTL: reads %d, want 3", got)
	}
	// The secret as template.yaml creates it, before the vendor puts real values in.
	_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(prefix + "/lwa-client"),
		SecretString: aws.String(`{"clientId":"","clientSecret":"","clientSecretExpiresAt":""}`)})
	if err != nil {
		t.Fatal(err)
	}
	s.Invalidate()
	if _, err := s.Credentials(ctx); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("empty secret: %v", err)
	}
}
