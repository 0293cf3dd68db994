package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/domainevent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// keeperctl webhooks: the webhook endpoints of the domain events.
//
//	keeperctl webhooks secret <url>              the endpoint's signing secret (whsec_…), for the receiver
//	keeperctl webhooks test [--url URL]          send a signed test event to each endpoint, once, and say what it answered
//	keeperctl webhooks replay --since DAY [--url URL] [--connection ID]
//	                                             re-send the events of the history since DAY (same ids: receivers de-duplicate)
//	keeperctl webhooks enable <url>              call an endpoint disabled by a 410 again
//
// The endpoints come from --url or KEEPER_WEBHOOK_URL (the stack's WebhookUrl); the key
// from {prefix}/webhook-key. Deliveries are made from here, one attempt each.

// WebhookURLEnv names the webhook endpoints when --url is not given.
const WebhookURLEnv = "KEEPER_WEBHOOK_URL"

// WebhookDeps is what the webhook commands use.
type WebhookDeps struct {
	Store   *store.Store
	Key     func(ctx context.Context) (secret.Value, error)
	Sender  *webhook.Sender
	URLs    []webhook.Endpoint
	Clock   func() time.Time
	Timeout time.Duration
}

func (c *CLI) webhooks(ctx context.Context, g Globals, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("webhooks needs secret, test, replay or enable: %w", errUsage)
	}
	sub, rest := args[0], args[1:]
	fs := c.flags("webhooks "+sub, &g)
	var urls, since, connection string
	fs.StringVar(&urls, "url", c.Getenv(WebhookURLEnv), "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&connection, "connection", "", "")
	pos, err := parse(fs, rest)
	if err != nil {
		return err
	}
	want := 0
	if sub == "secret" || sub == "enable" {
		want = 1
	}
	if len(pos) != want {
		return fmt.Errorf("webhooks %s takes %d argument(s): %w", sub, want, errUsage)
	}
	var sinceT time.Time
	switch sub {
	case "secret", "enable", "test":
	case "replay":
		if sinceT, err = parseSince(since, c.Now()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown webhooks command %q: want secret, test, replay or enable: %w", sub, errUsage)
	}
	d, err := c.webhookDeps(ctx, g, urls)
	if err != nil {
		return err
	}
	switch sub {
	case "secret":
		key, err := d.Key(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, webhook.SigningSecret(key, pos[0]).Reveal())
		return nil
	case "enable":
		return d.Store.EnableEndpoint(ctx, webhook.EndpointID(pos[0]))
	case "test":
		ev := domainevent.Event{DetailType: domainevent.TypeTest, Time: c.Now().UTC(), Detail: domainevent.Detail{Version: domainevent.Version,
			EventID: domainevent.EventID("TEST", c.Now().UTC().Format(time.RFC3339Nano)), Kind: "test", ConnectionID: "keeperctl-test",
			OccurredAt: c.Now().UTC().Format(time.RFC3339Nano)}}
		return SendWebhooks(ctx, c.Stdout, d, []domainevent.Event{ev})
	}
	evs, err := ReplayEvents(ctx, d.Store, connection, sinceT)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%d events since %s\n", len(evs), sinceT.Format(time.RFC3339))
	return SendWebhooks(ctx, c.Stdout, d, evs)
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("replay needs --since (a day such as 2026-11-01, an RFC 3339 time, or a duration such as 7d): %w", errUsage)
	}
	if t, err := time.Parse(authz.DayLayout, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := config.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want 2026-11-01, an RFC 3339 time or a duration such as 7d: %w", s, errUsage)
}

// ReplayEvents reads the history since a time (of one connection, or all) and turns it
// into domain events with their original ids, oldest first.
func ReplayEvents(ctx context.Context, st *store.Store, connection string, since time.Time) ([]domainevent.Event, error) {
	var conns []string
	if connection != "" {
		conns = []string{connection}
	} else {
		seen := map[string]bool{}
		if err := st.List(ctx, func(a authz.Authorization) error {
			if !seen[a.ConnectionID] {
				seen[a.ConnectionID] = true
				conns = append(conns, a.ConnectionID)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	var out []domainevent.Event
	for _, id := range conns {
		hist, err := st.History(ctx, id, 0)
		if err != nil {
			return nil, err
		}
		for _, h := range hist {
			if h.At.Before(since) {
				continue
			}
			pk, sk := store.HistoryKey(h)
			ev, err := domainevent.FromHistory(pk, sk, h)
			if errors.Is(err, domainevent.ErrUnknownKind) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// SendWebhooks delivers each event to each endpoint once and prints the outcomes. It
// fails if any delivery did not succeed.
func SendWebhooks(ctx context.Context, w io.Writer, d WebhookDeps, evs []domainevent.Event) error {
	if len(d.URLs) == 0 {
		return fmt.Errorf("%w: no webhook endpoint: --url or %s (the stack's WebhookUrl)", ErrNotConfigured, WebhookURLEnv)
	}
	failed := 0
	for _, e := range d.URLs {
		for _, ev := range evs {
			r := d.Sender.Send(ctx, webhook.NewMessage(e, ev))
			line := fmt.Sprintf("%s %s %s: %s", e.URL, ev.ID(), ev.DetailType, r.Outcome)
			if r.Status != 0 {
				line += fmt.Sprintf(" (%d)", r.Status)
			}
			if r.Err != nil {
				line += " " + r.Err.Error()
			}
			if r.Outcome != webhook.Delivered {
				failed++
			}
			fmt.Fprintln(w, line)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deliveries did not succeed", failed, len(evs)*len(d.URLs))
	}
	return nil
}

func (c *CLI) webhookDeps(ctx context.Context, g Globals, urls string) (WebhookDeps, error) {
	var cfg aws.Config
	endpoints := map[string]string{}
	if g.Local {
		st, err := c.localStack()
		if err != nil {
			return WebhookDeps{}, err
		}
		cfg, endpoints = localstate.Config(), st.Env
		if g.Table == "" {
			g.Table = st.Env["KEEPER_TABLE"]
		}
		if g.SecretPrefix == "" {
			g.SecretPrefix = st.Env["KEEPER_SECRET_PREFIX"]
		}
		if urls == "" {
			urls = st.Env[WebhookURLEnv]
		}
	} else {
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return WebhookDeps{}, fmt.Errorf("AWS configuration: %w", err)
		}
	}
	if g.Table == "" {
		return WebhookDeps{}, fmt.Errorf("%w: --table is required (the stack's TableName output), or --local", ErrNotConfigured)
	}
	if g.SecretPrefix == "" {
		g.SecretPrefix = "spapi-keeper"
	}
	eps, err := webhook.ParseEndpoints(urls)
	if err != nil {
		return WebhookDeps{}, fmt.Errorf("%v: %w", err, errUsage)
	}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if u := endpoints[localstate.EnvDynamoDB]; u != "" {
			o.BaseEndpoint = aws.String(u)
		}
	})
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if u := endpoints[localstate.EnvSecretsManager]; u != "" {
			o.BaseEndpoint = aws.String(u)
		}
	})
	st := store.New(ddb, g.Table)
	keyName := g.SecretPrefix + "/webhook-key"
	key := webhook.CachedKey(func(ctx context.Context) (secret.Value, error) { return app.WebhookKey(ctx, sm, keyName) })
	sender := webhook.New(nil, key, eps, st, nil, slog.New(slog.DiscardHandler), nil)
	return WebhookDeps{Store: st, Key: key, Sender: sender, URLs: eps, Clock: c.Now}, nil
}
