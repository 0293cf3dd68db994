// Package config turns the functions' environment variables (see DESIGN.md and the
// README's configuration table) into one typed value, and fails fast with a message
// that names the variable.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting a function may use. Each function checks the ones it
// needs with Require.
type Config struct {
	TableName             string        // TABLE_NAME
	SecretPrefix          string        // SECRET_PREFIX
	KMSKeyID              string        // KMS_KEY_ID: encrypts the secrets holding refresh tokens
	VaultLayout           string        // VAULT_LAYOUT: packed (default) or per-authorization
	VaultWritesPerSecond  float64       // VAULT_WRITES_PER_SECOND: stack-wide Secrets Manager write budget
	AppID                 string        // APP_ID: the SP-API application id
	AppName               string        // APP_NAME: shown to sellers in pages and emails
	AppIsDraft            bool          // APP_IS_DRAFT: adds version=beta to consent URLs
	RedirectURI           string        // REDIRECT_URI: sent to Amazon when set (apps with several)
	BaseURL               string        // BASE_URL: where /authorize, /login and /callback are served
	SenderEmail           string        // SENDER_EMAIL
	SESConfigurationSet   string        // SES_CONFIGURATION_SET
	ReminderQueueURL      string        // REMINDER_QUEUE_URL
	RefreshQueueURL       string        // REFRESH_QUEUE_URL
	SESMaxPerSecond       float64       // SES_MAX_PER_SECOND
	ReminderStages        string        // REMINDER_STAGES: parsed by the reminder package
	RefreshInterval       time.Duration // REFRESH_INTERVAL
	RefreshMaxPerSecond   float64       // REFRESH_MAX_PER_SECOND
	LinkTTL               time.Duration // LINK_TTL: renewal links in emails
	StateTTL              time.Duration // STATE_TTL: the consent round trip
	SelfServiceOnboarding bool          // SELF_SERVICE_ONBOARDING: unknown sellers at the Login URI get a pending record
	LWAEndpoint           string        // LWA_ENDPOINT: the simulator in local runs
	SellerCentralURL      string        // SELLER_CENTRAL_URL: the simulator in local runs
	SPAPIEndpoint         string        // SP_API_ENDPOINT: overrides every region's SP-API endpoint (the simulator)
	VerifySellerID        bool          // VERIFY_SELLER_ID (default true): learn the seller id from a Product Fees estimate (needs the Pricing role)
	LogLevel              string        // AWS_LAMBDA_LOG_LEVEL is read by the log handler itself
	// Branding and support contact of pages and emails (checked by pages.Brand.Check).
	SupportEmail string // SUPPORT_EMAIL
	SupportURL   string // SUPPORT_URL
	LogoURL      string // LOGO_URL
	BrandColor   string // BRAND_COLOR
	ConnectURL   string // CONNECT_URL: where a seller connects an account in the vendor's app
	// AppNotificationsTemplateID (APP_NOTIFICATIONS_TEMPLATE_ID) turns the Seller
	// Central channel on: the vendor's approved App Integrations template.
	AppNotificationsTemplateID string
}

// Defaults are the values DESIGN.md gives.
const (
	DefaultLWAEndpoint     = "https://api.amazon.com/auth/o2/token"
	DefaultReminderStages  = "-30,-23,-16,-9,-3,-1,0,7,14,28"
	DefaultRefreshInterval = 24 * time.Hour
	DefaultLinkTTL         = 45 * 24 * time.Hour
	DefaultStateTTL        = 15 * time.Minute
)

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:                  getenv("TABLE_NAME"),
		SecretPrefix:               strings.TrimRight(getenv("SECRET_PREFIX"), "/"),
		KMSKeyID:                   getenv("KMS_KEY_ID"),
		VaultLayout:                or(getenv("VAULT_LAYOUT"), "packed"),
		AppID:                      getenv("APP_ID"),
		AppName:                    or(getenv("APP_NAME"), "our app"),
		RedirectURI:                getenv("REDIRECT_URI"),
		BaseURL:                    strings.TrimRight(getenv("BASE_URL"), "/"),
		SenderEmail:                getenv("SENDER_EMAIL"),
		SESConfigurationSet:        getenv("SES_CONFIGURATION_SET"),
		ReminderQueueURL:           getenv("REMINDER_QUEUE_URL"),
		RefreshQueueURL:            getenv("REFRESH_QUEUE_URL"),
		ReminderStages:             or(getenv("REMINDER_STAGES"), DefaultReminderStages),
		LWAEndpoint:                or(getenv("LWA_ENDPOINT"), DefaultLWAEndpoint),
		SellerCentralURL:           strings.TrimRight(getenv("SELLER_CENTRAL_URL"), "/"),
		SPAPIEndpoint:              strings.TrimRight(getenv("SP_API_ENDPOINT"), "/"),
		SupportEmail:               getenv("SUPPORT_EMAIL"),
		SupportURL:                 getenv("SUPPORT_URL"),
		LogoURL:                    getenv("LOGO_URL"),
		BrandColor:                 getenv("BRAND_COLOR"),
		ConnectURL:                 getenv("CONNECT_URL"),
		AppNotificationsTemplateID: getenv("APP_NOTIFICATIONS_TEMPLATE_ID"),
	}
	var errs []error
	boolean := func(name string, dst *bool) {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want true or false", name, v))
			}
			*dst = b
		}
	}
	number := func(name string, def float64, dst *float64) {
		*dst = def
		if v := getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive number", name, v))
			}
			*dst = f
		}
	}
	duration := func(name string, def, min time.Duration, dst *time.Duration) {
		*dst = def
		if v := getenv(name); v != "" {
			d, err := ParseDuration(v)
			if err != nil || d < min {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration of at least %s (e.g. 24h, 45d)", name, v, min))
			}
			*dst = d
		}
	}
	boolean("APP_IS_DRAFT", &c.AppIsDraft)
	boolean("SELF_SERVICE_ONBOARDING", &c.SelfServiceOnboarding)
	// On unless turned off: only a seller id verified by SP-API admits a Login URI
	// renewal or a self-service onboarding (the store name can be copied).
	c.VerifySellerID = true
	boolean("VERIFY_SELLER_ID", &c.VerifySellerID)
	number("SES_MAX_PER_SECOND", 1, &c.SESMaxPerSecond)
	number("REFRESH_MAX_PER_SECOND", 20, &c.RefreshMaxPerSecond)
	number("VAULT_WRITES_PER_SECOND", 40, &c.VaultWritesPerSecond)
	if c.VaultWritesPerSecond > 50 {
		errs = append(errs, fmt.Errorf("VAULT_WRITES_PER_SECOND=%v: Secrets Manager allows 50 writes per second per region", c.VaultWritesPerSecond))
	}
	if c.VaultLayout != "packed" && c.VaultLayout != "per-authorization" {
		errs = append(errs, fmt.Errorf("VAULT_LAYOUT=%q: want packed or per-authorization", c.VaultLayout))
	}
	duration("REFRESH_INTERVAL", DefaultRefreshInterval, time.Hour, &c.RefreshInterval)
	duration("LINK_TTL", DefaultLinkTTL, time.Hour, &c.LinkTTL)
	duration("STATE_TTL", DefaultStateTTL, time.Minute, &c.StateTTL)
	for name, v := range map[string]string{"BASE_URL": c.BaseURL, "REDIRECT_URI": c.RedirectURI, "LWA_ENDPOINT": c.LWAEndpoint, "SELLER_CENTRAL_URL": c.SellerCentralURL, "SP_API_ENDPOINT": c.SPAPIEndpoint} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s=%q: want an absolute http(s) URL", name, v))
		}
	}
	return c, errors.Join(errs...)
}

// FromEnv loads from the process environment.
func FromEnv() (Config, error) { return Load(os.Getenv) }

// Require fails with one message naming every variable in names that is empty.
func (c Config) Require(names ...string) error {
	values := map[string]string{
		"TABLE_NAME": c.TableName, "SECRET_PREFIX": c.SecretPrefix, "APP_ID": c.AppID, "BASE_URL": c.BaseURL,
		"SENDER_EMAIL": c.SenderEmail, "REMINDER_QUEUE_URL": c.ReminderQueueURL, "REFRESH_QUEUE_URL": c.RefreshQueueURL,
		"REDIRECT_URI": c.RedirectURI, "SES_CONFIGURATION_SET": c.SESConfigurationSet,
	}
	var missing []string
	for _, n := range names {
		v, known := values[n]
		if !known {
			panic("config.Require: unknown variable " + n)
		}
		if v == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing environment variables: %s", strings.Join(missing, ", "))
	}
	return nil
}

// MustLoad loads the environment, checks names, and exits with a clear message if
// anything is wrong: a function that starts misconfigured should fail its init, where
// Lambda reports it, not on the first seller.
func MustLoad(names ...string) Config {
	c, err := FromEnv()
	if err == nil {
		err = c.Require(names...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "configuration error:", err)
		os.Exit(1)
	}
	return c
}

// ParseDuration accepts Go durations (36h, 90m) and whole days (45d).
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
