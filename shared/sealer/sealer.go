// Package sealer encrypts small secrets with the stack's KMS key, for the rare moment
// a refresh token must wait outside Secrets Manager (the vault did not answer in time
// after Amazon had issued it). The encryption context binds a ciphertext to the
// authorization it belongs to: KMS refuses to open it for any other.
package sealer

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// ErrNoKey: no KMS key is configured (KMS_KEY_ID), so nothing can be sealed.
var ErrNoKey = errors.New("sealer: no KMS key configured")

// Sealer seals and opens with one KMS key.
type Sealer struct {
	client *kms.Client
	keyID  string
}

// New returns a Sealer for keyID (an id, ARN or alias of a symmetric key).
func New(client *kms.Client, keyID string) *Sealer {
	return &Sealer{client: client, keyID: keyID}
}

// Seal encrypts plaintext (at most 4 KiB, KMS's limit for Encrypt) under context.
func (s *Sealer) Seal(ctx context.Context, plaintext secret.Value, context map[string]string) ([]byte, error) {
	if s == nil || s.client == nil || s.keyID == "" {
		return nil, ErrNoKey
	}
	out, err := s.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(s.keyID), Plaintext: []byte(plaintext.Reveal()), EncryptionContext: context,
	})
	if err != nil {
		return nil, fmt.Errorf("kms encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Open decrypts what Seal returned, under the same context.
func (s *Sealer) Open(ctx context.Context, ciphertext []byte, context map[string]string) (secret.Value, error) {
	if s == nil || s.client == nil {
		return "", ErrNoKey
	}
	out, err := s.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ciphertext, EncryptionContext: context, KeyId: aws.String(s.keyID)})
	if err != nil {
		return "", fmt.Errorf("kms decrypt: %w", err)
	}
	return secret.Value(out.Plaintext), nil
}
