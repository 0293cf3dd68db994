package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// The sample events in events/ are made with the published demo values (infra/demo):
// its state key, its authorization demo-acme/eu, its nonce and authorization code. A
// stack started by `make run` has a state key of its own and the demo sellers, not
// the sample's. PrepareEvent, run by `make invoke` at invoke time, makes a sample
// work there as it does in a throw-away deployment: it seeds the sample's
// authorization (and the import file the S3 sample names) into the running stack
// once, and signs the sample's link, state and browser binding again with the
// running stack's key, with a fresh nonce and code each time, so a sample can be
// invoked again and again. An event not made with the demo values passes unchanged.

// ErrChangesClientSecret says an event would change the running stack's LWA client
// secret (the credentials function's notification events): PrepareEvent refuses it
// unless the caller allows it.
var ErrChangesClientSecret = errors.New("would change the running stack's LWA client secret")

// PrepareEvent readies event, sent to the function fn, for the running stack st.
// notes says what it seeded or re-signed, one line each. allowSecretChange lets a
// client secret notification through; for a new-secret notification the stack's
// Amazon simulator then accepts the notified secret beside the current one, as LWA
// does during a rotation.
func PrepareEvent(ctx context.Context, st State, fn string, event []byte, allowSecretChange bool) (out []byte, notes []string, err error) {
	r := remoteFor(st)
	kind, newSecret := clientSecretNotification(event)
	if kind != "" {
		if !allowSecretChange {
			why := "the stack would then sign in to LWA with the sample's new secret"
			if newSecret.IsZero() {
				why = "the credentials function would rotate it with Amazon's simulator"
			}
			return nil, nil, fmt.Errorf("this %s notification %w (process %d): %s", kind, ErrChangesClientSecret, st.PID, why)
		}
		if !newSecret.IsZero() {
			if err := r.acceptClientSecret(ctx, newSecret); err != nil {
				return nil, nil, err
			}
			notes = append(notes, "the Amazon simulator now accepts the notified client secret beside the stack's current one")
		}
		notes = append(notes, "the running stack's LWA client secret may change (--yes given)")
	}
	if bytes.Contains(event, []byte(demo.ConnectionID)) || bytes.Contains(event, []byte(demo.SellingPartnerID)) {
		if err := r.ensureSampleAuthorization(ctx); err != nil {
			return nil, nil, err
		}
	}
	if bytes.Contains(event, []byte(`"`+SampleImportBucket+`"`)) {
		if err := r.putSampleImport(ctx); err != nil {
			return nil, nil, err
		}
		notes = append(notes, fmt.Sprintf("put the sample import file s3://%s/%s into the running stack's bucket", SampleImportBucket, SampleImportKey))
	}
	out, resigned, err := r.resignHTTP(ctx, event)
	if err != nil {
		return nil, nil, err
	}
	if r.seeded {
		notes = append(notes, fmt.Sprintf("seeded the sample authorization %s/%s (seller %s) into the running stack", demo.ConnectionID, demo.Region, demo.SellingPartnerID))
	}
	return out, append(notes, resigned...), nil
}

// remote is a running stack seen from another process, through what it published.
type remote struct {
	st                   State
	clients              awsclients.Clients
	table, prefix        string
	simURL, frontURL     string
	http                 *http.Client
	log                  *slog.Logger
	stateKey             secret.Value
	stateKeyRead         bool
	sampleChecked        bool // ensureSampleAuthorization ran
	seeded               bool // and stored the sample authorization
	sampleLinkGeneration int
}

func remoteFor(st State) *remote {
	return &remote{st: st, clients: clientsFor(st.Env).Clients, table: st.Env["KEEPER_TABLE"], prefix: st.Env["KEEPER_SECRET_PREFIX"],
		simURL: st.Env["KEEPER_SELLER_CENTRAL_URL"], frontURL: st.Env["KEEPER_BASE_URL"],
		http: &http.Client{Timeout: 15 * time.Second}, log: slog.New(slog.DiscardHandler)}
}

func (r *remote) vault() *vault.Vault {
	return vault.New(r.clients.Secrets, r.prefix, "").WithLogger(r.log)
}

// ensureSampleAuthorization stores the sample's authorization and its refresh token
// (minted by the stack's simulator) unless the stack already has it.
func (r *remote) ensureSampleAuthorization(ctx context.Context) error {
	if r.sampleChecked {
		return nil
	}
	a, ev := sampleAuthorization(time.Now())
	got, err := store.New(r.clients.DynamoDB, r.table).Get(ctx, a.ConnectionID, a.Region)
	if err == nil {
		r.sampleChecked, r.sampleLinkGeneration = true, got.LinkGeneration
		return nil
	}
	if !errors.Is(err, authz.ErrNotFound) {
		return fmt.Errorf("read the sample authorization in the running stack: %w", err)
	}
	// The Sellers API must know the account the callback fingerprints.
	if err := r.sim(ctx, "/_sim/seller", map[string]any{"sellingPartnerId": demo.SellingPartnerID, "name": "Demo Seller",
		"storeName": "Demo Seller", "countryCodes": []string{demo.Marketplace}}, nil); err != nil {
		return err
	}
	token, err := r.refreshToken(ctx, demo.SellingPartnerID, a.AuthorizedAt)
	if err != nil {
		return err
	}
	if err := putAuthorization(ctx, r.clients, r.table, r.prefix, r.log, a, token.Reveal(), ev); err != nil {
		return fmt.Errorf("running stack: %w", err)
	}
	r.sampleChecked, r.seeded = true, true
	return nil
}

func (r *remote) putSampleImport(ctx context.Context) error {
	token, err := r.refreshToken(ctx, sampleImportSeller, time.Time{})
	if err != nil {
		return err
	}
	c := s3.NewFromConfig(StaticConfig(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(r.st.Env[EnvS3])
		o.UsePathStyle = true
	})
	return putSampleImport(ctx, c, token.Reveal())
}

// refreshToken has the simulator mint a refresh token for a consent at authorizedAt
// (zero: now).
func (r *remote) refreshToken(ctx context.Context, sellerID string, authorizedAt time.Time) (secret.Value, error) {
	var ans struct {
		RefreshToken string `json:"refreshToken"`
	}
	body := map[string]any{"sellingPartnerId": sellerID}
	if !authorizedAt.IsZero() {
		body["authorizedAt"] = authorizedAt
	}
	if err := r.sim(ctx, "/_sim/refresh-token", body, &ans); err != nil {
		return "", err
	}
	return secret.Value(ans.RefreshToken), nil
}

// acceptClientSecret makes the simulator accept s beside the stack's current secret.
func (r *remote) acceptClientSecret(ctx context.Context, s secret.Value) error {
	cur, err := r.vault().ClientCredentials(ctx)
	if err != nil {
		return fmt.Errorf("read the running stack's client credentials: %w", err)
	}
	return r.sim(ctx, "/_sim/client-secrets", map[string][]string{"clientSecrets": {cur.ClientSecret.Reveal(), s.Reveal()}}, nil)
}

// sim calls the Amazon simulator's admin API (its answers may carry a token: they are
// never logged here).
func (r *remote) sim(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.simURL+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the running stack's Amazon simulator: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("the running stack's Amazon simulator: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("the running stack's Amazon simulator: %s: HTTP %d %s", path, res.StatusCode, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("the running stack's Amazon simulator: %s: %w", path, err)
		}
	}
	return nil
}

func (r *remote) signer(ctx context.Context) (*consent.Signer, error) {
	if !r.stateKeyRead {
		key, err := r.vault().StateKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the running stack's state key: %w", err)
		}
		r.stateKey, r.stateKeyRead = key, true
	}
	return consent.NewSigner(r.stateKey)
}

// resignHTTP signs an HTTP API event's renewal link (t), state and browser binding
// again with the stack's key, when the demo key made them; the state gets a fresh
// nonce stored in the stack, and the demo authorization code a fresh code from the
// stack's simulator. A tampered value, which the demo key does not verify, stays as
// it is: the stack refuses it as the sample means.
func (r *remote) resignHTTP(ctx context.Context, event []byte) ([]byte, []string, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(event, &ev); err != nil || ev.RawPath == "" || len(ev.QueryStringParameters) == 0 {
		return event, nil, nil
	}
	demoSigner, err := consent.NewSigner(secret.Value(demo.StateKey))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	q := ev.QueryStringParameters
	var notes []string
	changed := false
	if t := q["t"]; t != "" {
		if l, err := demoSigner.VerifyLink(t, now); err == nil {
			if err := r.ensureSampleAuthorization(ctx); err != nil {
				return nil, nil, err
			}
			s, err := r.signer(ctx)
			if err != nil {
				return nil, nil, err
			}
			if l.ConnectionID == demo.ConnectionID && l.Region == demo.Region {
				l.Generation = r.sampleLinkGeneration // the link of the record's latest renewal
			}
			q["t"], changed = s.SignLink(l), true
			notes = append(notes, "signed the renewal link again with the running stack's state key")
		}
	}
	if v := q["state"]; v != "" {
		if st, err := demoSigner.VerifyState(v, now); err == nil {
			if err := r.ensureSampleAuthorization(ctx); err != nil {
				return nil, nil, err
			}
			s, err := r.signer(ctx)
			if err != nil {
				return nil, nil, err
			}
			oldBinding := demoSigner.BrowserBinding(st.Nonce)
			st.Nonce = "sample-" + strings.ToLower(rand.Text()[:16])
			if err := store.New(r.clients.DynamoDB, r.table).PutNonce(ctx, st.Nonce, st.ConnectionID, st.Region, st.Expires); err != nil {
				return nil, nil, fmt.Errorf("store a state nonce in the running stack: %w", err)
			}
			q["state"], changed = s.SignState(st), true
			for i, c := range ev.Cookies {
				name, value, _ := strings.Cut(c, "=")
				if value == oldBinding {
					ev.Cookies[i] = name + "=" + s.BrowserBinding(st.Nonce)
				}
			}
			notes = append(notes, "signed the state again with the running stack's state key, with a fresh nonce")
		}
	}
	if q["spapi_oauth_code"] == demo.Code {
		var ans struct {
			Code string `json:"code"`
		}
		if err := r.sim(ctx, "/_sim/code", map[string]string{"sellingPartnerId": q["selling_partner_id"],
			"redirectUri": r.frontURL + "/callback"}, &ans); err != nil {
			return nil, nil, err
		}
		q["spapi_oauth_code"], changed = ans.Code, true
		notes = append(notes, "replaced the sample's authorization code with one the stack's Amazon simulator issued")
	}
	if !changed {
		return event, nil, nil
	}
	vals := url.Values{}
	for k, v := range q {
		vals.Set(k, v)
	}
	ev.RawQueryString = vals.Encode()
	out, err := json.Marshal(ev)
	return out, notes, err
}

// clientSecretNotification says whether event is an SQS batch carrying an
// Application Management client secret notification, and returns the new secret a
// new-secret notification carries.
func clientSecretNotification(event []byte) (kind string, newSecret secret.Value) {
	var ev events.SQSEvent
	if json.Unmarshal(event, &ev) != nil {
		return "", ""
	}
	for _, rec := range ev.Records {
		var body struct {
			Type    string `json:"notificationType"`
			Payload struct {
				New *struct {
					Secret string `json:"newClientSecret"`
				} `json:"applicationOAuthClientNewSecret"`
			} `json:"payload"`
		}
		if json.Unmarshal([]byte(rec.Body), &body) != nil {
			continue
		}
		switch body.Type {
		case rotation.TypeNewSecret:
			kind = body.Type
			if body.Payload.New != nil {
				newSecret = secret.Value(body.Payload.New.Secret)
			}
		case rotation.TypeSecretExpiry:
			if kind == "" {
				kind = body.Type
			}
		}
	}
	return kind, newSecret
}

// FindRunning returns the running stack `make invoke` should use from the repository
// at root: the one started there, else the one the pointer names (a `make run` in
// another checkout), with the root it was started from.
func FindRunning(root string) (State, string, error) {
	st, err := ReadState(root)
	if err == nil {
		return st, root, nil
	}
	p, perr := PointerPath()
	if perr != nil {
		return State{}, "", err
	}
	b, rerr := os.ReadFile(p)
	other := strings.TrimSpace(string(b))
	if rerr != nil || other == "" || other == root {
		return State{}, "", err
	}
	st, oerr := ReadState(other)
	if oerr != nil {
		return State{}, "", err
	}
	return st, other, nil
}
