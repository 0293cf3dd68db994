// Package localstack runs the whole keeper on one machine, on 127.0.0.1 only: the
// emulators (DynamoDB Local, aws-ses-v2-local and its mail page, the SQS emulator), the
// project's Secrets Manager emulator, the Amazon simulator (Seller Central consent
// pages and the LWA token endpoint), and every function of template.yaml as its built
// bootstrap binary behind a local Lambda Runtime API. Around the functions it plays
// the parts AWS plays: an HTTP front that turns browser requests into HTTP API
// payload v2 events, SQS event source mappings that deliver batches and honour
// batchItemFailures, the schedules (on demand, or on a fast clock), and the Lambda
// Invoke API for operators. `make run`, `make invoke` and the end-to-end tests use it.
package localstack

import (
	"github.com/spapi-auth-keeper/keeper/infra/localstate"

	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/kmsemu"
	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/sesevents"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// The functions the stack plays schedules and the operator's refresh for.
const (
	CallbackFunction     = "CallbackFunction"
	ExpiryScanFunction   = "ExpiryScanFunction"
	TokenRefreshFunction = localstate.TokenRefreshFunction
	CredentialsFunction  = "CredentialsFunction"
)

// Environment variables the stack gives every function besides the template's, and
// publishes for the operator CLI: the SDK's own endpoint variables.
const (
	EnvSecretsManager = localstate.EnvSecretsManager
	EnvKMS            = localstate.EnvKMS
	EnvLambda         = localstate.EnvLambda
)

// Region and account every local ARN names.
const (
	Region    = localstate.Region
	AccountID = "000000000000"
)

// Error kinds of Start.
var (
	// ErrAddrInUse: the front's address is taken by another process.
	ErrAddrInUse = errors.New("address already in use")
	// ErrNotBuilt: a function's bootstrap binary is missing (run Build first).
	ErrNotBuilt = errors.New("function binary not built")
	// ErrUnknownFunction: a function name the template does not have.
	ErrUnknownFunction = errors.New("no such function in template.yaml")
)

// Seed says which data Start puts in the stack.
type Seed int

const (
	SeedNone    Seed = iota
	SeedDemo         // the four demo authorizations of the local demo (see seed.go)
	SeedSamples      // what the sample events in events/ were made with
)

// Options configure Start.
type Options struct {
	Root   string // repository root (template.yaml); default: found from the working directory
	BinDir string // built bootstraps, BinDir/<dir>/bootstrap (see Build); required
	// Functions to run; default every function of the template.
	Functions []string
	// FrontAddr is where the HTTP front listens; default 127.0.0.1:0 (a free port).
	FrontAddr string
	// Endpoints names running emulators to use (emulators.EnvDynamoDB, EnvSES, EnvSQS
	// → base URL) instead of starting new ones; the stack then names its table, queues
	// and secrets under Name so that it shares them safely.
	Endpoints map[string]string
	// Name prefixes the table, the queues and the secrets; default "keeper-local".
	Name string
	Seed Seed
	// Log receives the stack's own log (slog JSON) and, one prefixed line at a time,
	// the emulators' and functions' output; nil discards it.
	Log io.Writer
	// PollWait is the SQS pollers' long-poll wait; default 1 s.
	PollWait time.Duration
	// NoEventSources leaves the queues unpolled, as `sam local invoke` runs one
	// function alone: what it queues stays queued.
	NoEventSources bool
	// Progress receives one line per step of the start as it ends, with its duration
	// (`make run` shows them: the first start can take a minute); nil: none.
	Progress io.Writer
}

// Stack is a running local deployment.
type Stack struct {
	opts  Options
	tmpl  *Template
	log   *slog.Logger
	out   *prefixWriter
	start time.Time

	emus      *emulators.Set
	endpoints map[string]string
	clients   Clients
	servers   []*http.Server
	sim       *amazonsim.Sim

	FrontURL, SellerCentralURL, SecretsURL, LambdaURL, MailURL string
	S3URL                                                      string // the import bucket's S3 emulator (imports.go)
	Table, SecretPrefix                                        string
	SESEventsURL                                               string // the SES event simulator the functions send through
	sesEvents                                                  *sesevents.Simulator
	KMSURL, KMSKeyID                                           string // local-kms, and the stack's key in it
	kms                                                        *kmsemu.Server

	queues    map[string]queueInfo // by logical id
	ev        eventParts           // domain events, webhooks, token service (events.go)
	metrics   metricTap            // the functions' EMF metrics, summed (metrics.go)
	stepName  string               // the start's step under way (Options.Progress)
	stepAt    time.Time
	functions map[string]*function
	pollers   []*poller
	pollStop  context.CancelFunc
	pollWG    sync.WaitGroup
	tickers   sync.WaitGroup
	tickStop  context.CancelFunc

	exited   chan error
	stopOnce sync.Once
	stopErr  error
}

type function struct {
	spec *FunctionSpec
	env  map[string]string
	init time.Duration

	mu      sync.Mutex
	rt      *runtimeapi.Runtime // replaced when the process ends (see Stack.invoke)
	stopped bool
}

type queueInfo struct{ URL, ARN, Name string }

// Start brings the stack up and returns once every function has initialised (polled
// its Runtime API for the first time) and the seed data is in place. On failure it
// stops whatever it started.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if opts.Root, err = FindRoot(wd); err != nil {
			return nil, err
		}
	}
	if opts.Name == "" {
		opts.Name = "keeper-local"
	}
	if opts.PollWait <= 0 {
		opts.PollWait = time.Second
	}
	out := newPrefixWriter(opts.Log)
	s = &Stack{opts: opts, out: out, start: time.Now(), exited: make(chan error, 1),
		log:    slog.New(slog.NewJSONHandler(out.tagged("localstack"), nil)),
		queues: map[string]queueInfo{}, functions: map[string]*function{}}
	if s.tmpl, err = LoadTemplate(filepath.Join(opts.Root, "template.yaml")); err != nil {
		return nil, err
	}
	if len(opts.Functions) == 0 {
		s.opts.Functions = s.tmpl.Names()
	}
	for _, fn := range s.opts.Functions {
		if _, ok := s.tmpl.Functions[fn]; !ok {
			return nil, fmt.Errorf("%w: %s (it has %v)", ErrUnknownFunction, fn, s.tmpl.Names())
		}
		if bin := BinaryPath(opts.BinDir, fn); !fileExists(bin) {
			return nil, fmt.Errorf("%s: %w: %s is missing", fn, ErrNotBuilt, bin)
		}
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
			s = nil
		}
	}()

	// The front first: a taken port is the one start failure a person can fix at once.
	frontAddr := opts.FrontAddr
	if frontAddr == "" {
		frontAddr = "127.0.0.1:0"
	}
	frontLn, err := listenFront(frontAddr)
	if err != nil {
		return s, err
	}
	s.FrontURL = "http://" + frontLn.Addr().String()

	// Secrets Manager emulator and Amazon simulator, in this process.
	secretsLn, err := listenLocal(&s.SecretsURL)
	if err != nil {
		frontLn.Close()
		return s, err
	}
	s.serve(secretsLn, secretsemu.New())
	if err := s.startS3(); err != nil { // imports.go
		frontLn.Close()
		return s, err
	}
	kmsLn, err := listenLocal(&s.KMSURL)
	if err != nil {
		frontLn.Close()
		return s, err
	}
	if s.kms, err = kmsemu.New(); err != nil {
		frontLn.Close()
		return s, fmt.Errorf("KMS emulator: %w", err)
	}
	s.serve(kmsLn, s.kms)
	simLn, err := listenLocal(&s.SellerCentralURL)
	if err != nil {
		frontLn.Close()
		return s, err
	}
	s.sim = amazonsim.New(amazonsim.Config{
		AppID: demo.AppID, AppName: AppName, RedirectURIs: []string{s.FrontURL + "/callback"},
		ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, LoginURI: s.FrontURL + "/login",
		Sellers: sellersFor(opts.Seed), PublicURL: s.SellerCentralURL,
		Logger: slog.New(slog.NewJSONHandler(out.tagged("amazonsim"), nil)),
	})
	s.serve(simLn, s.sim)

	// The third-party emulators.
	s.endpoints = map[string]string{}
	need := emulators.Options{InfraDir: filepath.Join(opts.Root, "infra"), Log: out.raw()}
	for _, e := range []struct {
		env string
		on  *bool
	}{{emulators.EnvDynamoDB, &need.DynamoDB}, {emulators.EnvSES, &need.SES}, {emulators.EnvSQS, &need.SQS}} {
		if u := opts.Endpoints[e.env]; u != "" {
			s.endpoints[e.env] = u
		} else {
			*e.on = true
		}
	}
	if need.DynamoDB || need.SES || need.SQS {
		s.progress("starting the emulators (DynamoDB Local, aws-ses-v2-local, fauxqs)")
		if s.emus, err = emulators.Start(ctx, need); err != nil {
			frontLn.Close()
			return s, err
		}
		for k, v := range s.emus.Endpoints() {
			s.endpoints[k] = v
		}
		go func(exited <-chan error) {
			if err, ok := <-exited; ok {
				s.reportExit(err)
			}
		}(s.emus.Exited())
	}
	s.endpoints[EnvSecretsManager] = s.SecretsURL
	s.endpoints[EnvS3] = s.S3URL
	s.endpoints[EnvKMS] = s.KMSURL
	s.MailURL = s.endpoints[emulators.EnvSES] + "/"
	s.clients = clientsFor(s.endpoints)
	if err := s.startSESEvents(); err != nil {
		frontLn.Close()
		return s, err
	}

	s.progress("creating the table, queues, secrets and KMS key")
	if err := s.provision(ctx); err != nil {
		frontLn.Close()
		return s, err
	}
	if err := s.startEvents(ctx); err != nil {
		frontLn.Close()
		return s, err
	}
	s.progress(fmt.Sprintf("starting %d functions behind the local Lambda Runtime API", len(s.opts.Functions)))
	if err := s.startFunctions(ctx); err != nil {
		frontLn.Close()
		return s, err
	}
	lambdaLn, err := listenLocal(&s.LambdaURL)
	if err != nil {
		frontLn.Close()
		return s, err
	}
	s.serve(lambdaLn, s.invokeAPI())
	s.serve(frontLn, s.front())
	if !opts.NoEventSources {
		s.startPollers()
		if err := s.startStream(); err != nil {
			return s, err
		}
	}
	s.progress("seeding")
	if err := s.seed(ctx); err != nil {
		return s, err
	}
	s.progress("")
	s.log.Info("local stack ready", "front", s.FrontURL, "mail", s.MailURL, "sellerCentral", s.SellerCentralURL,
		"functions", s.opts.Functions, "startup", time.Since(s.start).Round(time.Millisecond).String())
	return s, nil
}

// progress ends the step under way (printing its duration) and names the next; ""
// only ends it.
func (s *Stack) progress(next string) {
	if s.opts.Progress == nil {
		return
	}
	now := time.Now()
	if s.stepName != "" {
		fmt.Fprintf(s.opts.Progress, "%s\n", now.Sub(s.stepAt).Round(100*time.Millisecond))
	}
	if next != "" {
		fmt.Fprintf(s.opts.Progress, "  %s... ", next)
	}
	s.stepName, s.stepAt = next, now
}

// AppName is the app's name on the consent page and in emails.
const AppName = "Keeper Demo (local)"

// SenderEmail is the local sender address (aws-ses-v2-local accepts any).
const SenderEmail = "reminders@keeper.local"

func listenFront(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("the renewal pages' address %s is %w: choose another (-addr) or stop the program listening there", addr, ErrAddrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("the renewal pages' address %s: %w", addr, err)
	}
	return ln, nil
}

// CheckAddr tells whether the front could listen on addr now, so that a command can
// refuse a taken port before it spends time building.
func CheckAddr(addr string) error {
	ln, err := listenFront(addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

func listenLocal(url *string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	*url = "http://" + ln.Addr().String()
	return ln, nil
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
}

// clientsFor builds the SDK clients the stack itself uses (provisioning, seeding,
// pollers): static test credentials, every endpoint local, quick retries.
func clientsFor(endpoints map[string]string) Clients {
	cfg := StaticConfig()
	return Clients{
		Clients: awsclients.Clients{
			Config:   cfg,
			DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoints[emulators.EnvDynamoDB]) }),
			Secrets:  secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(endpoints[EnvSecretsManager]) }),
		},
		SES: sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(endpoints[emulators.EnvSES]) }),
		SQS: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoints[emulators.EnvSQS]) }),
		KMS: kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoints[EnvKMS]) }),
	}
}

// Clients are the functions' clients and the others the stack itself uses.
type Clients struct {
	awsclients.Clients
	SES *sesv2.Client
	SQS *sqs.Client
	KMS *kms.Client
}

// StaticConfig is an SDK configuration for the local stack: static credentials, no
// shared config files, so a developer's own AWS profile is never used here, and short
// retry backoff (the emulators are on this machine).
func StaticConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 20 * time.Millisecond, nil })
			})
		},
	}
}

// provision creates what template.yaml would: the table, the queues (dead-letter
// queues first, redrive policies as in the template), the state key and the LWA
// client credentials.
func (s *Stack) provision(ctx context.Context) error {
	s.Table, s.SecretPrefix = s.opts.Name, s.opts.Name
	if err := store.CreateTable(ctx, s.clients.DynamoDB, s.Table); err != nil {
		return err
	}
	if err := s.createQueues(ctx); err != nil {
		return err
	}
	key, err := s.clients.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("the local stack's key: secrets and parked refresh tokens")})
	if err != nil {
		return fmt.Errorf("create the stack's KMS key: %w", err)
	}
	s.KMSKeyID = aws.ToString(key.KeyMetadata.KeyId)
	v := vault.New(s.clients.Secrets, s.SecretPrefix, "").WithLogger(s.log)
	stateKey := secret.Value(demo.StateKey)
	if s.opts.Seed != SeedSamples {
		// Nothing but the sample events needs the published demo key; a fresh one per
		// run means a link from an earlier run is refused, as after a key rotation.
		stateKey = secret.Value(rand.Text() + rand.Text())
	}
	if err := v.PutStateKey(ctx, stateKey); err != nil {
		return err
	}
	expires := time.Now().UTC().AddDate(0, 0, 150)
	s.registerNotifications(expires)
	return v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: demo.ClientID, ClientSecret: secret.Value(demo.ClientSecret),
		ClientSecretExpiresAt: expires})
}

// registerNotifications plays the vendor's Developer Console step for the client secret
// rotation: the simulator sends Application Management notifications to the stack's
// notifications queue. The sample events' rotated secret is accepted beside the demo one.
func (s *Stack) registerNotifications(expires time.Time) {
	if s.opts.Seed == SeedSamples {
		s.sim.SetClientSecrets(demo.ClientSecret, demo.RotatedClientSecret)
	}
	s.sim.SetClientSecretExpiry(demo.ClientSecret, expires)
	if q, ok := s.queues["ClientSecretNotificationsQueue"]; ok {
		s.sim.SetNotificationDestination(s.clients.SQS, q.URL)
	}
}

// Env returns what a client of the stack needs (the operator CLI, `make invoke`): the
// SDK's endpoint variables, static credentials, and the deployment's names.
func (s *Stack) Env() map[string]string {
	env := map[string]string{
		"AWS_REGION": Region, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		EnvLambda:                     s.LambdaURL,
		"KEEPER_TABLE":                s.Table,
		"KEEPER_SECRET_PREFIX":        s.SecretPrefix,
		"KEEPER_BASE_URL":             s.FrontURL,
		"KEEPER_REFRESH_FUNCTION":     TokenRefreshFunction,
		"KEEPER_CREDENTIALS_FUNCTION": CredentialsFunction,
		"KEEPER_MAIL_URL":             s.MailURL,
		"KEEPER_SELLER_CENTRAL_URL":   s.SellerCentralURL,
	}
	for k, v := range s.endpoints {
		env[k] = v
	}
	return env
}

// FunctionEnv is the environment a function runs with in this stack.
func (s *Stack) FunctionEnv(fn string) (map[string]string, bool) {
	f, ok := s.functions[fn]
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for k, v := range f.env {
		out[k] = v
	}
	return out, true
}

// Functions lists the running functions.
func (s *Stack) Functions() []string {
	var out []string
	for fn := range s.functions {
		out = append(out, fn)
	}
	slices.Sort(out)
	return out
}

// Sim is the Amazon simulator, for tests and seeding.
func (s *Stack) Sim() *amazonsim.Sim { return s.sim }

// Clients are SDK clients pointed at the stack's emulators.
func (s *Stack) Clients() Clients { return s.clients }

// Exited delivers the first failure of a running part (an emulator or a function
// process that ended on its own), so `make run` can stop loudly.
func (s *Stack) Exited() <-chan error { return s.exited }

func (s *Stack) reportExit(err error) {
	select {
	case s.exited <- err:
	default:
	}
}

// Stop ends everything Start started: schedules, pollers, function processes, servers
// and emulators. It waits for each, so no process or port is left behind. Calling it
// again returns the first result.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.tickStop != nil {
			s.tickStop()
		}
		s.tickers.Wait()
		s.stopEvents()
		if s.pollStop != nil {
			s.pollStop()
		}
		s.pollWG.Wait()
		if s.sesEvents != nil {
			s.sesEvents.Close()
		}
		for _, f := range s.functions {
			f.mu.Lock()
			f.stopped = true
			if f.rt != nil {
				errs = append(errs, f.rt.Stop())
			}
			f.mu.Unlock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, srv.Close())
			}
		}
		if s.kms != nil {
			errs = append(errs, s.kms.Close())
		}
		if s.emus != nil {
			errs = append(errs, s.emus.Stop())
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
