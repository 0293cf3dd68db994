package secretsemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
)

// start serves a fresh emulator and returns the production SDK client pointed at it,
// with the SDK's standard retries (3 attempts) but millisecond backoff.
func start(t *testing.T, opts ...secretsemu.Option) (*secretsmanager.Client, *secretsemu.Server) {
	t.Helper()
	emu := secretsemu.New(opts...)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.RateLimiter = ratelimit.None
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	return client, emu
}

var ctx = context.Background()

func create(t *testing.T, c *secretsmanager.Client, name, value string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return out
}

func put(t *testing.T, c *secretsmanager.Client, name, value string) *secretsmanager.PutSecretValueOutput {
	t.Helper()
	out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("PutSecretValue %s: %v", name, err)
	}
	return out
}

func describe(t *testing.T, c *secretsmanager.Client, id string) *secretsmanager.DescribeSecretOutput {
	t.Helper()
	out, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeSecret %s: %v", id, err)
	}
	return out
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

var arnPattern = regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-[A-Za-z0-9]{6}$`)

func TestGetSecretValueByNameAndARN(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	created := create(t, c, "app/db", `{"password":"hunter2"}`)
	if !arnPattern.MatchString(aws.ToString(created.ARN)) {
		t.Fatalf("ARN = %q, want arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-XXXXXX", aws.ToString(created.ARN))
	}
	partial := "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db"
	for _, id := range []string{"app/db", aws.ToString(created.ARN), partial} {
		t.Run(id, func(t *testing.T) {
			got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				t.Fatalf("GetSecretValue: %v", err)
			}
			if aws.ToString(got.SecretString) != `{"password":"hunter2"}` || aws.ToString(got.Name) != "app/db" ||
				aws.ToString(got.VersionId) != aws.ToString(created.VersionId) || !slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) {
				t.Errorf("got name=%s version=%s stages=%v value ok=%v", aws.ToString(got.Name), aws.ToString(got.VersionId), got.VersionStages, aws.ToString(got.SecretString) == `{"password":"hunter2"}`)
			}
			if got.CreatedDate == nil || time.Since(*got.CreatedDate) > time.Minute {
				t.Errorf("CreatedDate = %v, want about now", got.CreatedDate)
			}
		})
	}
}

func TestSecretBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	blob := []byte{0, 1, 2, 0xfe, 0xff}
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: blob}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.SecretBinary, blob) || got.SecretString != nil {
		t.Fatalf("SecretBinary = %v, SecretString = %v; want %v and none", got.SecretBinary, got.SecretString, blob)
	}
}

func TestPutSecretValueMovesCurrentAndPrevious(t *testing.T) {
	t.Parallel()
	c, emu := start(t)
	v1 := aws.ToString(create(t, c, "s", "one").VersionId)
	v2 := aws.ToString(put(t, c, "s", "two").VersionId)
	out3 := put(t, c, "s", "three")
	v3 := aws.ToString(out3.VersionId)
	if !slices.Equal(out3.VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("PutSecretValue stages = %v, want [AWSCURRENT]", out3.VersionStages)
	}

	d := describe(t, c, "s")
	want := map[string][]string{v3: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if fmt.Sprint(d.VersionIdsToStages) != fmt.Sprint(want) {
		t.Errorf("VersionIdsToStages = %v, want %v (v1 deprecated, no labels)", d.VersionIdsToStages, want)
	}
	if n := emu.Versions("s"); n != 3 {
		t.Errorf("Versions = %d, want 3", n)
	}

	for _, tc := range []struct {
		name  string
		in    secretsmanager.GetSecretValueInput
		value string
	}{
		{"default is AWSCURRENT", secretsmanager.GetSecretValueInput{}, "three"},
		{"AWSPREVIOUS", secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSPREVIOUS")}, "two"},
		{"deprecated version by id", secretsmanager.GetSecretValueInput{VersionId: aws.String(v1)}, "one"},
		{"id and matching stage", secretsmanager.GetSecretValueInput{VersionId: aws.String(v3), VersionStage: aws.String("AWSCURRENT")}, "three"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.SecretId = aws.String("s")
			got, err := c.GetSecretValue(ctx, &in)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(got.SecretString) != tc.value {
				t.Errorf("value = %q, want %q", aws.ToString(got.SecretString), tc.value)
			}
		})
	}
	_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionId: aws.String(v1), VersionStage: aws.String("AWSCURRENT")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("version id with a stage it does not carry: err = %v, want ResourceNotFoundException", err)
	}
}

func TestPendingVersionPromotedWithUpdateSecretVersionStage(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	v1 := aws.ToString(create(t, c, "rot", "old").VersionId)
	pending, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("rot"), SecretString: aws.String("new"), VersionStages: []string{"AWSPENDING"},
	})
	if err != nil {
		t.Fatal(err)
	}
	v2 := aws.ToString(pending.VersionId)
	if cur, _ := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rot")}); aws.ToString(cur.SecretString) != "old" {
		t.Fatalf("AWSPENDING put moved AWSCURRENT: current = %q", aws.ToString(cur.SecretString))
	}

	// Moving a label that another version holds requires naming that version.
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("rot"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(v2),
	})
	var ip *types.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Fatalf("move without RemoveFromVersionId: err = %v, want InvalidParameterException", err)
	}
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("rot"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(v2), RemoveFromVersionId: aws.String(v1),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := describe(t, c, "rot")
	want := map[string][]string{v2: {"AWSCURRENT", "AWSPENDING"}, v1: {"AWSPREVIOUS"}}
	if fmt.Sprint(d.VersionIdsToStages) != fmt.Sprint(want) {
		t.Errorf("after promotion VersionIdsToStages = %v, want %v", d.VersionIdsToStages, want)
	}

	// Removing AWSPENDING is allowed; removing AWSCURRENT is not.
	if _, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("rot"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(v2),
	}); err != nil {
		t.Fatalf("remove AWSPENDING: %v", err)
	}
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("rot"), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(v2),
	})
	if !errors.As(err, &ip) {
		t.Errorf("remove AWSCURRENT: err = %v, want InvalidParameterException", err)
	}
}

func TestClientRequestTokenIdempotency(t *testing.T) {
	t.Parallel()
	const token = "11111111-2222-4333-8444-555555555555"
	tests := []struct {
		name         string
		retryValue   string
		wantErr      any
		wantVersions int
	}{
		{"same token and value is ignored", "v", nil, 2},
		{"same token, other value is refused", "other", new(*types.ResourceExistsException), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, emu := start(t)
			create(t, c, "idem", "first")
			in := &secretsmanager.PutSecretValueInput{SecretId: aws.String("idem"), SecretString: aws.String("v"), ClientRequestToken: aws.String(token)}
			first, err := c.PutSecretValue(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			retry := *in
			retry.SecretString = aws.String(tc.retryValue)
			again, err := c.PutSecretValue(ctx, &retry)
			if tc.wantErr != nil {
				if !errors.As(err, tc.wantErr) {
					t.Fatalf("retry err = %v, want %T", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if aws.ToString(again.VersionId) != aws.ToString(first.VersionId) || !slices.Equal(again.VersionStages, []string{"AWSCURRENT"}) {
					t.Errorf("retry answered version %s %v, want %s [AWSCURRENT]", aws.ToString(again.VersionId), again.VersionStages, aws.ToString(first.VersionId))
				}
			}
			if n := emu.Versions("idem"); n != tc.wantVersions {
				t.Errorf("Versions = %d, want %d", n, tc.wantVersions)
			}
			d := describe(t, c, "idem")
			if got := d.VersionIdsToStages[token]; !slices.Equal(got, []string{"AWSCURRENT"}) {
				t.Errorf("stages of %s = %v, want [AWSCURRENT]", token, got)
			}
		})
	}
}

func TestCreateSecretRules(t *testing.T) {
	t.Parallel()
	const token = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	tests := []struct {
		name     string
		in       secretsmanager.CreateSecretInput
		wantCode string
	}{
		{"existing name", secretsmanager.CreateSecretInput{Name: aws.String("taken"), SecretString: aws.String("x")}, "ResourceExistsException"},
		{"retried create with the same token and value", secretsmanager.CreateSecretInput{Name: aws.String("taken"), SecretString: aws.String("v"), ClientRequestToken: aws.String(token)}, ""},
		{"same token, other value", secretsmanager.CreateSecretInput{Name: aws.String("taken"), SecretString: aws.String("w"), ClientRequestToken: aws.String(token)}, "ResourceExistsException"},
		{"name with a space", secretsmanager.CreateSecretInput{Name: aws.String("bad name"), SecretString: aws.String("x")}, "ValidationException"},
		{"name with a colon", secretsmanager.CreateSecretInput{Name: aws.String("bad:name"), SecretString: aws.String("x")}, "ValidationException"},
		{"name of 513 characters", secretsmanager.CreateSecretInput{Name: aws.String(string(bytes.Repeat([]byte("a"), 513))), SecretString: aws.String("x")}, "ValidationException"},
		{"every allowed character", secretsmanager.CreateSecretInput{Name: aws.String("aZ09/_+=.@-"), SecretString: aws.String("x")}, ""},
		{"string and binary", secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("x"), SecretBinary: []byte("y")}, "InvalidParameterException"},
		{"reserved tag key", secretsmanager.CreateSecretInput{Name: aws.String("tagged"), SecretString: aws.String("x"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}, "InvalidParameterException"},
		{"no value", secretsmanager.CreateSecretInput{Name: aws.String("empty")}, ""},
	}
	c, _ := start(t)
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("taken"), SecretString: aws.String("v"), ClientRequestToken: aws.String(token)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateSecret(ctx, &tc.in)
			if got := errorCode(err); got != tc.wantCode {
				t.Errorf("error code = %q (%v), want %q", got, err, tc.wantCode)
			}
		})
	}
	// A secret created without a value has no AWSCURRENT version to read.
	_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetSecretValue of a secret without a value: err = %v, want ResourceNotFoundException", err)
	}
	// Its first PutSecretValue becomes AWSCURRENT even when other labels are asked for.
	out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("empty"), SecretString: aws.String("v"), VersionStages: []string{"AWSPENDING"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.VersionStages, []string{"AWSCURRENT", "AWSPENDING"}) {
		t.Errorf("first version stages = %v, want [AWSCURRENT AWSPENDING]", out.VersionStages)
	}
}

func TestErrorsReachTheSDKTyped(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want *types.ResourceNotFoundException", err)
	}
	if nf.ErrorMessage() == "" {
		t.Error("ResourceNotFoundException has no message: the body's Message was not read")
	}
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("missing"), SecretString: aws.String("x")})
	if !errors.As(err, &nf) {
		t.Errorf("PutSecretValue on a missing secret: err = %v, want ResourceNotFoundException", err)
	}
}

func TestScheduledDeletionAndRestore(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	c, _ := start(t, secretsemu.WithClock(clock))

	arn := aws.ToString(create(t, c, "doomed", "v").ARN)
	del, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("doomed"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(7 * 24 * time.Hour); !del.DeletionDate.Equal(want) {
		t.Errorf("DeletionDate = %v, want %v", del.DeletionDate, want)
	}

	var ir *types.InvalidRequestException
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("doomed")})
	if !errors.As(err, &ir) {
		t.Errorf("GetSecretValue while scheduled for deletion: err = %v, want InvalidRequestException", err)
	}
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("doomed"), SecretString: aws.String("w")})
	if !errors.As(err, &ir) {
		t.Errorf("PutSecretValue while scheduled for deletion: err = %v, want InvalidRequestException", err)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("doomed"), SecretString: aws.String("w")})
	if !errors.As(err, &ir) {
		t.Errorf("CreateSecret of a name scheduled for deletion: err = %v, want InvalidRequestException", err)
	}
	if d := describe(t, c, "doomed"); d.DeletedDate == nil || !d.DeletedDate.Equal(clock()) {
		t.Errorf("DeletedDate = %v, want %v", d.DeletedDate, clock())
	}
	listed := func(include bool) int {
		out, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(include)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.SecretList)
	}
	if a, b := listed(false), listed(true); a != 0 || b != 1 {
		t.Errorf("ListSecrets = %d without and %d with IncludePlannedDeletion, want 0 and 1", a, b)
	}

	if _, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("doomed")})
	if err != nil || aws.ToString(got.SecretString) != "v" {
		t.Fatalf("after restore: value ok=%v err=%v", aws.ToString(got.SecretString) == "v", err)
	}

	// Past the recovery window the secret is gone for good and the name is free again.
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("doomed"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	advance(7*24*time.Hour + time.Second)
	var nf *types.ResourceNotFoundException
	if _, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("doomed")}); !errors.As(err, &nf) {
		t.Errorf("after the recovery window: err = %v, want ResourceNotFoundException", err)
	}
	again := create(t, c, "doomed", "new")
	if aws.ToString(again.ARN) == arn {
		t.Error("a secret created again under the same name kept the old ARN")
	}
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}); !errors.As(err, &nf) {
		t.Errorf("old ARN: err = %v, want ResourceNotFoundException", err)
	}
}

func TestDeleteSecretParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       secretsmanager.DeleteSecretInput
		wantCode string
		gone     bool
	}{
		{"force deletes at once", secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true)}, "", true},
		{"force on a missing secret succeeds", secretsmanager.DeleteSecretInput{SecretId: aws.String("never"), ForceDeleteWithoutRecovery: aws.Bool(true)}, "", false},
		{"missing secret without force", secretsmanager.DeleteSecretInput{SecretId: aws.String("never")}, "ResourceNotFoundException", false},
		{"force with a window", secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true), RecoveryWindowInDays: aws.Int64(7)}, "InvalidParameterException", false},
		{"window too short", secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(6)}, "InvalidParameterException", false},
		{"window too long", secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(31)}, "InvalidParameterException", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, emu := start(t)
			create(t, c, "s", "v")
			_, err := c.DeleteSecret(ctx, &tc.in)
			if got := errorCode(err); got != tc.wantCode {
				t.Fatalf("error code = %q (%v), want %q", got, err, tc.wantCode)
			}
			if gone := emu.Versions("s") == 0; gone != tc.gone {
				t.Errorf("secret gone = %v, want %v", gone, tc.gone)
			}
		})
	}
}

func TestTagsAndMetadata(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("meta"), SecretString: aws.String("v"), KmsKeyId: aws.String("alias/keeper"),
		Description: aws.String("SP-API token"),
		Tags:        []types.Tag{{Key: aws.String("connectionId"), Value: aws.String("acme")}, {Key: aws.String("region"), Value: aws.String("eu")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := describe(t, c, "meta")
	if aws.ToString(before.KmsKeyId) != "alias/keeper" || aws.ToString(before.Description) != "SP-API token" {
		t.Errorf("KmsKeyId = %q, Description = %q", aws.ToString(before.KmsKeyId), aws.ToString(before.Description))
	}
	if _, err := c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("meta"), Tags: []types.Tag{
		{Key: aws.String("region"), Value: aws.String("na")}, {Key: aws.String("team"), Value: aws.String("ops")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("meta"), TagKeys: []string{"connectionId"}}); err != nil {
		t.Fatal(err)
	}
	after := describe(t, c, "meta")
	got := map[string]string{}
	for _, tg := range after.Tags {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if want := map[string]string{"region": "na", "team": "ops"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	if after.LastChangedDate == nil || after.LastChangedDate.Before(*before.LastChangedDate) || after.CreatedDate == nil {
		t.Errorf("LastChangedDate %v → %v, CreatedDate %v", before.LastChangedDate, after.LastChangedDate, after.CreatedDate)
	}
}

func TestListSecretsFiltersAndPages(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	for _, s := range []struct{ name, conn string }{
		{"p1/sp-api/acme/eu", "acme"}, {"p1/sp-api/acme/na", "acme"}, {"p1/sp-api/bolt/na", "bolt"},
		{"p2/sp-api/acme/eu", "acme"}, {"P1/upper", "x"},
	} {
		_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(s.name), SecretString: aws.String("v"),
			Tags: []types.Tag{{Key: aws.String("connectionId"), Value: aws.String(s.conn)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"name prefix is case-sensitive", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"p1/"}}},
			[]string{"p1/sp-api/acme/eu", "p1/sp-api/acme/na", "p1/sp-api/bolt/na"}},
		{"name and tag-value", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"p1/"}}, {Key: types.FilterNameStringTypeTagValue, Values: []string{"acme"}}},
			[]string{"p1/sp-api/acme/eu", "p1/sp-api/acme/na"}},
		{"negated tag-value", []types.Filter{{Key: types.FilterNameStringTypeTagValue, Values: []string{"!acme"}}},
			[]string{"P1/upper", "p1/sp-api/bolt/na"}},
		{"either of two names", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"p2/", "P1/"}}},
			[]string{"P1/upper", "p2/sp-api/acme/eu"}},
		{"tag-key prefix", []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{"conn"}}},
			[]string{"P1/upper", "p1/sp-api/acme/eu", "p1/sp-api/acme/na", "p1/sp-api/bolt/na", "p2/sp-api/acme/eu"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			pages := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{
				Filters: tc.filters, MaxResults: aws.Int32(2), SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeAsc,
			})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.SecretList) > 2 {
					t.Fatalf("page of %d secrets, MaxResults 2", len(page.SecretList))
				}
				for _, e := range page.SecretList {
					got = append(got, aws.ToString(e.Name))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	_, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: aws.String("not-a-token")})
	var bad *types.InvalidNextTokenException
	if !errors.As(err, &bad) {
		t.Errorf("bad NextToken: err = %v, want InvalidNextTokenException", err)
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		errType   string
		n         int
		wantErr   bool
		wantCalls int
		check     func(error) bool
	}{
		{"one 500 is retried away", "InternalServiceError", 1, false, 2, nil},
		{"three 500s exhaust the retries", "InternalServiceError", 3, true, 3,
			func(err error) bool { var e *types.InternalServiceError; return errors.As(err, &e) }},
		{"throttling is retried", "ThrottlingException", 2, false, 3, nil},
		{"throttling past the retries", "ThrottlingException", 5, true, 3,
			func(err error) bool { return errorCode(err) == "ThrottlingException" }},
		{"client errors are not retried", "ResourceNotFoundException", 1, true, 1,
			func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, emu := start(t)
			create(t, c, "f", "v")
			emu.FailNext("GetSecretValue", tc.n, tc.errType)
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("f")})
			if (err != nil) != tc.wantErr || (err != nil && !tc.check(err)) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := emu.Calls("GetSecretValue"); got != tc.wantCalls {
				t.Errorf("Calls(GetSecretValue) = %d, want %d", got, tc.wantCalls)
			}
			// Faults are per operation and run out.
			if _, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("f")}); err != nil {
				t.Errorf("DescribeSecret hit a GetSecretValue fault: %v", err)
			}
		})
	}
}

func TestWireProtocol(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(secretsemu.New())
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		target     string
		auth       bool
		body       string
		wantStatus int
		wantType   string
	}{
		{"unsigned request", "secretsmanager.ListSecrets", false, `{}`, 400, "MissingAuthenticationTokenException"},
		{"unknown operation", "secretsmanager.RotateSecret", true, `{}`, 400, "UnknownOperationException"},
		{"other service", "DynamoDB_20120810.ListTables", true, `{}`, 400, "UnknownOperationException"},
		{"body not JSON", "secretsmanager.ListSecrets", true, `{`, 400, "SerializationException"},
		{"wrong JSON type", "secretsmanager.GetSecretValue", true, `{"SecretId":5}`, 400, "SerializationException"},
		{"missing secret", "secretsmanager.GetSecretValue", true, `{"SecretId":"nope"}`, 400, "ResourceNotFoundException"},
		{"list", "secretsmanager.ListSecrets", true, `{}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewBufferString(tc.body))
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", tc.target)
			if tc.auth {
				req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20300101/us-east-1/secretsmanager/aws4_request")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Amzn-Errortype") != tc.wantType {
				t.Errorf("status %d errortype %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), tc.wantStatus, tc.wantType)
			}
			if tc.wantType != "" && body["__type"] != tc.wantType {
				t.Errorf("__type = %v, want %s", body["__type"], tc.wantType)
			}
			if resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId header")
			}
		})
	}
}

func TestConcurrentPutsKeepOneCurrent(t *testing.T) {
	t.Parallel()
	c, emu := start(t)
	create(t, c, "busy", "0")
	const writers = 20
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("busy"), SecretString: aws.String(fmt.Sprint(i + 1))}); err != nil {
				t.Error(err)
			}
			if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("busy")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := emu.Versions("busy"); n != writers+1 {
		t.Errorf("Versions = %d, want %d", n, writers+1)
	}
	d := describe(t, c, "busy")
	current, previous := 0, 0
	for _, stages := range d.VersionIdsToStages {
		for _, s := range stages {
			switch s {
			case "AWSCURRENT":
				current++
			case "AWSPREVIOUS":
				previous++
			}
		}
	}
	if current != 1 || previous != 1 {
		t.Errorf("AWSCURRENT on %d versions and AWSPREVIOUS on %d, want 1 and 1", current, previous)
	}
}
