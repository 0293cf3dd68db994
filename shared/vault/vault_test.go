package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

var ctx = context.Background()

// token makes a refresh token shaped like LWA's, unique to the test.
func token(t *testing.T, label string) secret.Value {
	return secret.Value("Atzr|IwEBI" + label + "-" + testenv.Prefix(t) + "-" + strings.Repeat("x", 40))
}

var authorizedAt = time.Date(2030, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

func refreshToken(t *testing.T, label string, region authz.Region) vault.RefreshToken {
	return vault.RefreshToken{Token: token(t, label), SellingPartnerID: "A1SELLER" + label, Region: region, AuthorizedAt: authorizedAt}
}

// shared is a vault on the emulator shared by the test binary, under a fresh prefix.
func shared(t *testing.T) (*vault.Vault, *secretsmanager.Client) {
	c := testenv.SecretsManager(t)
	return vault.New(c, testenv.Prefix(t), ""), c
}

// own is a vault on an emulator of the test's own, for call counts and faults.
func own(t *testing.T, kmsKeyID string) (*vault.Vault, *secretsmanager.Client, *secretsemu.Server) {
	c, emu := testenv.SecretsManagerInProcess(t)
	return vault.New(c, testenv.Prefix(t), kmsKeyID), c, emu
}

func TestSecretName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix, conn string
		region       authz.Region
		want         string
	}{
		{"prod", "acme", authz.RegionEU, "prod/sp-api/acme/eu"},
		{"prod/", "a.b@c_d-e", authz.RegionNA, "prod/sp-api/a.b@c_d-e/na"},
		{"team/keeper", "x", authz.RegionFE, "team/keeper/sp-api/x/fe"},
	}
	for _, tc := range tests {
		if got := vault.New(nil, tc.prefix, "").SecretName(tc.conn, tc.region); got != tc.want {
			t.Errorf("SecretName(%q, %q) under %q = %q, want %q", tc.conn, tc.region, tc.prefix, got, tc.want)
		}
	}
}

func TestPutThenGetRoundTrip(t *testing.T) {
	t.Parallel()
	v, _ := shared(t)
	tests := []struct {
		conn   string
		region authz.Region
	}{
		{"acme", authz.RegionNA},
		{"acme", authz.RegionEU},
		{"seller.42@shop_x-y", authz.RegionFE},
	}
	for _, tc := range tests {
		t.Run(tc.conn+"/"+string(tc.region), func(t *testing.T) {
			t.Parallel()
			rt := refreshToken(t, "rt", tc.region)
			id, err := v.Put(ctx, tc.conn, tc.region, rt)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if !strings.HasPrefix(id, "arn:aws:secretsmanager:") || !strings.Contains(id, v.SecretName(tc.conn, tc.region)) {
				t.Errorf("secret id = %q, want the ARN of %s", id, v.SecretName(tc.conn, tc.region))
			}
			got, err := v.Get(ctx, tc.conn, tc.region)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.Token.Reveal() != rt.Token.Reveal() || got.SellingPartnerID != rt.SellingPartnerID ||
				got.Region != tc.region || !got.AuthorizedAt.Equal(authorizedAt) {
				t.Errorf("Get = {spid %s region %s at %v, token equal %v}, want what was put",
					got.SellingPartnerID, got.Region, got.AuthorizedAt, got.Token.Reveal() == rt.Token.Reveal())
			}
		})
	}
}

func TestSecondPutKeepsOldTokenAsPrevious(t *testing.T) {
	t.Parallel()
	v, c, emu := own(t, "")
	old, renewed := refreshToken(t, "old", authz.RegionEU), refreshToken(t, "new", authz.RegionEU)
	renewed.AuthorizedAt = authorizedAt.Add(365 * 24 * time.Hour)
	id1, err := v.Put(ctx, "acme", authz.RegionEU, old)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := v.Put(ctx, "acme", authz.RegionEU, renewed)
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 {
		t.Errorf("the renewal changed the secret id: %s then %s", id1, id2)
	}
	got, err := v.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.Reveal() != renewed.Token.Reveal() || !got.AuthorizedAt.Equal(renewed.AuthorizedAt) {
		t.Error("Get after a renewal does not return the renewed token")
	}
	name := v.SecretName("acme", authz.RegionEU)
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(prev.SecretString), old.Token.Reveal()) {
		t.Error("AWSPREVIOUS does not hold the old token")
	}
	if n := emu.Versions(name); n != 2 {
		t.Errorf("Versions = %d, want 2", n)
	}
}

func TestRetriedPutWritesOneVersion(t *testing.T) {
	t.Parallel()
	v, _, emu := own(t, "")
	rt := refreshToken(t, "rt", authz.RegionNA)
	first, err := v.Put(ctx, "acme", authz.RegionNA, rt)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := v.Put(ctx, "acme", authz.RegionNA, rt)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Errorf("retried Put answered %s, want %s", again, first)
		}
	}
	if n := emu.Versions(v.SecretName("acme", authz.RegionNA)); n != 1 {
		t.Errorf("Versions = %d after retried puts, want 1", n)
	}
	if n := emu.Calls("CreateSecret"); n != 1 {
		t.Errorf("CreateSecret calls = %d, want 1", n)
	}
}

// TestVersionIDsTellNothingOfTheContent: the ClientRequestToken (the version id) is
// random, so two secrets holding the same token, or a token stored again, cannot be
// told apart by their version ids (a content hash would show it to anyone allowed to
// list versions).
func TestVersionIDsTellNothingOfTheContent(t *testing.T) {
	t.Parallel()
	v, c, _ := own(t, "")
	rt := refreshToken(t, "same", authz.RegionNA)
	b := refreshToken(t, "other", authz.RegionNA)
	ids := map[string]string{}
	for _, step := range []struct {
		conn string
		rt   vault.RefreshToken
	}{{"one", rt}, {"two", rt}, {"one", b}, {"one", rt}} {
		if _, err := v.Put(ctx, step.conn, authz.RegionNA, step.rt); err != nil {
			t.Fatal(err)
		}
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(v.SecretName(step.conn, authz.RegionNA))})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.VersionId)
		if prev, seen := ids[id]; seen {
			t.Errorf("version id %s of %s repeats the one of %s", id, step.conn, prev)
		}
		ids[id] = step.conn
	}
}

func TestPutOfAnEarlierValueMakesItCurrentAgain(t *testing.T) {
	t.Parallel()
	v, _, emu := own(t, "")
	a, b := refreshToken(t, "a", authz.RegionEU), refreshToken(t, "b", authz.RegionEU)
	for _, rt := range []vault.RefreshToken{a, b, a} {
		if _, err := v.Put(ctx, "acme", authz.RegionEU, rt); err != nil {
			t.Fatal(err)
		}
	}
	got, err := v.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.Reveal() != a.Token.Reveal() {
		t.Error("after puts a, b, a the current token is not a")
	}
	if n := emu.Versions(v.SecretName("acme", authz.RegionEU)); n != 3 {
		t.Errorf("Versions = %d, want 3 (one per change of value)", n)
	}
}

func TestCreateSetsTagsKMSKeyAndDescription(t *testing.T) {
	t.Parallel()
	v, c, _ := own(t, "alias/keeper-secrets")
	if _, err := v.Put(ctx, "acme", authz.RegionFE, refreshToken(t, "rt", authz.RegionFE)); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(v.SecretName("acme", authz.RegionFE))})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range d.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if want := map[string]string{"connectionId": "acme", "region": "fe"}; fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}
	if got := aws.ToString(d.KmsKeyId); got != "alias/keeper-secrets" {
		t.Errorf("KmsKeyId = %q, want alias/keeper-secrets", got)
	}
	if !strings.Contains(aws.ToString(d.Description), "acme") {
		t.Errorf("Description = %q, want it to name the connection", aws.ToString(d.Description))
	}

	// Without a key the vault leaves the choice to Secrets Manager (aws/secretsmanager).
	v2, c2, _ := own(t, "")
	if _, err := v2.Put(ctx, "acme", authz.RegionFE, refreshToken(t, "rt", authz.RegionFE)); err != nil {
		t.Fatal(err)
	}
	d2, err := c2.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(v2.SecretName("acme", authz.RegionFE))})
	if err != nil {
		t.Fatal(err)
	}
	if d2.KmsKeyId != nil {
		t.Errorf("KmsKeyId = %q with no key configured, want none", aws.ToString(d2.KmsKeyId))
	}
}

func TestGetMissingIsErrNotFound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, v *vault.Vault, c *secretsmanager.Client)
	}{
		{"never written", func(*testing.T, *vault.Vault, *secretsmanager.Client) {}},
		{"forgotten", func(t *testing.T, v *vault.Vault, _ *secretsmanager.Client) {
			if _, err := v.Put(ctx, "acme", authz.RegionNA, refreshToken(t, "rt", authz.RegionNA)); err != nil {
				t.Fatal(err)
			}
			if err := v.Delete(ctx, "acme", authz.RegionNA); err != nil {
				t.Fatal(err)
			}
		}},
		{"scheduled for deletion", func(t *testing.T, v *vault.Vault, c *secretsmanager.Client) {
			if _, err := v.Put(ctx, "acme", authz.RegionNA, refreshToken(t, "rt", authz.RegionNA)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(v.SecretName("acme", authz.RegionNA)), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, c := shared(t)
			tc.setup(t, v, c)
			_, err := v.Get(ctx, "acme", authz.RegionNA)
			if !errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("Get err = %v, want ErrNotFound", err)
			}
			if errors.Is(err, vault.ErrUnavailable) {
				t.Errorf("a missing secret also classified as unavailable: %v", err)
			}
		})
	}
}

func TestDeleteOfMissingSecretIsNil(t *testing.T) {
	t.Parallel()
	v, _ := shared(t)
	if err := v.Delete(ctx, "nobody", authz.RegionEU); err != nil {
		t.Fatalf("Delete of a missing secret: %v", err)
	}
}

func TestPutRestoresASecretScheduledForDeletion(t *testing.T) {
	t.Parallel()
	v, c := shared(t)
	if _, err := v.Put(ctx, "acme", authz.RegionEU, refreshToken(t, "old", authz.RegionEU)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(v.SecretName("acme", authz.RegionEU)), RecoveryWindowInDays: aws.Int64(30)}); err != nil {
		t.Fatal(err)
	}
	renewed := refreshToken(t, "new", authz.RegionEU)
	if _, err := v.Put(ctx, "acme", authz.RegionEU, renewed); err != nil {
		t.Fatalf("Put onto a secret scheduled for deletion: %v", err)
	}
	got, err := v.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.Reveal() != renewed.Token.Reveal() {
		t.Error("the new token is not current after the restore")
	}
}

func TestSecretsManagerFailuresAreErrUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		op      string
		errType string
		n       int
		wantErr bool
	}{
		{"one InternalServiceError is retried by the SDK", "GetSecretValue", "InternalServiceError", 1, false},
		{"InternalServiceError on every attempt", "GetSecretValue", "InternalServiceError", 3, true},
		{"throttled reads", "GetSecretValue", "ThrottlingException", 3, true},
		{"throttled writes", "PutSecretValue", "ThrottlingException", 3, true},
		{"service unavailable on create", "CreateSecret", "ServiceUnavailable", 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, _, emu := own(t, "")
			if tc.op != "CreateSecret" {
				if _, err := v.Put(ctx, "acme", authz.RegionNA, refreshToken(t, "seed", authz.RegionNA)); err != nil {
					t.Fatal(err)
				}
			}
			emu.FailNext(tc.op, tc.n, tc.errType)
			var err error
			if tc.op == "GetSecretValue" {
				_, err = v.Get(ctx, "acme", authz.RegionNA)
			} else {
				_, err = v.Put(ctx, "acme", authz.RegionNA, refreshToken(t, "next", authz.RegionNA))
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("err = %v, want the SDK's retry to succeed", err)
				}
				return
			}
			if !errors.Is(err, vault.ErrUnavailable) || errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("err = %v, want ErrUnavailable only", err)
			}
		})
	}
}

func TestUnreachableSecretsManagerIsErrUnavailable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(secretsemu.New())
	url := srv.URL
	srv.Close() // nothing listens there any more
	c := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
	v := vault.New(c, "p", "")
	if _, err := v.Get(ctx, "acme", authz.RegionNA); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Get err = %v, want ErrUnavailable", err)
	}
	if _, err := v.Put(ctx, "acme", authz.RegionNA, refreshToken(t, "rt", authz.RegionNA)); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Put err = %v, want ErrUnavailable", err)
	}
}

func TestCreateRaceFallsBackToPutSecretValue(t *testing.T) {
	t.Parallel()
	v, _, emu := own(t, "")
	if _, err := v.Put(ctx, "acme", authz.RegionEU, refreshToken(t, "other-writer", authz.RegionEU)); err != nil {
		t.Fatal(err)
	}
	// As if the secret did not exist yet when this writer looked: its read finds
	// nothing, and its CreateSecret then meets the other writer's secret.
	emu.FailNext("GetSecretValue", 1, "ResourceNotFoundException")
	putsBefore, createsBefore := emu.Calls("PutSecretValue"), emu.Calls("CreateSecret")
	mine := refreshToken(t, "mine", authz.RegionEU)
	if _, err := v.Put(ctx, "acme", authz.RegionEU, mine); err != nil {
		t.Fatalf("Put that lost the create race: %v", err)
	}
	if p, c := emu.Calls("PutSecretValue")-putsBefore, emu.Calls("CreateSecret")-createsBefore; p != 1 || c != 1 {
		t.Errorf("PutSecretValue %d, CreateSecret %d calls; want 1 and 1", p, c)
	}
	got, err := v.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.Reveal() != mine.Token.Reveal() {
		t.Error("the token of the writer that lost the race is not current")
	}
}

func TestConcurrentFirstPutsCreateOneSecret(t *testing.T) {
	t.Parallel()
	v, _, emu := own(t, "")
	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := v.Put(ctx, "acme", authz.RegionNA, refreshToken(t, fmt.Sprint(i), authz.RegionNA)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := emu.Versions(v.SecretName("acme", authz.RegionNA)); n != writers {
		t.Errorf("Versions = %d, want %d (one per writer, none lost)", n, writers)
	}
	if _, err := v.Get(ctx, "acme", authz.RegionNA); err != nil {
		t.Fatal(err)
	}
}

func TestPutRejectsBadInputWithoutCallingAWS(t *testing.T) {
	t.Parallel()
	v, _, emu := own(t, "")
	tests := []struct {
		name   string
		conn   string
		region authz.Region
		rt     vault.RefreshToken
	}{
		{"connection id with a slash", "a/b", authz.RegionNA, refreshToken(t, "rt", authz.RegionNA)},
		{"unknown region", "acme", "us", refreshToken(t, "rt", "us")},
		{"empty token", "acme", authz.RegionNA, vault.RefreshToken{Region: authz.RegionNA}},
		{"token of another region", "acme", authz.RegionNA, refreshToken(t, "rt", authz.RegionEU)},
	}
	for _, tc := range tests {
		if _, err := v.Put(ctx, tc.conn, tc.region, tc.rt); err == nil {
			t.Errorf("%s: Put succeeded", tc.name)
		}
	}
	if n := emu.Calls("PutSecretValue") + emu.Calls("CreateSecret"); n != 0 {
		t.Errorf("%d write calls reached Secrets Manager", n)
	}
}

func TestClientCredentialsRoundTrip(t *testing.T) {
	t.Parallel()
	c := testenv.SecretsManager(t)
	prefix := testenv.Prefix(t)
	v := vault.New(c, prefix, "")
	if _, err := v.ClientCredentials(ctx); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("before any put: err = %v, want ErrNotFound", err)
	}
	first := vault.ClientCredentials{ClientID: "amzn1.application-oa2-client.1", ClientSecret: token(t, "client1"), ClientSecretExpiresAt: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)}
	rotated := vault.ClientCredentials{ClientID: "amzn1.application-oa2-client.1", ClientSecret: token(t, "client2"), ClientSecretExpiresAt: time.Date(2030, 11, 28, 0, 0, 0, 0, time.UTC)}
	for _, cc := range []vault.ClientCredentials{first, rotated} {
		if err := v.PutClientCredentials(ctx, cc); err != nil {
			t.Fatal(err)
		}
		got, err := v.ClientCredentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.ClientID != cc.ClientID || got.ClientSecret.Reveal() != cc.ClientSecret.Reveal() || !got.ClientSecretExpiresAt.Equal(cc.ClientSecretExpiresAt) {
			t.Errorf("ClientCredentials = {%s, expires %v}, want {%s, expires %v} and the same secret",
				got.ClientID, got.ClientSecretExpiresAt, cc.ClientID, cc.ClientSecretExpiresAt)
		}
	}
	// The rotated-away secret stays readable as AWSPREVIOUS, for the overlap Amazon allows.
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(prefix + "/lwa-client"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(prev.SecretString), first.ClientSecret.Reveal()) {
		t.Error("AWSPREVIOUS does not hold the rotated-away client secret")
	}
}

func TestClientCredentialsSeededByAnOperator(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, seed  string
		wantExpires time.Time
		wantErr     error
	}{
		{"RFC 3339 time", `{"clientId":"id","clientSecret":"s3cr3t","clientSecretExpiresAt":"2030-06-01T12:00:00Z"}`, time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC), nil},
		{"date only", `{"clientId":"id","clientSecret":"s3cr3t","clientSecretExpiresAt":"2030-06-01"}`, time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC), nil},
		{"no expiry", `{"clientId":"id","clientSecret":"s3cr3t"}`, time.Time{}, nil},
		{"bad expiry", `{"clientId":"id","clientSecret":"s3cr3t","clientSecretExpiresAt":"June"}`, time.Time{}, vault.ErrMalformed},
		{"no secret", `{"clientId":"id"}`, time.Time{}, vault.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testenv.SecretsManager(t)
			prefix := testenv.Prefix(t)
			if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + "/lwa-client"), SecretString: aws.String(tc.seed)}); err != nil {
				t.Fatal(err)
			}
			got, err := vault.New(c, prefix, "").ClientCredentials(ctx)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (!got.ClientSecretExpiresAt.Equal(tc.wantExpires) || got.ClientID != "id" || got.ClientSecret.Reveal() != "s3cr3t") {
				t.Errorf("got id %s expires %v, want id expires %v", got.ClientID, got.ClientSecretExpiresAt, tc.wantExpires)
			}
		})
	}
}

func TestStateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		seed    string // written straight to Secrets Manager, as CloudFormation would
		wantErr error
	}{
		{"generated key of 64 characters", strings.Repeat("k", 64), nil},
		{"exactly 32 bytes", strings.Repeat("k", 32), nil},
		{"31 bytes", strings.Repeat("k", 31), vault.ErrStateKeyTooShort},
		{"missing", "", vault.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testenv.SecretsManager(t)
			prefix := testenv.Prefix(t)
			v := vault.New(c, prefix, "")
			if tc.seed != "" {
				if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + "/state-key"), SecretString: aws.String(tc.seed)}); err != nil {
					t.Fatal(err)
				}
			}
			key, err := v.StateKey(ctx)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("StateKey err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && key.Reveal() != tc.seed {
				t.Error("StateKey does not return the secret string as is")
			}
		})
	}

	v, _ := shared(t)
	if err := v.PutStateKey(ctx, secret.Value(strings.Repeat("s", 31))); !errors.Is(err, vault.ErrStateKeyTooShort) {
		t.Errorf("PutStateKey of 31 bytes: err = %v, want ErrStateKeyTooShort", err)
	}
	key := secret.Value(strings.Repeat("0123456789abcdef", 4))
	if err := v.PutStateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, err := v.StateKey(ctx); err != nil || got.Reveal() != key.Reveal() {
		t.Errorf("StateKey after PutStateKey: equal=%v err=%v", got.Reveal() == key.Reveal(), err)
	}
}

func TestMalformedSecretsAreErrMalformed(t *testing.T) {
	t.Parallel()
	leak := "Atzr|IwEBIleakyleakyleaky"
	tests := []struct {
		name, value string
	}{
		{"not JSON", leak + " {"},
		{"JSON with a bad character inside", `{"refreshToken":"` + leak + `"` + leak + `}`},
		{"token of the wrong type", `{"refreshToken":12345678901234,"region":"eu","authorizedAt":"2030-01-01T00:00:00Z"}`},
		{"no token", `{"region":"eu","authorizedAt":"2030-01-01T00:00:00Z"}`},
		{"bad date", `{"refreshToken":"` + leak + `","region":"eu","authorizedAt":"yesterday"}`},
		{"other region", `{"refreshToken":"` + leak + `","region":"na","authorizedAt":"2030-01-01T00:00:00Z"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, c := shared(t)
			if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(v.SecretName("acme", authz.RegionEU)), SecretString: aws.String(tc.value)}); err != nil {
				t.Fatal(err)
			}
			_, err := v.Get(ctx, "acme", authz.RegionEU)
			if !errors.Is(err, vault.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			for _, s := range []string{leak, "12345678901234", "leaky"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes the secret's content", err)
				}
			}
		})
	}
}

// TestNoSecretValueLeaks runs the vault's operations, successes and failures, and
// checks that no token, client secret or key appears in anything it logged, in any
// error message, or in any way of printing what it returned.
func TestNoSecretValueLeaks(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	handler := slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	c, emu := testenv.SecretsManagerInProcess(t)
	prefix := testenv.Prefix(t)
	v := vault.New(c, prefix, "alias/k").WithLogger(slog.New(handler))

	secrets := []secret.Value{token(t, "one"), token(t, "two"), token(t, "client"), secret.Value("statekey-" + strings.Repeat("q", 40)), secret.Value("shortkey")}
	var seen []string
	record := func(vals ...any) {
		for _, val := range vals {
			if err, ok := val.(error); ok && err != nil {
				seen = append(seen, err.Error())
				continue
			}
			seen = append(seen, fmt.Sprintf("%v %+v %#v %s", val, val, val, val))
		}
	}

	rt1 := vault.RefreshToken{Token: secrets[0], SellingPartnerID: "A1", Region: authz.RegionEU, AuthorizedAt: authorizedAt}
	rt2 := rt1
	rt2.Token = secrets[1]
	for _, rt := range []vault.RefreshToken{rt1, rt2, rt1, rt1} {
		id, err := v.Put(ctx, "acme", authz.RegionEU, rt)
		record(id, err, rt)
	}
	got, err := v.Get(ctx, "acme", authz.RegionEU)
	record(got, err)
	emu.FailNext("PutSecretValue", 3, "InternalServiceError")
	_, err = v.Put(ctx, "acme", authz.RegionEU, rt2)
	record(err)
	emu.FailNext("GetSecretValue", 3, "ThrottlingException")
	got, err = v.Get(ctx, "acme", authz.RegionEU)
	record(got, err)
	_, err = v.Put(ctx, "acme", "xx", rt1)
	record(err)
	_, err = v.Put(ctx, "acme", authz.RegionNA, rt1)
	record(err)

	cc := vault.ClientCredentials{ClientID: "amzn1.client", ClientSecret: secrets[2], ClientSecretExpiresAt: authorizedAt}
	record(v.PutClientCredentials(ctx, cc))
	gotCC, err := v.ClientCredentials(ctx)
	record(gotCC, err)

	record(v.PutStateKey(ctx, secrets[3]))
	key, err := v.StateKey(ctx)
	record(key, err)
	record(v.PutStateKey(ctx, secrets[4]))
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(prefix + "/state-key"), SecretString: aws.String(secrets[4].Reveal())})
	record(err)
	key, err = v.StateKey(ctx)
	record(key, err)
	record(v.Delete(ctx, "acme", authz.RegionEU))

	if gotCC.ClientSecret.Reveal() != secrets[2].Reveal() {
		t.Fatal("the leak test's own round trip failed; it would prove nothing")
	}
	if logs.Len() == 0 {
		t.Fatal("the vault logged nothing; the leak test would prove nothing")
	}
	captured := logs.String() + "\n" + strings.Join(seen, "\n")
	for i, s := range secrets {
		if strings.Contains(captured, s.Reveal()) {
			t.Errorf("secret %d appears in the logs or an error:\n%s", i, captured)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
