package vault

// The Secrets Manager side of the vault: every call it makes to Secrets Manager, each
// answer classified here (classify, errors.go) into ErrNotFound, ErrUnavailable and
// the few errors a caller branches on. It knows secret names and bodies, not what a
// body holds, nor the table: the per-authorization layout (vault.go) and the packed
// layout's write path (write.go) decide what to write, and when.

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// secretStore makes the vault's Secrets Manager calls.
type secretStore struct {
	client   *secretsmanager.Client
	kmsKeyID string
	log      *slog.Logger
	stats    *counters
}

// sm is the vault's Secrets Manager side as the vault is now configured.
func (v *Vault) sm() secretStore {
	return secretStore{client: v.client, kmsKeyID: v.kmsKeyID, log: v.log, stats: v.stats}
}

// secretValue is one version of a secret.
type secretValue struct {
	body    string
	version string
	arn     string
}

var (
	// errScheduled: the secret is scheduled for deletion (the console's Delete).
	// Secrets Manager keeps it but refuses to read or write it until it is restored.
	errScheduled = errors.New("scheduled for deletion")
	// errBinary: the secret holds SecretBinary, which the vault never writes.
	errBinary = fmt.Errorf("holds binary data, not a string: %w", ErrMalformed)
	// errExists: CreateSecret found the secret already there.
	errExists = errors.New("secret exists")
)

// get reads a secret's AWSCURRENT, or the version named. A secret scheduled for
// deletion (asked only of AWSCURRENT) is errScheduled and ErrNotFound.
func (s secretStore) get(ctx context.Context, name, versionID string) (secretValue, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := s.client.GetSecretValue(ctx, in)
	s.stats.secretReads.Add(1)
	if err != nil {
		if versionID == "" && s.scheduledForDeletion(ctx, name, err) {
			return secretValue{}, fmt.Errorf("%w: %w: %w", errScheduled, ErrNotFound, err)
		}
		return secretValue{}, classify(err)
	}
	if out.SecretString == nil {
		return secretValue{}, errBinary
	}
	return secretValue{body: *out.SecretString, version: aws.ToString(out.VersionId), arn: aws.ToString(out.ARN)}, nil
}

// creation is what a secret gets when the vault creates it.
type creation struct {
	description string
	tags        map[string]string
	logAttrs    []any
}

// create makes the secret with its first version, encrypted with the vault's KMS key.
// errExists when the secret is already there.
func (s secretStore) create(ctx context.Context, name, body, token string, c creation) (secretValue, error) {
	in := &secretsmanager.CreateSecretInput{
		Name:               aws.String(name),
		SecretString:       aws.String(body),
		ClientRequestToken: aws.String(token),
		Description:        aws.String(c.description),
	}
	if s.kmsKeyID != "" {
		in.KmsKeyId = aws.String(s.kmsKeyID)
	}
	for _, k := range slices.Sorted(maps.Keys(c.tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(c.tags[k])})
	}
	s.stats.secretWrites.Add(1)
	out, err := s.client.CreateSecret(ctx, in)
	var exists *types.ResourceExistsException
	switch {
	case errors.As(err, &exists):
		return secretValue{}, errExists
	case err != nil:
		return secretValue{}, classify(err)
	}
	return secretValue{body: body, version: aws.ToString(out.VersionId), arn: aws.ToString(out.ARN)}, nil
}

// put stores body as a secret's new AWSCURRENT. token is the write's
// ClientRequestToken: the SDK's retries of it reuse it, so a retry writes no second
// version.
func (s secretStore) put(ctx context.Context, name, body, token string, optFns ...func(*secretsmanager.Options)) (secretValue, error) {
	s.stats.secretWrites.Add(1)
	out, err := s.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(name),
		SecretString:       aws.String(body),
		ClientRequestToken: aws.String(token),
	}, optFns...)
	if err != nil {
		return secretValue{}, classify(err)
	}
	return secretValue{body: body, version: aws.ToString(out.VersionId), arn: aws.ToString(out.ARN)}, nil
}

// restore cancels a secret's scheduled deletion.
func (s secretStore) restore(ctx context.Context, name string) error {
	_, err := s.client.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return classify(err)
	}
	return nil
}

// remove deletes a secret: at once and with every version when recoveryDays is 0,
// else after that many days (during which it can be restored). A secret that does not
// exist is ErrNotFound.
func (s secretStore) remove(ctx context.Context, name string, recoveryDays int) error {
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(name)}
	if recoveryDays == 0 {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	} else {
		in.RecoveryWindowInDays = aws.Int64(int64(recoveryDays))
	}
	if _, err := s.client.DeleteSecret(ctx, in); err != nil {
		return classify(err)
	}
	return nil
}

// list names the secrets whose names start with prefix, leaving out those scheduled
// for deletion.
func (s secretStore) list(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	pages := secretsmanager.NewListSecretsPaginator(s.client, &secretsmanager.ListSecretsInput{
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify(err)
		}
		for _, sec := range page.SecretList {
			if name := aws.ToString(sec.Name); sec.DeletedDate == nil && strings.HasPrefix(name, prefix) {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// scheduledForDeletion tells whether err is Secrets Manager refusing to touch a secret
// scheduled for deletion: it answers InvalidRequestException, which has other causes
// too, so the vault asks DescribeSecret, which still works on such a secret.
func (s secretStore) scheduledForDeletion(ctx context.Context, name string, err error) bool {
	var invalid *types.InvalidRequestException
	if !errors.As(err, &invalid) {
		return false
	}
	desc, derr := s.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	return derr == nil && desc.DeletedDate != nil
}

// notFoundAnswer tells Secrets Manager's ResourceNotFoundException (not a secret
// scheduled for deletion, which also reads as ErrNotFound).
func notFoundAnswer(err error) bool {
	var notFound *types.ResourceNotFoundException
	return errors.As(err, &notFound)
}

// newRequestToken is a random version 4 UUID: the ClientRequestToken of one logical
// write, kept across the SDK's retries of it. It is random, not derived from the
// secret's content: a content hash would tell anyone who may list versions that two
// secrets, or two versions, hold the same token.
func newRequestToken() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
