// Package vault keeps the keeper's secrets in AWS Secrets Manager: the sellers' LWA
// refresh tokens (packed many to a bucket secret, or one secret per authorization; see
// Layout), the vendor's LWA client credentials, and the HMAC key that signs state and
// renewal links. It classifies Secrets Manager errors once, here, into ErrNotFound and
// ErrUnavailable, and never lets a secret value reach a log line or an error message.
package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Error kinds callers branch on with errors.Is.
var (
	// ErrNotFound: the secret does not exist, has no current value, or is scheduled
	// for deletion (Secrets Manager keeps such a secret but refuses to read it).
	ErrNotFound = authz.ErrSecretNotFound
	// ErrUnavailable: Secrets Manager throttled, failed on its side, or could not be
	// reached, after the SDK's own retries. Retry later.
	ErrUnavailable = errors.New("secrets manager unavailable")
	// ErrMalformed: the secret exists but its value is not what the vault writes.
	ErrMalformed = authz.ErrSecretMalformed
	// ErrStateKeyTooShort: an HMAC-SHA256 key shorter than the hash output weakens it.
	ErrStateKeyTooShort = errors.New("state key shorter than 32 bytes")
)

// MinStateKeyLen is the shortest state key accepted: 32 bytes, the size of an
// HMAC-SHA256 output (RFC 2104 advises keys no shorter than the hash output).
const MinStateKeyLen = 32

// Vault reads and writes the keeper's secrets under one name prefix.
type Vault struct {
	client   *secretsmanager.Client
	prefix   string
	kmsKeyID string
	log      *slog.Logger

	// The packed layout's bookkeeping and the write pace live in the keeper's table;
	// without one, the vault keeps one secret per authorization, unpaced.
	layout  Layout
	db      *dynamodb.Client
	table   string
	pack    Packing
	now     func() time.Time
	cache   *bucketCache
	stats   *counters
	writes  *pace.Pacer      // the Secrets Manager write budget; nil: unpaced
	metrics *metrics.Emitter // nil discards
}

// New returns a Vault that names its secrets under prefix and encrypts the secrets it
// creates with kmsKeyID ("" for the account's default aws/secretsmanager key). It keeps
// one secret per authorization until WithTable gives it the keeper's table. It logs to
// slog.Default; see WithLogger.
func New(client *secretsmanager.Client, prefix string, kmsKeyID string) *Vault {
	return &Vault{
		client:   client,
		prefix:   strings.TrimRight(prefix, "/"),
		kmsKeyID: kmsKeyID,
		log:      slog.Default(),
		layout:   LayoutPerAuthorization,
		now:      time.Now,
		stats:    &counters{},
	}
}

// WithLogger returns a copy of the vault that logs its decisions to l.
func (v *Vault) WithLogger(l *slog.Logger) *Vault {
	c := *v
	c.log = l
	return &c
}

// WithMetrics returns a copy of the vault that emits its metrics to e (nil discards
// them): MetricBucketVersionsHigh.
func (v *Vault) WithMetrics(e *metrics.Emitter) *Vault {
	c := *v
	c.metrics = e
	return &c
}

// WithClock returns a copy of the vault that reads the time from now: the order of an
// entry's writes, leases, and a bucket's versions of the last 24 hours (tests).
func (v *Vault) WithClock(now func() time.Time) *Vault {
	c := *v
	c.now = now
	return &c
}

// RefreshToken is one seller authorization's LWA refresh token and what Amazon said
// with it.
type RefreshToken = authz.RefreshToken

// tokenDocument is the secret's JSON. Token is a plain string here, and only here,
// because the value must reach Secrets Manager.
type tokenDocument struct {
	RefreshToken     string `json:"refreshToken"`
	SellingPartnerID string `json:"sellingPartnerId"`
	Region           string `json:"region"`
	AuthorizedAt     string `json:"authorizedAt"`
}

// SecretName is where an authorization's refresh token lives:
// {prefix}/sp-api/{connectionId}/{region}.
func (v *Vault) SecretName(connectionID string, region authz.Region) string {
	return v.name("sp-api", connectionID, string(region))
}

func (v *Vault) name(parts ...string) string {
	if v.prefix == "" {
		return strings.Join(parts, "/")
	}
	return v.prefix + "/" + strings.Join(parts, "/")
}

func (v *Vault) tokenSecretName(connectionID string, region authz.Region) (string, error) {
	if err := authz.ValidateConnectionID(connectionID); err != nil {
		return "", fmt.Errorf("vault: %w", err)
	}
	if _, err := authz.ParseRegion(string(region)); err != nil {
		return "", fmt.Errorf("vault: %w", err)
	}
	return v.SecretName(connectionID, region), nil
}

// Get reads the current refresh token of an authorization. It looks in the layout the
// vault writes first, then in the other one, so that readers work throughout a
// migration between layouts.
func (v *Vault) Get(ctx context.Context, connectionID string, region authz.Region) (RefreshToken, error) {
	name, err := v.tokenSecretName(connectionID, region)
	if err != nil {
		return RefreshToken{}, err
	}
	if v.db == nil {
		return v.getOwn(ctx, name, region)
	}
	if v.packed() {
		rt, found, err := v.getPacked(ctx, connectionID, region)
		if err != nil || found {
			return rt, err
		}
		return v.getOwn(ctx, name, region)
	}
	rt, err := v.getOwn(ctx, name, region)
	if errors.Is(err, ErrNotFound) {
		if prt, found, perr := v.getPacked(ctx, connectionID, region); perr == nil && found {
			return prt, nil
		}
	}
	return rt, err
}

// getOwn reads an authorization's own secret (the per-authorization layout).
func (v *Vault) getOwn(ctx context.Context, name string, region authz.Region) (RefreshToken, error) {
	raw, arn, err := v.readARN(ctx, name)
	if err != nil {
		return RefreshToken{}, err
	}
	var doc tokenDocument
	if err := unmarshal(raw, &doc); err != nil {
		return RefreshToken{}, fmt.Errorf("vault: secret %s: %w", name, err)
	}
	if doc.RefreshToken == "" {
		return RefreshToken{}, fmt.Errorf("vault: secret %s has no refreshToken: %w", name, ErrMalformed)
	}
	if doc.Region != string(region) {
		return RefreshToken{}, fmt.Errorf("vault: secret %s holds region %q, want %q: %w", name, doc.Region, region, ErrMalformed)
	}
	at, err := time.Parse(time.RFC3339, doc.AuthorizedAt)
	if err != nil {
		return RefreshToken{}, fmt.Errorf("vault: secret %s: authorizedAt is not RFC 3339: %w", name, ErrMalformed)
	}
	return RefreshToken{
		Token:            secret.Value(doc.RefreshToken),
		SellingPartnerID: doc.SellingPartnerID,
		Region:           region,
		AuthorizedAt:     at,
		SecretID:         arn,
	}, nil
}

// Put stores an authorization's refresh token and returns the ARN of the secret that
// holds it: its bucket in the packed layout (an entry keeps its bucket for good), its
// own secret in the per-authorization layout. The version it replaces stays readable
// as AWSPREVIOUS. A retried Put with the same token writes no second version.
func (v *Vault) Put(ctx context.Context, connectionID string, region authz.Region, rt RefreshToken) (secretID string, err error) {
	name, err := v.tokenSecretName(connectionID, region)
	if err != nil {
		return "", err
	}
	if rt.Token.IsZero() {
		return "", fmt.Errorf("vault: put %s: empty refresh token", name)
	}
	if rt.Region != "" && rt.Region != region {
		return "", fmt.Errorf("vault: put %s: token is for region %q", name, rt.Region)
	}
	if v.packed() {
		return v.putPacked(ctx, connectionID, region, rt)
	}
	body, err := json.Marshal(tokenDocument{
		RefreshToken:     rt.Token.Reveal(),
		SellingPartnerID: rt.SellingPartnerID,
		Region:           string(region),
		AuthorizedAt:     rt.AuthorizedAt.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("vault: encode %s: %w", name, ErrMalformed)
	}
	return v.write(ctx, name, string(body), creation{
		description: fmt.Sprintf("SP-API refresh token of connection %s in region %s", connectionID, region),
		tags:        map[string]string{"connectionId": connectionID, "region": string(region)},
		logAttrs:    []any{"connectionId", connectionID, "region", string(region)},
	})
}

// Delete removes an authorization's refresh token, wherever it is, and leaves no copy
// in AWSCURRENT: its own secret is deleted at once, without the recovery window; its
// bucket entry is removed (and the bucket secret deleted, every version with it, when
// that was its last entry). The bucket's AWSPREVIOUS still holds the token until the
// bucket's next write; Purge writes twice so that it does not. A missing token is not
// an error.
func (v *Vault) Delete(ctx context.Context, connectionID string, region authz.Region) error {
	return v.forget(ctx, connectionID, region, false)
}

// Purge is Delete that also writes the bucket a second time, so that neither
// AWSCURRENT nor AWSPREVIOUS holds the token. Older, unlabelled versions stay readable
// by their VersionId until Secrets Manager removes them (see the README).
func (v *Vault) Purge(ctx context.Context, connectionID string, region authz.Region) error {
	return v.forget(ctx, connectionID, region, true)
}

func (v *Vault) forget(ctx context.Context, connectionID string, region authz.Region, purge bool) error {
	name, err := v.tokenSecretName(connectionID, region)
	if err != nil {
		return err
	}
	if v.db != nil {
		if _, err := v.deletePacked(ctx, connectionID, region, purge); err != nil {
			return err
		}
	}
	return v.deleteOwn(ctx, name, connectionID, region)
}

func (v *Vault) deleteOwn(ctx context.Context, name, connectionID string, region authz.Region) error {
	if err := v.sm().remove(ctx, name, 0); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("vault: delete secret %s: %w", name, err)
	}
	v.log.InfoContext(ctx, "secret deleted", "secretName", name, "connectionId", connectionID, "region", string(region))
	return nil
}

// ClientCredentials are the vendor's LWA client id and secret. Amazon expires the
// client secret (rotation every 180 days), so its expiry travels with it.
type ClientCredentials = authz.ClientCredentials

type clientDocument struct {
	ClientID              string `json:"clientId"`
	ClientSecret          string `json:"clientSecret"`
	ClientSecretExpiresAt string `json:"clientSecretExpiresAt,omitempty"`
}

func (v *Vault) clientSecretName() string { return v.name("lwa-client") }
func (v *Vault) stateKeyName() string     { return v.name("state-key") }

// ClientCredentials reads {prefix}/lwa-client. A missing clientSecretExpiresAt reads
// as the zero time; a date without a time reads as midnight UTC.
func (v *Vault) ClientCredentials(ctx context.Context) (ClientCredentials, error) {
	name := v.clientSecretName()
	raw, err := v.read(ctx, name)
	if err != nil {
		return ClientCredentials{}, err
	}
	var doc clientDocument
	if err := unmarshal(raw, &doc); err != nil {
		return ClientCredentials{}, fmt.Errorf("vault: secret %s: %w", name, err)
	}
	if doc.ClientID == "" || doc.ClientSecret == "" {
		return ClientCredentials{}, fmt.Errorf("vault: secret %s needs clientId and clientSecret: %w", name, ErrMalformed)
	}
	c := ClientCredentials{ClientID: doc.ClientID, ClientSecret: secret.Value(doc.ClientSecret)}
	if doc.ClientSecretExpiresAt != "" {
		// An operator may seed the date alone, as the Solution Provider Portal shows it.
		c.ClientSecretExpiresAt, err = time.Parse(time.RFC3339, doc.ClientSecretExpiresAt)
		if err != nil {
			c.ClientSecretExpiresAt, err = time.Parse(time.DateOnly, doc.ClientSecretExpiresAt)
		}
		if err != nil {
			return ClientCredentials{}, fmt.Errorf("vault: secret %s: clientSecretExpiresAt is not an RFC 3339 time or date: %w", name, ErrMalformed)
		}
	}
	return c, nil
}

// PutClientCredentials stores new client credentials as a new version of
// {prefix}/lwa-client (the old one stays readable as AWSPREVIOUS), creating the
// secret if it is missing.
func (v *Vault) PutClientCredentials(ctx context.Context, c ClientCredentials) error {
	name := v.clientSecretName()
	if c.ClientID == "" || c.ClientSecret.IsZero() {
		return fmt.Errorf("vault: put %s: client id and client secret are required", name)
	}
	doc := clientDocument{ClientID: c.ClientID, ClientSecret: c.ClientSecret.Reveal()}
	if !c.ClientSecretExpiresAt.IsZero() {
		doc.ClientSecretExpiresAt = c.ClientSecretExpiresAt.UTC().Format(time.RFC3339)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("vault: encode %s: %w", name, ErrMalformed)
	}
	_, err = v.write(ctx, name, string(body), creation{description: "LWA client credentials of the SP-API application"})
	return err
}

// StateKey reads {prefix}/state-key, the HMAC key for state and renewal links. The
// secret string is the key as is: CloudFormation's GenerateSecretString makes a plain
// string.
func (v *Vault) StateKey(ctx context.Context) (secret.Value, error) {
	name := v.stateKeyName()
	raw, err := v.read(ctx, name)
	if err != nil {
		return "", err
	}
	if len(raw) < MinStateKeyLen {
		return "", fmt.Errorf("vault: secret %s holds %d bytes: %w", name, len(raw), ErrStateKeyTooShort)
	}
	return secret.Value(raw), nil
}

// PutStateKey stores the state key; the local stack seeds it this way.
func (v *Vault) PutStateKey(ctx context.Context, key secret.Value) error {
	name := v.stateKeyName()
	if n := len(key.Reveal()); n < MinStateKeyLen {
		return fmt.Errorf("vault: put %s: key of %d bytes: %w", name, n, ErrStateKeyTooShort)
	}
	_, err := v.write(ctx, name, key.Reveal(), creation{description: "HMAC key for OAuth state and renewal links"})
	return err
}

// read returns the AWSCURRENT string of a secret.
func (v *Vault) read(ctx context.Context, name string) (string, error) {
	raw, _, err := v.readARN(ctx, name)
	return raw, err
}

// readARN returns the AWSCURRENT string of a secret and the secret's ARN.
func (v *Vault) readARN(ctx context.Context, name string) (string, string, error) {
	cur, err := v.sm().get(ctx, name, "")
	if err != nil {
		return "", "", fmt.Errorf("vault: read secret %s: %w", name, err)
	}
	return cur.body, cur.arn, nil
}

// write stores body as the AWSCURRENT version of secret name and returns its ARN.
//
// It compares before it writes: a secret that already holds body gets no new version
// (a retried write, by a caller after a timeout, or the same token stored again). That
// keeps versions down: AWS advises at most one update per secret every 10 minutes,
// refuses a secret's 101st version within 24 hours, and PutSecretValue shares a 50
// requests/s quota. The ClientRequestToken is random, one per logical write (the SDK's
// own retries reuse it): a token derived from the content would let anyone allowed to
// list versions see which secrets hold the same value.
//
// A renewal costs a GetSecretValue and a PutSecretValue; a first write a
// GetSecretValue that finds nothing and a CreateSecret. If another writer creates the
// secret in between, CreateSecret answers ResourceExistsException and the write
// becomes a PutSecretValue.
func (v *Vault) write(ctx context.Context, name, body string, c creation) (string, error) {
	sm := v.sm()
	cur, err := sm.get(ctx, name, "")
	switch {
	case err == nil && cur.body == body:
		v.log.InfoContext(ctx, "secret already holds this value; no new version", append([]any{"secretName", name}, c.logAttrs...)...)
		return cur.arn, nil
	case err == nil, errors.Is(err, errBinary):
	case notFoundAnswer(err):
		if err := v.idx().pace(ctx); err != nil {
			return "", err
		}
		created, cerr := sm.create(ctx, name, body, newRequestToken(), c)
		if cerr == nil {
			v.log.InfoContext(ctx, "secret created", append([]any{"secretName", name, "versionId", created.version}, c.logAttrs...)...)
			return created.arn, nil
		}
		if !errors.Is(cerr, errExists) {
			return "", fmt.Errorf("vault: create secret %s: %w", name, cerr)
		}
		// Another writer created the secret first.
		v.log.InfoContext(ctx, "secret created concurrently, adding a version", append([]any{"secretName", name}, c.logAttrs...)...)
	case errors.Is(err, errScheduled):
		// Someone scheduled the secret for deletion (the console's Delete). The value
		// being written is newer than anything in it, and a refresh token once received
		// must not be lost: cancel the deletion and write.
		if rerr := sm.restore(ctx, name); rerr != nil {
			return "", fmt.Errorf("vault: restore secret %s scheduled for deletion: %w", name, rerr)
		}
		v.log.WarnContext(ctx, "secret was scheduled for deletion; restored it to write a new value", append([]any{"secretName", name}, c.logAttrs...)...)
	default:
		return "", fmt.Errorf("vault: read secret %s before writing it: %w", name, err)
	}
	if err := v.idx().pace(ctx); err != nil {
		return "", err
	}
	out, err := sm.put(ctx, name, body, newRequestToken())
	if err != nil {
		return "", fmt.Errorf("vault: write secret %s: %w", name, err)
	}
	v.log.InfoContext(ctx, "secret version written", append([]any{"secretName", name, "versionId", out.version}, c.logAttrs...)...)
	return out.arn, nil
}

// unmarshal decodes a secret's JSON without ever quoting it: encoding/json's syntax
// errors show the offending character, which could be part of a token.
func unmarshal(raw string, v any) error {
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			// Only the field: Value would quote a number.
			return fmt.Errorf("field %s has the wrong JSON type: %w", typeErr.Field, ErrMalformed)
		}
		return fmt.Errorf("not a JSON object: %w", ErrMalformed)
	}
	return nil
}
