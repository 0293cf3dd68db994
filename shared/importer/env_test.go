package importer_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	clientID     = "amzn1.application-oa2-client.import"
	clientSecret = "import-test-client-secret"
)

var now = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// env is a fresh deployment: a table, a secret prefix, and the Amazon simulator.
type env struct {
	*deploy.Deployment
	lwa      *lwa.Client
	writes   *countingWriter
	accounts importer.AccountReader
}

func newEnv(t testing.TB) *env {
	t.Helper()
	d := deploy.Deploy(t, deploy.DeployOptions{Now: now, Sim: amazonsim.Config{ClientID: clientID, ClientSecret: clientSecret},
		SharedSecrets: true, SeparateSecrets: true})
	e := &env{Deployment: d}
	e.lwa = lwa.NewClient(lwa.Config{Endpoint: d.SimURL + "/auth/o2/token",
		Credentials: lwa.StaticCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret)},
		MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	e.accounts = spapi.NewClient(spapi.Config{Endpoint: d.SimURL, SellerIDProbe: true, Clock: e.Clock.Now,
		BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	e.writes = &countingWriter{w: e.Vault}
	return e
}

// withoutSellerIDProbe makes the import's SP-API client skip the Product Fees probe,
// as a stack without VERIFY_SELLER_ID does: the account is known by its store name and
// marketplaces only, never by a verified seller id.
func (e *env) withoutSellerIDProbe() *env {
	e.accounts = spapi.NewClient(spapi.Config{Endpoint: e.SimURL, Clock: e.Clock.Now,
		BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	return e
}

func (e *env) importer(cfg importer.Config) *importer.Importer {
	if cfg.MaxPerSecond == 0 {
		cfg.MaxPerSecond = 1000
	}
	return importer.New(cfg, importer.Deps{
		Ledger: e.Store, Tokens: e.Vault, Writer: e.writes, LWA: e.lwa, Accounts: e.accounts, Clock: e.Clock,
		Log: slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

func (e *env) run(cfg importer.Config, file string) (*importer.Report, error) {
	e.T.Helper()
	return e.importer(cfg).Run(e.Ctx, strings.NewReader(file))
}

func (e *env) get(id string, region authz.Region) authz.Authorization {
	e.T.Helper()
	a, err := e.Store.Get(e.Ctx, id, region)
	must(e.T, err)
	return a
}

// countingWriter counts the tokens the importer hands the vault to store, and the
// PutMany calls (batches) they came in.
type countingWriter struct {
	w       importer.TokenWriter
	n       atomic.Int64 // tokens stored
	batches atomic.Int64
	deletes atomic.Int64
}

func (c *countingWriter) PutMany(ctx context.Context, entries []vault.Entry) ([]string, error) {
	c.batches.Add(1)
	c.n.Add(int64(len(entries)))
	return c.w.PutMany(ctx, entries)
}

func (c *countingWriter) Delete(ctx context.Context, connectionID string, region authz.Region) error {
	c.deletes.Add(1)
	return c.w.Delete(ctx, connectionID, region)
}

var tokenShape = regexp.MustCompile(`Atz[ra]\|[A-Za-z0-9-]`)

// noToken fails if any issued token appears in out.
func (e *env) noToken(what string, out []byte) {
	e.T.Helper()
	for _, s := range e.Sim.IssuedSecrets() {
		if bytes.Contains(out, []byte(s)) {
			e.T.Fatalf("%s holds a token or secret issued by the simulator", what)
		}
	}
	if tokenShape.Match(out) {
		e.T.Fatalf("%s holds a refresh token:\n%s", what, out)
	}
}

func testLogger(e *env) *slog.Logger {
	return slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
