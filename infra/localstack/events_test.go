package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// TestDomainEventsWebhooksAndTokens runs the issue-12 parts of the stack end to end:
// history → stream → EventPublisherFunction → bus and webhook queue →
// WebhookSenderFunction → the local receiver (signatures verified), and the README's
// token examples in Python, Node.js and Go against the token service's function URL.
func TestDomainEventsWebhooksAndTokens(t *testing.T) {
	ctx := context.Background()
	var logs testenv.Buffer
	s, err := localstack.Start(ctx, localstack.Options{BinDir: binDir, Seed: localstack.SeedDemo, Log: &logs, Name: "keeper-events"})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	defer s.Stop()

	// The four seeded authorizations are history items: each becomes an event on the
	// bus and a verified webhook.
	arrivals := waitArrivals(t, s, 4, 60*time.Second)
	for _, a := range arrivals {
		if !a.Verified || a.Type != "authorization.created" {
			t.Errorf("arrival %+v: want a verified authorization.created", a)
		}
	}
	if n := len(s.EventBus().Events()); n < 4 {
		t.Errorf("%d events on the bus, want 4", n)
	}

	root, _ := localstack.FindRoot(".")
	env := append(os.Environ(), "TOKEN_URL="+s.TokenURL(), "CONNECTION_ID=demo-healthy", "AWS_REGION="+localstack.Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"NODE_PATH="+filepath.Join(root, "infra", "node_modules"))
	gobin := filepath.Join(t.TempDir(), "tokenclient")
	build := exec.Command("go", "build", "-o", gobin, "./examples/tokenclient")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go example: %v\n%s", err, out)
	}
	examples := []struct {
		name string
		cmd  []string
		skip string
	}{
		{"Python", []string{"python3", filepath.Join(root, "examples/tokens/get_token.py")}, pythonMissing()},
		{"Node.js", []string{"node", filepath.Join(root, "examples/tokens/get_token.cjs")}, ""},
		{"Go", []string{gobin}, ""},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			if ex.skip != "" {
				t.Skip(ex.skip)
			}
			cmd := exec.Command(ex.cmd[0], ex.cmd[1:]...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			status, body, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
			var answer map[string]any
			if status != "200" || json.Unmarshal([]byte(body), &answer) != nil || answer["sellingPartnerId"] != "A3HEALTHY" {
				t.Fatalf("answer %s", out)
			}
			if _, ok := s.Sim().AccessTokenSeller(answer["accessToken"].(string)); !ok {
				t.Error("the example's token is not a live token")
			}
		})
	}
	// Unsigned, or signed for another service: 403 before the function runs, as AWS does.
	for _, auth := range []string{"", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"} {
		req, _ := http.NewRequest(http.MethodPost, s.TokenURL()+"/tokens", strings.NewReader(`{"connectionId":"demo-healthy","region":"eu"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("Authorization %q: %d, want 403", auth, resp.StatusCode)
		}
	}

	// keeperctl --local webhooks: the receiver's secret, a signed test event, a replay.
	stateDir := stateRoot(t, s)
	cli := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Root: stateDir, Getenv: func(string) string { return "" }}
		code := c.Run(ctx, append([]string{"--local"}, args...))
		return code, out.String() + errOut.String()
	}
	if code, out := cli("webhooks", "secret", s.Env()["KEEPER_WEBHOOK_URL"]); code != 0 || !strings.HasPrefix(out, "whsec_") {
		t.Errorf("webhooks secret: %d %s", code, out)
	}
	nBefore := len(s.Webhooks())
	if code, out := cli("webhooks", "test"); code != 0 || !strings.Contains(out, "delivered") {
		t.Errorf("webhooks test: %d %s", code, out)
	}
	if got := s.Webhooks(); len(got) != nBefore+1 || got[len(got)-1].Type != "webhook.test" || !got[len(got)-1].Verified {
		t.Errorf("webhooks test did not arrive verified: %+v", got[nBefore:])
	}
	if code, out := cli("webhooks", "replay", "--since", "800d", "--connection", "demo-healthy"); code != 0 || !strings.Contains(out, "1 events since") {
		t.Errorf("webhooks replay: %d %s", code, out)
	}
	if got := s.Webhooks(); got[len(got)-1].ID != arrivals[0].ID && got[len(got)-1].ID != arrivals[1].ID && got[len(got)-1].ID != arrivals[2].ID && got[len(got)-1].ID != arrivals[3].ID {
		t.Errorf("a replay carries another id than the first delivery: %s", got[len(got)-1].ID)
	}
	if code, out := cli("webhooks", "replay"); code != operator.ExitUsage {
		t.Errorf("replay without --since: %d %s", code, out)
	}

	// Latency from a renewal's commit to the webhook receiver.
	st := store.New(s.Clients().DynamoDB, s.Table)
	var lat []time.Duration
	for i := range 20 {
		a, err := st.Get(ctx, "demo-healthy", authz.RegionEU)
		must(t, err)
		before := a.Status
		now := time.Now().UTC()
		kind := a.Renew(now, a.SellingPartnerID)
		if _, err := st.Update(ctx, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: kind, StatusBefore: before}); err != nil {
			t.Fatal(err)
		}
		committed := time.Now()
		got := waitArrivals(t, s, nBefore+2+i, 30*time.Second)
		lat = append(lat, got[len(got)-1].At.Sub(committed))
	}
	slices.Sort(lat)
	t.Logf("renewal commit → webhook receiver (local stack, stream polled every 200 ms): median %s, p99 %s, n=%d",
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), len(lat))
}

func waitArrivals(t *testing.T, s *localstack.Stack, n int, within time.Duration) []localstack.Arrival {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.Webhooks()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks arrived within %s, want %d", len(got), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pythonMissing() string {
	if err := exec.Command("python3", "-c", "import botocore, requests").Run(); err != nil {
		return "python3 with botocore and requests is missing (Debian: apt-get install python3-botocore python3-requests; make test installs them)"
	}
	return ""
}

// TestReadmeShowsTheTestedExamples keeps the README's token examples the files the
// test above runs.
func TestReadmeShowsTheTestedExamples(t *testing.T) {
	root, _ := localstack.FindRoot(".")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	must(t, err)
	for _, f := range []string{"examples/tokens/get_token.py", "examples/tokens/get_token.cjs"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		must(t, err)
		if !strings.Contains(string(readme), string(b)) {
			t.Errorf("README.md does not show %s as it is", f)
		}
	}
}
