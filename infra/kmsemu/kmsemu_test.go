package kmsemu_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/spapi-auth-keeper/keeper/infra/kmsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// TestSealerAgainstLocalKMS: what the callback parks, only the same encryption
// context opens; the ciphertext does not hold the plaintext.
func TestSealerAgainstLocalKMS(t *testing.T) {
	emu, err := kmsemu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client := kms.NewFromConfig(testenv.Config(), func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	s := sealer.New(client, aws.ToString(key.KeyMetadata.KeyId))
	own := map[string]string{"connectionId": "acme", "region": "eu"}
	const token = "Atzr|refresh-token-never-in-the-table"
	ct, err := s.Seal(ctx, secret.Value(token), own)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) == 0 || string(ct) == token {
		t.Fatalf("ciphertext %q", ct)
	}
	got, err := s.Open(ctx, ct, own)
	if err != nil || got.Reveal() != token {
		t.Fatalf("open = %v, %v", got.Reveal() == token, err)
	}
	if _, err := s.Open(ctx, ct, map[string]string{"connectionId": "other", "region": "eu"}); err == nil {
		t.Fatal("a ciphertext opened under another authorization's context")
	}
	if _, err := sealer.New(client, "").Seal(ctx, secret.Value(token), own); err == nil {
		t.Fatal("sealed without a key")
	}
}
