package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// binDir holds every function built once for this test binary.
var binDir string

func TestMain(m *testing.M) {
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localstack test:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	root, err := localstack.FindRoot(".")
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "localstack-bin")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := localstack.Build(ctx, root, dir, tmpl.Names()); err != nil {
		return 0, err
	}
	binDir = dir
	return m.Run(), nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestStack starts the whole stack once, with emulators of its own, runs what the
// demo runs and the seller's journey against it (HTTP client, operator CLI, and a real
// browser when Chromium is installed), then stops it and checks that nothing it
// started is left: no process, no listening port.
func TestStack(t *testing.T) {
	ctx := context.Background()
	before := descendants(os.Getpid())
	started := time.Now()
	var logs testenv.Buffer
	s, err := localstack.Start(ctx, localstack.Options{BinDir: binDir, Seed: localstack.SeedDemo, Log: &logs})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	t.Logf("stack ready in %s", time.Since(started).Round(time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()
	children := slices.DeleteFunc(descendants(os.Getpid()), func(p int) bool { return slices.Contains(before, p) })
	ports := []string{s.FrontURL, s.MailURL, s.SellerCentralURL, s.LambdaURL, s.SecretsURL}
	for _, k := range []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"} {
		ports = append(ports, s.Env()[k])
	}

	root := stateRoot(t, s)
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Root: root, Getenv: func(string) string { return "" }}
		code := c.Run(ctx, append([]string{"--local"}, args...))
		return code, out.String(), errOut.String()
	}
	ledger := func(t *testing.T) map[string]operator.Row {
		t.Helper()
		code, out, errOut := cli("list", "--json")
		if code != 0 {
			t.Fatalf("keeperctl list: exit %d: %s", code, errOut)
		}
		var rows []operator.Row
		must(t, json.Unmarshal([]byte(out), &rows))
		byID := map[string]operator.Row{}
		for _, r := range rows {
			byID[r.ConnectionID] = r
		}
		return byID
	}

	t.Run("the demo's scan and refresh cycle", func(t *testing.T) {
		// What `make run` prints for them (metrics.go): counted from the functions'
		// answers and the metrics their work emitted.
		scan, err := s.ScanReport(ctx)
		must(t, err)
		sweep, err := s.SweepReport(ctx)
		must(t, err)
		t.Logf("%s\n%s", scan, sweep)
		if scan.Read != 3 || scan.Queued != 3 || scan.Sent != 3 || scan.SendFailed != 0 || scan.Refreshed != 0 {
			t.Errorf("scan report %+v: want 3 read, 3 queued, 3 sent (expiring, expired, bouncing)", scan)
		}
		if sweep.Read != len(localstack.DemoSellers) || sweep.Refreshed != 3 || sweep.RefreshFailed["revoked"] != 1 || sweep.Sent != 1 {
			t.Errorf("sweep report %+v: want every seller read, 3 refreshed, 1 revoked and its reconnect email sent", sweep)
		}

		want := map[string]struct {
			status authz.Status
			mail   string // in the subject of its one email; "" for none
		}{
			"demo-expiring": {authz.StatusExpiring, "renew Keeper Demo (local)'s access"},
			"demo-expired":  {authz.StatusExpired, "expired on"},
			"demo-healthy":  {authz.StatusActive, ""},
			"demo-revoked":  {authz.StatusRevoked, "reconnect"},
			"demo-bouncing": {authz.StatusExpiring, "renew Keeper Demo (local)'s access"},
		}
		s.WaitSESEvents()
		rows := ledger(t)
		for _, d := range localstack.DemoSellers {
			w := want[d.ConnectionID]
			if got := rows[d.ConnectionID].Status; got != w.status {
				t.Errorf("%s: status %s, want %s", d.ConnectionID, got, w.status)
			}
			mails := mailTo(t, s, d.Email)
			switch {
			case w.mail == "" && len(mails) != 0:
				t.Errorf("%s: %d emails, want none", d.ConnectionID, len(mails))
			case w.mail != "" && (len(mails) != 1 || !strings.Contains(mails[0].Subject, w.mail)):
				t.Errorf("%s: emails %+v, want one whose subject says %q", d.ConnectionID, mails, w.mail)
			}
		}
		// The bounce the mailbox simulator made came back through the delivery function.
		if code, out, _ := cli("show", "demo-bouncing", "--history"); code != 0 || !strings.Contains(out, "reminder bounced") {
			t.Errorf("demo-bouncing: the bounce of its reminder is not in its history (exit %d):\n%s", code, out)
		}
		if r := rows["demo-healthy"]; time.Since(r.LastRefreshAt) > time.Minute {
			t.Errorf("demo-healthy last refreshed %s: the cycle did not prove it alive", r.LastRefreshAt)
		}
		checkSellerCentralAgrees(t, s) // sellercentral_test.go
	})

	var replay string // the callback URL of a completed renewal
	t.Run("the seller renews from the reminder", func(t *testing.T) {
		link := renewalLink(t, mailTo(t, s, localstack.DemoSellers[0].Email), s.FrontURL)
		consentURL, form := consentForm(t, link, s.SellerCentralURL)
		if form.Get("selling_partner_id") != localstack.DemoSellers[0].SellingPartnerID {
			t.Fatalf("consent page preselects %q", form.Get("selling_partner_id"))
		}
		final, status, body := submit(t, consentURL, form, "confirm")
		if status != http.StatusOK || !strings.Contains(body, "renewed") {
			t.Fatalf("after Confirm: %s %d\n%s", final, status, body)
		}
		row := ledger(t)["demo-expiring"]
		// The page writes the day in the marketplace's time zone.
		until := row.ExpiresAt.In(i18n.Location(row.Marketplace)).Format("2 January 2006")
		if row.Status != authz.StatusActive || row.DaysLeft == nil || *row.DaysLeft < 364 || !strings.Contains(body, "until "+until) {
			t.Fatalf("ledger after the renewal: %+v; page:\n%s", row, body)
		}
		replay = final
		checkSellerCentralAgrees(t, s) // renewed on both sides
	})

	t.Run("cancel on the consent page changes nothing", func(t *testing.T) {
		link := renewalLink(t, mailTo(t, s, localstack.DemoSellers[1].Email), s.FrontURL)
		consentURL, form := consentForm(t, link, s.SellerCentralURL)
		// Read after the link was opened: the funnel notes the opening on the record.
		before := ledger(t)["demo-expired"]
		form.Set("selling_partner_id", localstack.DemoSellers[1].SellingPartnerID)
		_, status, body := submit(t, consentURL, form, "cancel")
		if status != http.StatusOK || !strings.Contains(body, "Nothing was changed") {
			t.Fatalf("after Cancel: %d\n%s", status, body)
		}
		if after := ledger(t)["demo-expired"]; after.Version != before.Version || after.Status != authz.StatusExpired {
			t.Fatalf("Cancel changed the record: %+v → %+v", before, after)
		}
	})

	t.Run("a link opened twice", func(t *testing.T) {
		if replay == "" {
			t.Skip("the renewal did not complete")
		}
		// The same Amazon redirect again (a reload, the back button): already used.
		res, err := sellerBrowser.Get(replay)
		must(t, err)
		body := readBody(t, res)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already used") || looksLikeACrash(body) {
			t.Fatalf("replayed callback: %d\n%s", res.StatusCode, body)
		}
		// The email's renewal link again: it has done its job.
		link := renewalLink(t, mailTo(t, s, localstack.DemoSellers[0].Email), s.FrontURL)
		res, err = sellerBrowser.Get(link)
		must(t, err)
		if body := readBody(t, res); res.StatusCode != http.StatusOK || !strings.Contains(body, "already renewed") || looksLikeACrash(body) {
			t.Fatalf("the renewal link after the renewal: %d\n%s", res.StatusCode, body)
		}
	})

	t.Run("renewal started in Seller Central goes through the Login URI", func(t *testing.T) {
		healthy := localstack.DemoSellers[2]
		before := ledger(t)[healthy.ConnectionID]
		consentURL, form := consentFormAt(t, s.SellerCentralURL+"/apps/manage/renew?selling_partner_id="+healthy.SellingPartnerID,
			s.SellerCentralURL+"/apps/authorize/confirm/")
		if form.Get("selling_partner_id") != healthy.SellingPartnerID {
			t.Fatalf("consent page preselects %q, want the renewing seller", form.Get("selling_partner_id"))
		}
		if _, status, body := submit(t, consentURL, form, "confirm"); status != http.StatusOK || !strings.Contains(body, "renewed") {
			t.Fatalf("after Confirm: %d\n%s", status, body)
		}
		if after := ledger(t)[healthy.ConnectionID]; !after.ExpiresAt.After(before.ExpiresAt) || after.Status != authz.StatusActive {
			t.Fatalf("ledger after a Seller Central renewal: %+v → %+v", before, after)
		}
	})

	t.Run("the front answers what API Gateway would", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			status       int
			want         string
		}{
			{http.MethodGet, "/nowhere", http.StatusNotFound, `{"message":"Not Found"}`},
			{http.MethodPost, "/callback", http.StatusNotFound, `{"message":"Not Found"}`},
			{http.MethodGet, "/authorize?t=garbage", http.StatusBadRequest, "not valid"},
			{http.MethodGet, "/callback", http.StatusBadRequest, "missing"},
		} {
			req, _ := http.NewRequest(tc.method, s.FrontURL+tc.path, nil)
			res, err := http.DefaultClient.Do(req)
			must(t, err)
			body := readBody(t, res)
			if res.StatusCode != tc.status || !strings.Contains(body, tc.want) || looksLikeACrash(body) {
				t.Errorf("%s %s: %d %s", tc.method, tc.path, res.StatusCode, body)
			}
		}
	})

	t.Run("SQS batches honour batchItemFailures", func(t *testing.T) {
		c := s.Clients()
		st := store.New(c.DynamoDB, s.Table)
		exp := time.Now().UTC().Add(20 * 24 * time.Hour).Truncate(time.Second)
		for _, id := range []string{"batch-sent", "batch-busy"} {
			_, err := st.Create(ctx, authz.Authorization{ConnectionID: id, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
				SellingPartnerID: "A9" + strings.ToUpper(strings.ReplaceAll(id, "-", "")), ContactEmail: id + "@batch.example", Status: authz.StatusExpiring,
				AuthorizedAt: exp.Add(-authz.Lifetime), ExpiresAt: exp})
			must(t, err)
		}
		// Another sender is sending batch-busy's stage right now: the reminder function
		// reports it as a batch item failure, and sends batch-sent.
		_, err := st.ClaimReminder(ctx, store.ReminderClaim{ConnectionID: "batch-busy", Region: authz.RegionEU, Key: "-23", ExpiresAt: exp, ClaimedAt: time.Now().UTC()}, reminder.DefaultClaimTimeout)
		must(t, err)
		queue := s.QueueURL("ReminderQueue")
		var entries []types.SendMessageBatchRequestEntry
		for i, id := range []string{"batch-sent", "batch-busy"} {
			job := reminder.Job{ConnectionID: id, Region: authz.RegionEU, Stage: "-23", ExpiresAt: exp}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(job.Marshal())})
		}
		_, err = c.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
		must(t, err)
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		must(t, s.WaitIdle(wctx))
		if n := len(mailTo(t, s, "batch-sent@batch.example")); n != 1 {
			t.Errorf("batch-sent: %d emails, want 1", n)
		}
		if n := len(mailTo(t, s, "batch-busy@batch.example")); n != 0 {
			t.Errorf("batch-busy: %d emails, want none while claimed", n)
		}
		out, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queue), AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		must(t, err)
		// The failed message waits out the visibility timeout; the sent one was deleted.
		if v, nv := out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]; v != "0" || nv != "1" {
			t.Errorf("reminder queue: %s visible, %s in flight; want 0 and 1 (only the failed message kept)", v, nv)
		}
	})

	t.Run("operator CLI", func(t *testing.T) {
		testOperatorCLI(t, s, cli)
	})

	t.Run("browser", func(t *testing.T) {
		testBrowserJourney(t, s, cli)
	})

	t.Run("a crashed function is replaced", func(t *testing.T) {
		var pid int
		for _, p := range descendants(os.Getpid()) {
			if strings.HasSuffix(strings.TrimSpace(cmdline(p)), "callback/bootstrap") {
				pid = p
			}
		}
		if pid == 0 {
			t.Fatal("no CallbackFunction process")
		}
		must(t, syscall.Kill(pid, syscall.SIGKILL)) // as Lambda's out-of-memory kill would
		for deadline := time.Now().Add(10 * time.Second); alive(pid) || procExists(pid); {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still there after SIGKILL", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
		res, err := http.Get(s.FrontURL + "/callback")
		must(t, err)
		if body := readBody(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "missing") {
			t.Fatalf("after the crash: %d %s", res.StatusCode, body)
		}
		if !strings.Contains(logs.String(), "started a new one") {
			t.Error("the replacement was not logged")
		}
		children = append(children, descendants(os.Getpid())...)
	})

	t.Run("schedules on a fast clock", func(t *testing.T) {
		count := func(msg string) int { return strings.Count(logs.String(), `"message":"`+msg+`"`) }
		scans, sweeps := count("expiry scan done"), count("refresh sweep done")
		s.StartClock(300*time.Millisecond, 200*time.Millisecond)
		deadline := time.Now().Add(20 * time.Second)
		for count("expiry scan done") < scans+2 || count("refresh sweep done") < sweeps+3 {
			if time.Now().After(deadline) {
				t.Fatalf("after 20 s on the fast clock: %d scans and %d sweeps more, want 2 and 3", count("expiry scan done")-scans, count("refresh sweep done")-sweeps)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	must(t, s.Stop())
	stopped = true
	for _, p := range children {
		if alive(p) {
			t.Errorf("process %d (%s) outlived Stop", p, cmdline(p))
		}
	}
	if len(children) < 7 {
		t.Errorf("saw %d child processes of the stack, want the 3 emulators and 4 functions at least", len(children))
	}
	for _, u := range ports {
		host := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/")
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", u)
		}
	}
	if t.Failed() {
		t.Logf("stack log:\n%s", logs.String())
	}
}

func testOperatorCLI(t *testing.T, s *localstack.Stack, cli func(...string) (int, string, string)) {
	code, out, _ := cli("list", "--status", "revoked")
	if code != 0 || !strings.Contains(out, "demo-revoked") || strings.Contains(out, "demo-healthy") {
		t.Errorf("list --status revoked: exit %d\n%s", code, out)
	}
	code, out, _ = cli("list", "--expiring-within", "30d")
	if code != 0 || strings.Contains(out, "demo-healthy") || strings.Contains(out, "demo-expired") {
		t.Errorf("list --expiring-within 30d: exit %d\n%s", code, out)
	}
	code, out, _ = cli("show", "demo-revoked", "--history")
	if code != 0 || !strings.Contains(out, "revoked") || !strings.Contains(out, "history (newest first)") {
		t.Errorf("show --history: exit %d\n%s", code, out)
	}
	code, out, errOut := cli("refresh", "demo-healthy", "--json")
	var o struct{ Result, Status string }
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Result != "refreshed" || o.Status != "active" {
		t.Errorf("refresh: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut = cli("onboard", "newshop", "--region", "eu", "--email", "boss@newshop.example", "--marketplace", "fr")
	link := regexp.MustCompile(`http://\S+/authorize\?t=\S+`).FindString(out)
	if code != 0 || link == "" || !strings.HasPrefix(link, s.FrontURL) {
		t.Fatalf("onboard: exit %d %s %s", code, out, errOut)
	}
	// The pending seller follows the first link and connects, with an Amazon account of
	// its own (each demo seller's account is already bound to its own connection).
	addSeller(t, s.SellerCentralURL, `{"sellingPartnerId":"A9NEWSHOPFR","name":"New Shop","countryCodes":["FR"]}`)
	consentURL, form := consentForm(t, link, s.SellerCentralURL)
	form.Set("selling_partner_id", "A9NEWSHOPFR")
	if _, status, body := submit(t, consentURL, form, "confirm"); status != http.StatusOK || !strings.Contains(body, "connected") {
		t.Errorf("onboarding consent: %d\n%s", status, body)
	}
	code, out, _ = cli("show", "newshop", "--json")
	var d operator.Detail
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Status != authz.StatusActive || d.Marketplace != "FR" {
		t.Errorf("show newshop after consent: exit %d %s", code, out)
	}
	if code, out, _ = cli("link", "demo-healthy"); code != 0 || !strings.HasPrefix(out, s.FrontURL+"/authorize?t=") {
		t.Errorf("link: exit %d %q", code, out)
	}
	if code, out, _ = cli("forget", "newshop", "--yes"); code != 0 || !strings.Contains(out, "forgotten") {
		t.Errorf("forget: exit %d %q", code, out)
	}
	// Bad input: one line on stderr, a non-zero exit.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"show", "newshop"}, 1, `no authorization for this connection: "newshop"`},
		{[]string{"refresh", "nobody"}, 1, "no authorization"},
		{[]string{"list", "--expiring-within", "soon"}, 2, "--expiring-within"},
		{[]string{"onboard", "x", "--region", "eu", "--email", "not-an-address"}, 2, "not an email address"},
		{[]string{"onboard", "x", "--region", "moon", "--email", "a@b.example"}, 2, "region"},
		{[]string{"launch"}, 2, "unknown command"},
		{[]string{"show"}, 2, "needs a connection id"},
		{[]string{"list", "--colour"}, 2, "flag provided but not defined"},
	} {
		code, _, errOut := cli(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("keeperctl %v: exit %d, stderr %q; want exit %d and one line with %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// stateRoot publishes the stack's state under a temporary root, as `make run` does
// under the repository, for keeperctl --local.
func stateRoot(t *testing.T, s *localstack.Stack) string {
	root := t.TempDir()
	must(t, localstack.WriteState(root, s.State()))
	return root
}

type email struct {
	MessageID   string `json:"messageId"`
	Subject     string `json:"subject"`
	Destination struct {
		To []string `json:"to"`
	} `json:"destination"`
	Body struct{ HTML, Text string } `json:"body"`
}

// mailTo reads aws-ses-v2-local's store, the data behind its mail page.
func mailTo(t *testing.T, s *localstack.Stack, to string) []email {
	t.Helper()
	res, err := http.Get(s.MailURL + "store")
	must(t, err)
	var store struct{ Emails []email }
	must(t, json.Unmarshal([]byte(readBody(t, res)), &store))
	var out []email
	for _, e := range store.Emails {
		if slices.Contains(e.Destination.To, to) {
			out = append(out, e)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`/authorize\?t=[A-Za-z0-9_.\-%]+`)

func renewalLink(t *testing.T, mails []email, front string) string {
	t.Helper()
	if len(mails) == 0 {
		t.Fatal("no email")
	}
	path := linkRE.FindString(mails[len(mails)-1].Body.Text)
	if path == "" {
		t.Fatalf("no renewal link in %q", mails[len(mails)-1].Body.Text)
	}
	return front + path
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
var selectedRE = regexp.MustCompile(`<option value="([A-Z0-9]+)" selected>`)

// consentForm follows a renewal link, as a browser does, to the consent page and
// returns its URL and form.
func consentForm(t *testing.T, link, sellerCentral string) (string, url.Values) {
	t.Helper()
	return consentFormAt(t, link, sellerCentral+"/apps/authorize/consent?")
}

// consentFormAt follows start to the consent page, which must be served at a URL
// beginning with want.
func consentFormAt(t *testing.T, start, want string) (string, url.Values) {
	t.Helper()
	res, err := sellerBrowser.Get(start)
	must(t, err)
	body := readBody(t, res)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Request.URL.String(), want) {
		t.Fatalf("%s led to %s (%d):\n%s", start, res.Request.URL, res.StatusCode, body)
	}
	for _, want := range []string{"Authorize " + localstack.AppName, "Confirm", "Cancel"} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Fatalf("consent page lacks %q:\n%s", want, body)
		}
	}
	form := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if m := selectedRE.FindStringSubmatch(body); m != nil {
		form.Set("selling_partner_id", m[1])
	}
	return res.Request.URL.String(), form
}

// submit presses Confirm or Cancel and follows Amazon's redirect back to the keeper.
func submit(t *testing.T, consentURL string, form url.Values, action string) (string, int, string) {
	t.Helper()
	form.Set("action", action)
	u, _ := url.Parse(consentURL)
	res, err := sellerBrowser.PostForm(u.Scheme+"://"+u.Host+"/apps/authorize/confirm", form)
	must(t, err)
	return res.Request.URL.String(), res.StatusCode, readBody(t, res)
}

// addSeller adds an account to the simulated Seller Central (its admin API).
func addSeller(t *testing.T, sellerCentral, account string) {
	t.Helper()
	res, err := http.Post(sellerCentral+"/_sim/seller", "application/json", strings.NewReader(account))
	must(t, err)
	if body := readBody(t, res); res.StatusCode >= 300 {
		t.Fatalf("add a seller to the simulator: %d %s", res.StatusCode, body)
	}
}

// sellerBrowser is the seller's browser: it keeps the cookie that binds a round trip
// to the browser that started it.
var sellerBrowser = func() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err)
	}
	return &http.Client{Jar: jar}
}()

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return string(b)
}

// looksLikeACrash spots what no page may show a seller.
func looksLikeACrash(body string) bool {
	for _, s := range []string{"goroutine ", "panic:", ".go:", "runtime error", "Internal Server Error"} {
		if strings.Contains(body, s) {
			return true
		}
	}
	return false
}

// descendants lists the processes below pid, from /proc (Linux); nil elsewhere.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func procExists(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.ReplaceAll(string(b), "\x00", " ")
}
