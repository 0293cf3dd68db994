package samtemplate_test

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
)

// TestStatefulResourcesSurviveTheStack: what holds a seller's authorization or the
// app's credentials outlives a stack delete or a replacement. The keys stay because
// what they encrypt stays: a retained secret (or a DLQ message holding a new client
// secret) is unreadable once its key is gone.
func TestStatefulResourcesSurviveTheStack(t *testing.T) {
	t.Parallel()
	tpl := load(t)
	for _, id := range []string{"Table", "KmsKey", "StateKeySecret", "LwaClientSecret", "ClientSecretNotificationsKey"} {
		res := tpl.Resources[id]
		if res == nil {
			t.Errorf("template.yaml has no %s", id)
			continue
		}
		for _, attr := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v := samtemplate.Get(res, attr); v == nil || v.Value != "Retain" {
				t.Errorf("%s: %s is %v, want Retain", id, attr, v)
			}
		}
	}
	if v := samtemplate.Get(tpl.Resources["Table"], "Properties", "DeletionProtectionEnabled"); v == nil || v.Value != "true" {
		t.Errorf("Table: DeletionProtectionEnabled is %v, want true", v)
	}
}

// statements are a function's inline policy statements.
func statements(f *samtemplate.Function) []*yaml.Node {
	var out []*yaml.Node
	for _, p := range samtemplate.Get(f.Node, "Properties", "Policies").Content {
		if st := samtemplate.Get(p, "Statement"); st != nil {
			out = append(out, st.Content...)
		}
	}
	return out
}

func actionsOf(st *yaml.Node) []string {
	a := samtemplate.Get(st, "Action")
	if a == nil {
		return nil
	}
	if a.Kind == yaml.ScalarNode {
		return []string{a.Value}
	}
	var out []string
	for _, c := range a.Content {
		out = append(out, c.Value)
	}
	return out
}

// resourceRefs names the resources a statement's Resource points at (!GetAtt X.Arn, !Ref X).
func resourceRefs(st *yaml.Node) []string {
	r := samtemplate.Get(st, "Resource")
	if r == nil {
		return nil
	}
	nodes := []*yaml.Node{r}
	if r.Kind == yaml.SequenceNode {
		nodes = r.Content
	}
	var out []string
	for _, n := range nodes {
		switch n.Tag {
		case "!GetAtt":
			out = append(out, strings.SplitN(n.Value, ".", 2)[0])
		case "!Ref":
			out = append(out, n.Value)
		default:
			out = append(out, n.Value)
		}
	}
	return out
}

// parkedPurpose is the "purpose" of the encryption context under which the renewal
// seals a parked refresh token (renewal.sealContext).
const parkedPurpose = "parked-refresh-token"

// TestKMSGrantsGoThroughTheirService: a function may use the secrets' key only through
// Secrets Manager, and the notifications queue's key only through SQS (kms:ViaService);
// direct calls only under the parked-token encryption context. Amazon's grant on the
// notifications key names that queue in SQS's encryption context.
func TestKMSGrantsGoThroughTheirService(t *testing.T) {
	t.Parallel()
	tpl := load(t)
	// The import bucket's objects are encrypted with KmsKey too (SSE-KMS, through S3).
	via := map[string][]string{
		"KmsKey":                       {`secretsmanager.${AWS::Region}.amazonaws.com`, `s3.${AWS::Region}.amazonaws.com`},
		"ClientSecretNotificationsKey": {`sqs.${AWS::Region}.amazonaws.com`},
	}
	grants := 0
	for id, f := range tpl.Functions {
		for _, st := range statements(f) {
			kms := slices.ContainsFunc(actionsOf(st), func(a string) bool { return strings.HasPrefix(a, "kms:") })
			if !kms {
				continue
			}
			grants++
			refs := resourceRefs(st)
			if len(refs) != 1 || len(via[refs[0]]) == 0 {
				t.Errorf("%s: a KMS statement on %v: one key per statement, each with its service", id, refs)
				continue
			}
			cond := samtemplate.Get(st, "Condition", "StringEquals")
			if v := samtemplate.Get(cond, "kms:ViaService"); v != nil {
				if v.Tag != "!Sub" || !slices.Contains(via[refs[0]], v.Value) {
					t.Errorf("%s: KMS on %s through %s, want kms:ViaService %s", id, refs[0], v.Value, via[refs[0]])
				}
				continue
			}
			// Our own code's direct KMS calls (the sealer's parked tokens) are bound to
			// their encryption context instead.
			if v := samtemplate.Get(cond, "kms:EncryptionContext:purpose"); v == nil || v.Value != parkedPurpose {
				t.Errorf("%s: KMS on %s with neither kms:ViaService %s nor the parked-token encryption context", id, refs[0], via[refs[0]])
			}
		}
	}
	if grants == 0 {
		t.Fatal("no function statement grants KMS: the test reads nothing")
	}

	queueName := samtemplate.Get(tpl.Resources["ClientSecretNotificationsQueue"], "Properties", "QueueName")
	if queueName == nil || queueName.Tag != "!Sub" {
		t.Fatal("ClientSecretNotificationsQueue has no QueueName to build its ARN from")
	}
	wantArn := "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + queueName.Value
	found := false
	for _, st := range samtemplate.Get(tpl.Resources["ClientSecretNotificationsKey"], "Properties", "KeyPolicy", "Statement").Content {
		if p := samtemplate.Get(st, "Principal", "AWS"); p == nil || p.Value != "arn:aws:iam::437568002678:root" {
			continue
		}
		found = true
		cond := samtemplate.Get(st, "Condition", "StringEquals")
		if v := samtemplate.Get(cond, "kms:ViaService"); v == nil || v.Value != via["ClientSecretNotificationsKey"][0] {
			t.Errorf("Amazon's grant: kms:ViaService %v", v)
		}
		if v := samtemplate.Get(cond, "kms:EncryptionContext:aws:sqs:arn"); v == nil || v.Tag != "!Sub" || v.Value != wantArn {
			t.Errorf("Amazon's grant: kms:EncryptionContext:aws:sqs:arn is %v, want !Sub %q", v, wantArn)
		}
	}
	if !found {
		t.Error("the notifications key grants Amazon's notification service nothing")
	}
}

// TestCallbackDeletesOnlyStateNonces: the callback's DeleteItem is scoped to STATE#
// partitions, and that scope is right because the only code of the callback that
// deletes an item is the nonce's single-use consume.
func TestCallbackDeletesOnlyStateNonces(t *testing.T) {
	tpl := load(t)
	f := tpl.Functions["CallbackFunction"]
	if f == nil {
		t.Fatal("no CallbackFunction")
	}
	scoped := 0
	for _, st := range statements(f) {
		if !slices.Contains(actionsOf(st), "dynamodb:DeleteItem") {
			continue
		}
		keys := samtemplate.Get(st, "Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys")
		if keys == nil || len(keys.Content) != 1 || keys.Content[0].Value != "STATE#*" || len(actionsOf(st)) != 1 {
			t.Errorf("CallbackFunction: DeleteItem granted without dynamodb:LeadingKeys [STATE#*] (or beside other actions)")
		}
		scoped++
	}
	callers := usedActionsOnce(t, repoRoot(t))["callback"].callers["dynamodb:DeleteItem"]
	if len(callers) == 0 {
		if scoped != 0 {
			t.Error("CallbackFunction is granted DeleteItem but never deletes")
		}
		return
	}
	for fn := range callers {
		if !strings.HasSuffix(fn, "/shared/store.Store).ConsumeNonce") {
			t.Errorf("the callback deletes items in %s: the STATE#* scope does not cover it", fn)
		}
	}
	if scoped == 0 {
		t.Error("CallbackFunction deletes nonces but is not granted DeleteItem")
	}
}
