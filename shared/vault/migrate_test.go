package vault_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// scheduledForDeletion tells whether a secret exists and is scheduled for deletion
// (kept for its recovery window).
func (e *packedEnv) scheduledForDeletion(t *testing.T, name string) bool {
	t.Helper()
	out, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	return err == nil && out.DeletedDate != nil
}

// TestMigrationBothWaysSurvivesACrash moves ten authorizations from their own secrets
// into buckets and back, each time stopping half way (Secrets Manager failing), then
// running again: every token is readable at every step, nothing is copied twice, and
// each old copy goes only once its new one has been read back.
func TestMigrationBothWaysSurvivesACrash(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{MaxEntries: 4, WritesPerSecond: -1})
	own, packed := env.vault(vault.LayoutPerAuthorization), env.vault(vault.LayoutPacked)
	const n = 10
	region := func(i int) authz.Region { return []authz.Region{authz.RegionNA, authz.RegionEU, authz.RegionFE}[i%3] }
	for i := range n {
		if _, err := own.Put(ctx, conn(i), region(i), rtok(fmt.Sprint(i), region(i))); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func(step string) {
		t.Helper()
		for _, v := range []*vault.Vault{env.vault(vault.LayoutPacked), env.vault(vault.LayoutPerAuthorization)} {
			for i := range n {
				got, err := v.Get(ctx, conn(i), region(i))
				if err != nil || got.Token != tok(fmt.Sprint(i)) {
					t.Fatalf("%s: %s/%s unreadable or wrong (%v)", step, conn(i), region(i), err)
				}
			}
		}
	}

	dry, err := packed.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPacked, DryRun: true})
	if err != nil || dry.Found != n || dry.Copied != n || dry.Retired != 0 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if w := env.emu.Calls("PutSecretValue") + env.emu.Calls("CreateSecret"); w != n {
		t.Fatalf("the dry run wrote: %d writes, want the %d of the setup", w, n)
	}

	// To packed; the crash comes after the first batch's copy, at its first deletion.
	env.emu.FailNext("DeleteSecret", 3, "InternalServiceError") // the SDK's three attempts
	if _, err := packed.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPacked, Batch: 4}); err == nil {
		t.Fatal("the migration did not notice Secrets Manager failing")
	}
	readAll("to packed, after the crash")
	m, err := packed.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPacked, Batch: 4, RecoveryDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if m.Found != n || m.AlreadyThere != 4 || m.Copied != n-4 || m.Verified != n || m.Retired != n || len(m.Skipped) > 0 {
		t.Errorf("resumed migration to packed: %+v", m)
	}
	for i := range n {
		if !env.scheduledForDeletion(t, own.SecretName(conn(i), region(i))) {
			t.Errorf("%s's own secret is not scheduled for deletion (recovery window kept)", conn(i))
		}
	}
	readAll("to packed, done")
	if again, err := packed.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPacked}); err != nil || again.Found != 0 {
		t.Errorf("migration run a third time: %+v, %v", again, err)
	}

	// And back; the crash comes at the first write of a token to its own secret again.
	env.emu.FailNext("PutSecretValue", 3, "InternalServiceError")
	if _, err := own.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPerAuthorization}); err == nil {
		t.Fatal("the migration back did not notice Secrets Manager failing")
	}
	readAll("to per-authorization, after the crash")
	m, err = own.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPerAuthorization})
	if err != nil {
		t.Fatal(err)
	}
	if m.Verified != m.Found || m.Retired != m.Found || m.Found+len(m.Skipped) == 0 {
		t.Errorf("resumed migration to per-authorization: %+v", m)
	}
	readAll("to per-authorization, done")
	for b := 1; b <= 3; b++ {
		if _, err := env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(packed.BucketName(b))}); err == nil {
			t.Errorf("bucket %d still exists after every entry moved out", b)
		}
	}
	for i := range n {
		if env.scheduledForDeletion(t, own.SecretName(conn(i), region(i))) {
			t.Errorf("%s's own secret is still scheduled for deletion: restored to hold the token again?", conn(i))
		}
	}
}
