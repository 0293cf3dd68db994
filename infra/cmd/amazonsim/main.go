// Command amazonsim runs the Amazon simulator (Seller Central consent pages and the
// LWA token endpoint) as a process for the local stack and for a person to click
// through. It prints "listening on http://127.0.0.1:PORT" once it accepts requests
// and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "amazonsim:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("amazonsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr         = fs.String("addr", "127.0.0.1:0", "listen address")
		appID        = fs.String("app-id", "amzn1.sp.solution.local-keeper", "application_id of the simulated SP-API app")
		appName      = fs.String("app-name", "Authorization Keeper (local)", "application name on the consent page")
		draft        = fs.Bool("draft", false, "the app is in draft status: links need version=beta")
		hybrid       = fs.Bool("hybrid", false, "hybrid app: redirects also carry mws_auth_token")
		clientID     = fs.String("client-id", "amzn1.application-oa2-client.local", "LWA client identifier")
		clientSecret = fs.String("client-secret", "", "LWA client secret (required)")
		loginURI     = fs.String("login-uri", "", "the app's OAuth Login URI (Renew flow)")
		publicURL    = fs.String("public-url", "", "base URL browsers use to reach the simulator (default: the request's host)")
		redirects    listFlag
		sellers      listFlag
		roles        listFlag
	)
	fs.Var(&redirects, "redirect-uri", "registered OAuth redirect URI (repeatable; the first is the default)")
	fs.Var(&sellers, "seller", "selling account that can sign in, as ID=Name, optionally followed by "+
		"|store=STORE NAME|countries=DE,FR|type=vendor (repeatable)")
	fs.Var(&roles, "role", "a role of the app, e.g. Pricing (repeatable; default: the simulator's list, Pricing among them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clientSecret == "" {
		return errors.New("-client-secret is required")
	}
	if len(redirects) == 0 {
		return errors.New("at least one -redirect-uri is required")
	}
	cfg := amazonsim.Config{
		AppID: *appID, AppName: *appName, Draft: *draft, Hybrid: *hybrid,
		RedirectURIs: redirects, ClientID: *clientID, ClientSecret: *clientSecret,
		LoginURI: *loginURI, PublicURL: *publicURL, Roles: roles,
		Logger: slog.New(slog.NewJSONHandler(stderr, nil)),
	}
	for _, s := range sellers {
		sl, err := parseSeller(s)
		if err != nil {
			return err
		}
		cfg.Sellers = append(cfg.Sellers, sl)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: amazonsim.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		// Held requests (a timeout fault) may outlive the grace period.
		return srv.Close()
	}
	return nil
}

// parseSeller reads -seller: ID=Name, then optional |store=..., |countries=DE,FR and
// |type=seller or vendor, the account as the Sellers API answers for it.
func parseSeller(v string) (amazonsim.Seller, error) {
	fields := strings.Split(v, "|")
	id, name, ok := strings.Cut(fields[0], "=")
	if !ok || id == "" || name == "" {
		return amazonsim.Seller{}, fmt.Errorf("-seller %q: want ID=Name", v)
	}
	sl := amazonsim.Seller{ID: id, Name: name}
	for _, f := range fields[1:] {
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "store":
			sl.StoreName = val
		case "countries":
			sl.CountryCodes = strings.Split(val, ",")
		case "type":
			sl.AccountType = val
		default:
			return amazonsim.Seller{}, fmt.Errorf("-seller %q: unknown field %q (want store, countries or type)", v, key)
		}
	}
	if err := sl.Validate(); err != nil {
		return amazonsim.Seller{}, fmt.Errorf("-seller %q: %w", v, err)
	}
	return sl, nil
}
