package operator_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/importbucket"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// stack is a local stack as keeperctl --local finds it: a state file naming the
// emulators, the table, the secret prefix and the Amazon simulator, published by this
// test process (whose PID is alive).
type stack struct {
	root   string
	state  localstate.State // as published at root
	lwaURL string
	sim    *amazonsim.Sim
	store  *store.Store
	vault  *vault.Vault
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{root: t.TempDir()}
	s.sim = amazonsim.New(amazonsim.Config{ClientID: "amzn1.application-oa2-client.ops", ClientSecret: "ops-secret"})
	simSrv := httptest.NewServer(s.sim)
	t.Cleanup(simSrv.Close)
	s.lwaURL = simSrv.URL + "/auth/o2/token"
	smSrv := httptest.NewServer(secretsemu.New())
	t.Cleanup(smSrv.Close)
	ddb := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	prefix := testenv.Prefix(t)
	st := localstate.State{PID: os.Getpid(), StartedAt: now, Env: map[string]string{
		localstate.EnvDynamoDB: os.Getenv(localstate.EnvDynamoDB), localstate.EnvSecretsManager: smSrv.URL,
		operator.S3EndpointEnv: testenv.S3Endpoint(t),
		"KEEPER_TABLE":         table, "KEEPER_SECRET_PREFIX": prefix,
	}, Functions: map[string]localstate.FunctionState{
		localstate.TokenRefreshFunction: {Env: map[string]string{"LWA_ENDPOINT": simSrv.URL + "/auth/o2/token", "REFRESH_MAX_PER_SECOND": "200",
			"SP_API_ENDPOINT": simSrv.URL}},
	}}
	must(t, localstate.WriteState(s.root, st))
	s.state = st
	s.store = store.New(ddb, table)
	sess := &operator.Session{Config: testenv.Config(), Endpoints: st.Env, Globals: operator.Globals{Table: table, SecretPrefix: prefix}}
	s.vault = sess.Vault("")
	must(t, s.vault.PutClientCredentials(context.Background(), vault.ClientCredentials{ClientID: "amzn1.application-oa2-client.ops",
		ClientSecret: secret.Value("ops-secret"), ClientSecretExpiresAt: now.AddDate(0, 3, 0)}))
	return s
}

func (s *stack) keeperctl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &operator.CLI{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), Root: s.root,
		Getenv: func(string) string { return "" }, Now: func() time.Time { return now }}
	code := c.Run(context.Background(), append([]string{"--local"}, args...))
	return code, out.String(), errOut.String()
}

func TestKeeperctlImport(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	dir := t.TempDir()
	tokA, tokB := s.sim.IssueRefreshToken("A1SELLERAAAA"), s.sim.IssueRefreshToken("A1SELLERBBBB")
	file := filepath.Join(dir, "sellers.csv")
	must(t, os.WriteFile(file, []byte("connectionId,region,refreshToken,contactEmail,authorizedAt\n"+
		"shop-a,eu,"+tokA+",a@shop.example,2026-06-01\n"+
		"shop-b,na,"+tokB+",b@shop.example,\n"+
		"shop-c,xx,"+tokB+",,\n"), 0o600))
	report := filepath.Join(dir, "report.txt")

	// A dry run needs no stack at all and writes nothing.
	code, out, errOut := s.keeperctl(t, "", "import", file, "--dry-run", "--report", report)
	if code != operator.ExitFail || !strings.Contains(out, "dry run") || !strings.Contains(out, "valid (dry run)") || !strings.Contains(errOut, "1 rejected") {
		t.Errorf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if s.sim.Refreshes() != 0 {
		t.Errorf("the dry run called LWA")
	}

	code, out, errOut = s.keeperctl(t, "", "import", file, "--report", report, "--progress", "lines")
	if code != operator.ExitFail || !strings.Contains(out, "imported, active ") || !strings.Contains(out, "expiry unknown") ||
		!strings.Contains(out, `line 4 (shop-c): region "xx"`) || !strings.Contains(errOut, "rows done") {
		t.Errorf("import: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	saved, err := os.ReadFile(report)
	must(t, err)
	if !strings.Contains(string(saved), "line 4 (shop-c)") {
		t.Errorf("report file:\n%s", saved)
	}
	for _, b := range [][]byte{saved, []byte(out), []byte(errOut)} {
		if bytes.Contains(b, []byte(tokA)) || bytes.Contains(b, []byte(tokB)) {
			t.Fatal("a token reached the output or the report")
		}
	}
	a, err := s.store.Get(context.Background(), "shop-a", authz.RegionEU)
	must(t, err)
	if a.Status != authz.StatusActive || a.Account.StoreName == "" || a.ExpiryUnknown {
		t.Errorf("shop-a = %+v", a)
	}

	// The ledger shows the unknown ones apart.
	code, out, _ = s.keeperctl(t, "", "list", "--status", "unknown-expiry")
	if code != 0 || !strings.Contains(out, "shop-b") || strings.Contains(out, "shop-a") || !strings.Contains(out, "(assumed)") {
		t.Errorf("list --status unknown-expiry: exit %d\n%s", code, out)
	}
	// From standard input, a second time: nothing changes, no LWA call.
	calls := s.sim.Refreshes()
	in, _ := os.ReadFile(file)
	code, out, _ = s.keeperctl(t, string(in), "import", "-", "--report", report, "--json")
	var rep struct {
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n}\n", 2)[0]+"\n}"), &rep); err != nil || rep.Counts["unchanged"] != 2 || s.sim.Refreshes() != calls {
		t.Errorf("re-run from stdin: exit %d, counts %v (%v), LWA %d → %d\n%s", code, rep.Counts, err, calls, s.sim.Refreshes(), out)
	}
	// A wrong header is refused before any row.
	must(t, os.WriteFile(file, []byte("id,region,token\nx,eu,"+tokA+"\n"), 0o600))
	if code, _, errOut := s.keeperctl(t, "", "import", file, "--report", report); code != operator.ExitFail || !strings.Contains(errOut, "import file refused") {
		t.Errorf("wrong header: exit %d, %s", code, errOut)
	}
}

func TestKeeperctlSetAndExport(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	_, err := s.store.Create(ctx, authz.Authorization{ConnectionID: "acme", Region: authz.RegionEU, AccountType: authz.AccountSeller,
		ContactEmail: "old@acme.example", Locale: "en-US", Status: authz.StatusActive, Marketplace: "DE", DisplayName: "=HYPERLINK(\"x\")",
		AuthorizedAt: now.AddDate(0, -11, 0), ExpiresAt: now.AddDate(0, 1, 0), ContactStatus: authz.ContactBouncing})
	must(t, err)
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"set", "acme", "--email", "new@acme.example", "--locale", "de-DE", "--marketplace", "fr"}, 0,
			"contact email old@acme.example → new@acme.example; locale en-US → de-DE", ""},
		{[]string{"set", "acme", "--email", "new@acme.example"}, 0, "nothing to change", ""},
		{[]string{"set", "acme", "--email", "x@y.example\r\nBcc: all@evil.example"}, 2, "", "not a plain email address"},
		{[]string{"set", "acme", "--marketplace", "jp"}, 2, "", "marketplace"},
		{[]string{"set", "acme", "--locale", "<script>"}, 2, "", "language tag"},
		{[]string{"set", "acme"}, 2, "", "at least one of"},
		{[]string{"set", "nobody", "--email", "a@b.example"}, 1, "", "no authorization"},
	}
	for _, tc := range tests {
		code, out, errOut := s.keeperctl(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
	a, err := s.store.Get(ctx, "acme", authz.RegionEU)
	must(t, err)
	if a.ContactEmail != "new@acme.example" || a.Locale != "de-DE" || a.Marketplace != "FR" || a.ContactStatus != "" {
		t.Errorf("after set: %+v", a)
	}
	h, err := s.store.History(ctx, "acme", 0)
	must(t, err)
	if len(h) != 1 || h[0].Kind != authz.EventContactChanged || !strings.Contains(h[0].Detail, "marketplace DE → FR") {
		t.Errorf("history = %+v", h)
	}

	code, out, _ := s.keeperctl(t, "", "export")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(operator.ExportColumns, ",") {
		t.Fatalf("export: exit %d, %v\n%s", code, err, out)
	}
	if rows[1][5] != `'=HYPERLINK("x")` || rows[1][6] != "new@acme.example" || rows[1][13] != "31" {
		t.Errorf("export row = %q", rows[1])
	}
	file := filepath.Join(t.TempDir(), "ledger.jsonl")
	code, out, _ = s.keeperctl(t, "", "export", "--format", "jsonl", "--output", file, "--status", "active")
	b, _ := os.ReadFile(file)
	var obj map[string]any
	if code != 0 || !strings.Contains(out, "1 authorizations written") || json.Unmarshal(b, &obj) != nil || obj["connectionId"] != "acme" || obj["expiryKnown"] != true {
		t.Errorf("export jsonl: exit %d %s\n%s", code, out, b)
	}
	if strings.Contains(fmt.Sprint(obj), "Atzr") {
		t.Error("the export holds a token")
	}
}

func TestKeeperctlRemoteImport(t *testing.T) {
	t.Parallel()
	operator.RemotePollEvery = 20 * time.Millisecond
	s := newStack(t)
	s3c := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	lwaClient := lwa.NewClient(lwa.Config{Endpoint: s.lwaURL, Credentials: clientcreds.New(s.vault, 0)})
	remote := &importer.Remote{
		New: func(c importer.Config) *importer.Importer {
			return importer.New(c, importer.Deps{Ledger: s.store, Tokens: s.vault, Writer: s.vault, LWA: lwaClient, Clock: authz.ClockFunc(func() time.Time { return now })})
		},
		Objects: importbucket.Objects{Client: testenv.S3Objects(t)}, Statuses: s.store, Queue: queue.NewSender(testenv.SQS(t), testenv.NewQueue(t, "imports")),
		Clock: authz.ClockFunc(func() time.Time { return now }), Log: slog.New(slog.DiscardHandler),
	}
	// The stack's side: S3 notifies the import function once the object is there.
	key := "imports/sellers.csv"
	go func() {
		for range 500 {
			if _, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
				ev := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`, bucket, key)
				_, _ = remote.Handle(context.Background(), json.RawMessage(ev))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	tok := s.sim.IssueRefreshToken("A1REMOTESELL")
	file := filepath.Join(t.TempDir(), "sellers.csv")
	must(t, os.WriteFile(file, []byte("connectionId,region,refreshToken\nfar-away,fe,"+tok+"\nbad,qq,"+tok+"\n"), 0o600))
	report := filepath.Join(t.TempDir(), "report.txt")

	code, out, errOut := s.keeperctl(t, "", "import", "--remote", "s3://"+bucket+"/imports/", file, "--report", report, "--confirm-per-day", "100", "--progress", "none")
	if code != operator.ExitFail || !strings.Contains(out, "imported, active, expiry unknown") || !strings.Contains(out, `line 3 (bad): region "qq"`) ||
		!strings.Contains(errOut, "uploaded to s3://"+bucket+"/imports/sellers.csv") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if a, err := s.store.Get(context.Background(), "far-away", authz.RegionFE); err != nil || !a.ExpiryUnknown {
		t.Errorf("far-away = %+v, %v", a, err)
	}
	if _, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		t.Error("the uploaded file is still in the bucket")
	}
	// A wrong header never leaves the machine; a key outside imports/ is refused.
	must(t, os.WriteFile(file, []byte("who,what\nx,y\n"), 0o600))
	if code, _, errOut := s.keeperctl(t, "", "import", "--remote", "s3://"+bucket+"/imports/again.csv", file); code != operator.ExitFail || !strings.Contains(errOut, "import file refused") {
		t.Errorf("wrong header: exit %d %s", code, errOut)
	}
	if code, _, errOut := s.keeperctl(t, "", "import", "--remote", "s3://"+bucket+"/elsewhere/x.csv", file); code != operator.ExitUsage || !strings.Contains(errOut, "only files under imports/") {
		t.Errorf("outside imports/: exit %d %s", code, errOut)
	}
}

func TestKeeperctlSaysWhatHappened(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	a, err := s.store.Create(ctx, authz.Authorization{ConnectionID: "acme", Region: authz.RegionEU, AccountType: authz.AccountSeller,
		ContactEmail: "ops@acme.example", Locale: "en-US", Status: authz.StatusExpiring, Marketplace: "DE",
		AuthorizedAt: now.Add(-authz.Lifetime + 66*time.Hour), ExpiresAt: now.Add(66 * time.Hour),
		Reminders: map[string]authz.ReminderMark{"-3": {ClaimedAt: now, SentAt: now, MessageID: "m-1"},
			"reconnect@2027-02-01T10:00:00Z": {ClaimedAt: now, SentAt: now}}},
		authz.Event{ConnectionID: "acme", Region: authz.RegionEU, At: now, Kind: authz.EventReminded, Detail: "reminder -3 sent, SES message id m-1"})
	must(t, err)
	_ = a
	// Days left are calendar days in the seller's zone: 2 days 18 hours before a
	// German expiry is "in 3 days", as the email says.
	code, out, _ := s.keeperctl(t, "", "show", "acme", "--history")
	for _, want := range []string{"days left:         3", "3 days before expiry (-3)\n      sent", "reconnect email after the revocation of 2027-02-01T10:00:00Z",
		"reminder 3 days before expiry (-3) sent to ops@acme.example: SES message id m-1"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := s.keeperctl(t, "", "list", "--region", "na"); code != 0 || strings.Contains(out, "acme") {
		t.Errorf("list --region na shows an eu authorization:\n%s", out)
	}
	if code, out, _ := s.keeperctl(t, "", "list", "--region", "eu", "--expiring-within", "5d"); code != 0 || !strings.Contains(out, "acme") {
		t.Errorf("list --expiring-within 5d:\n%s", out)
	}
	// forget asks first; typing another id deletes nothing.
	code, _, errOut := s.keeperctl(t, "other\n", "forget", "acme")
	if code != operator.ExitUsage || !strings.Contains(errOut, "Type the connection id") {
		t.Errorf("forget with a wrong confirmation: exit %d %s", code, errOut)
	}
	if _, err := s.store.Get(ctx, "acme", authz.RegionEU); err != nil {
		t.Fatalf("acme was deleted without confirmation: %v", err)
	}
	code, out, _ = s.keeperctl(t, "acme\n", "forget", "acme")
	if code != 0 || !strings.Contains(out, "ledger record:  deleted") || !strings.Contains(out, "history:        kept") {
		t.Errorf("forget: exit %d\n%s", code, out)
	}
}
