package reminder

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/mailtags"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// The bodies are one layout for every language (templates/body.html and body.txt):
// each sentence comes from the message catalog (shared/i18n) of the seller's
// language, filled in before the bodies are rendered (body.go). The HTML body is an
// html/template, which escapes every field for where it goes (text, attribute, URL,
// colour).

// DefaultLanguage is used for a locale and marketplace with no catalog of their own.
const DefaultLanguage = i18n.Default

// Email is one rendered reminder.
type Email struct {
	To      string
	Subject string
	HTML    string
	Text    string
	Tags    map[string]string // SES message tags: the reminder entry the email belongs to
	// Link and ExpiryDate, as the email shows them, for the Seller Central channel.
	Link, ExpiryDate string
}

// The kinds of email, by where the authorization stands when it is sent.
const (
	kindBefore    = "before"    // expires today or later
	kindExpired   = "expired"   // past expiry: access suspended, renewable
	kindReconnect = "reconnect" // revoked before expiry
	kindConfirm   = "confirm"   // imported without a grant date: confirm, which starts a known year
)

// emailData is everything an email shows. Every value is ours or checked: the
// app name and the brand are configuration, the reference is a validated connection
// id or the vendor's display name, and the link is our base URL with a base64url
// token. M holds the catalog's email messages with "." in their keys as "_".
type emailData struct {
	Kind        string
	Lang        string
	M           map[string]string
	Subject     string
	Lead        string
	Consequence string
	Button      string
	TextIntro   string
	ManualHTML  string
	ManualText  string
	Support     string
	RenewURL    string
	Steps       []string
	LogoURL     string
	Color       string
}

// LinkSigner makes the token of a renewal link.
type LinkSigner interface {
	SignLink(l consent.Link) string
}

// RenderConfig is what the emails need to know about the deployment.
type RenderConfig struct {
	AppName          string        // APP_NAME
	BaseURL          string        // BASE_URL: where /authorize is served
	LinkTTL          time.Duration // LINK_TTL: how long a renewal link works
	SellerCentralURL string        // SELLER_CENTRAL_URL: the simulator in local runs
	Brand            pages.Brand   // LOGO_URL, BRAND_COLOR, SUPPORT_EMAIL, SUPPORT_URL
}

// Renderer renders reminder emails.
type Renderer struct {
	cfg    RenderConfig
	signer LinkSigner
}

// ErrBadAddress is stages.ErrBadAddress.
var ErrBadAddress = stages.ErrBadAddress

// ErrContactUnreachable: the contact address bounced for good or complained; no email
// goes to it until the vendor sets it again (keeperctl set --email). It is a kind of
// ErrBadAddress, so the sender records the stage as rejected.
var ErrContactUnreachable = fmt.Errorf("%w: the contact bounced or complained; set it again to resume", ErrBadAddress)

// Check validates the configuration the emails depend on.
func (cfg RenderConfig) Check() error {
	if cfg.AppName == "" || hasControl(cfg.AppName) {
		return fmt.Errorf("APP_NAME must be set and on one line, got %q", cfg.AppName)
	}
	if cfg.BaseURL == "" {
		return errors.New("BASE_URL must be set: renewal links point there")
	}
	if cfg.LinkTTL <= 0 {
		return errors.New("LINK_TTL must be positive")
	}
	return cfg.Brand.Check()
}

// NewRenderer checks the configuration the emails depend on.
func NewRenderer(cfg RenderConfig, signer LinkSigner) (*Renderer, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if signer == nil {
		return nil, errors.New("a link signer is required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Renderer{cfg: cfg, signer: signer}, nil
}

// Render writes the email for job to the authorization's contact, as of now.
func (r *Renderer) Render(a authz.Authorization, job Job, now time.Time) (Email, error) {
	unreachable := !a.ContactStatus.Reachable()
	to, err := ValidateAddress(a.ContactEmail)
	if err != nil && !unreachable {
		return Email{}, err
	}
	central, err := consent.CentralURL(a.AccountType, a.Marketplace, a.Region, r.cfg.SellerCentralURL)
	if err != nil {
		return Email{}, fmt.Errorf("central URL of %s: %w", a.Key(), err)
	}
	e, err := r.render(a, job, now, central)
	if err != nil {
		return Email{}, err
	}
	if unreachable {
		// No email goes to this address; the rendered link and date still serve the
		// Seller Central channel, which then is the only one that reaches the seller.
		return e, fmt.Errorf("%w (contact %s)", ErrContactUnreachable, a.ContactStatus)
	}
	e.To = to
	return e, nil
}

// render writes the email for a in its language.
func (r *Renderer) render(a authz.Authorization, job Job, now time.Time, central string) (Email, error) {
	d, date, err := r.data(a, job, now, central)
	if err != nil {
		return Email{}, err
	}
	html, err := d.html()
	if err != nil {
		return Email{}, err
	}
	text, err := d.text()
	if err != nil {
		return Email{}, err
	}
	return Email{Subject: d.Subject, HTML: html, Text: text,
		Tags: mailtags.Tags(a.ConnectionID, a.Region, job.Key()), Link: d.RenewURL, ExpiryDate: date}, nil
}

// data is what the email for a says, in its language, and the expiry date as shown.
func (r *Renderer) data(a authz.Authorization, job Job, now time.Time, central string) (emailData, string, error) {
	lang := i18n.LanguageFor(a.Locale, a.Marketplace)
	loc := i18n.Location(a.Marketplace)
	linkExpires := now.Add(r.cfg.LinkTTL)
	ref := a.ConnectionID
	if name := strings.Join(strings.FieldsFunc(a.DisplayName, unicode.IsControl), " "); name != "" {
		ref = name // the vendor's own name for the account, which the seller recognises
	}
	centralName := "Seller Central"
	if a.AccountType == authz.AccountVendor {
		centralName = "Vendor Central"
	}
	contact, supportKind := r.cfg.Brand.Support()
	vars := i18n.Vars{
		"app": r.cfg.AppName, "central": centralName, "ref": ref, "date": i18n.Date(lang, a.ExpiresAt, loc),
		"days": strconv.Itoa(i18n.DaysBetween(now, a.ExpiresAt, loc)), "linkExpiry": i18n.Date(lang, linkExpires, loc),
		"support": contact,
	}
	m, err := i18n.Messages(lang, "email.", vars)
	if err != nil {
		return emailData{}, "", err
	}
	d := emailData{Kind: kindBefore, Lang: lang, M: map[string]string{},
		RenewURL: r.cfg.BaseURL + "/authorize?t=" + r.signer.SignLink(consent.Link{ConnectionID: a.ConnectionID, Region: a.Region, Expires: linkExpires, Generation: a.LinkGeneration}),
		LogoURL:  r.cfg.Brand.LogoURL, Color: r.cfg.Brand.AccentColor(),
	}
	for k, v := range m {
		d.M[strings.ReplaceAll(k, ".", "_")] = v
	}
	switch {
	case job.Stage == StageReconnect:
		d.Kind = kindReconnect
	case !now.Before(a.ExpiresAt):
		d.Kind = kindExpired
	case a.ExpiryUnknown:
		// Imported without a grant date: ask the seller to confirm, which starts a known year.
		d.Kind = kindConfirm
	}
	steps := pages.StepsRenew
	d.Subject, d.Consequence = m["subject."+d.Kind], m[d.Kind+".consequence"]
	d.Button, d.TextIntro = m["button.renew"], m["text.renew"]
	switch d.Kind {
	case kindReconnect:
		steps = pages.StepsReconnect
		d.Lead, d.Button, d.TextIntro = m["reconnect.lead"], m["button.reconnect"], m["text.reconnect"]
	case kindExpired:
		d.Lead = m["expired.lead"]
	case kindConfirm:
		d.Lead, d.Button, d.TextIntro = m["confirm.lead"], m["button.confirm"], m["text.confirm"]
	default:
		switch vars["days"] {
		case "0":
			d.Lead = m["before.lead.today"]
		case "1":
			d.Lead = m["before.lead.tomorrow"]
		default:
			d.Lead = m["before.lead.days"]
		}
	}
	d.ManualHTML, d.ManualText = m["manual."+steps+".html"], m["manual."+steps+".text"]
	d.Support = m["support."+supportKind]
	if d.Steps, err = pages.Steps(lang, steps, centralName, central, r.cfg.AppName); err != nil {
		return emailData{}, "", err
	}
	if err := d.complete(); err != nil {
		return emailData{}, "", err
	}
	// A subject is one header line: whatever reached it, no line break survives.
	d.Subject = strings.Join(strings.FieldsFunc(d.Subject, unicode.IsControl), " ")
	return d, vars["date"], nil
}

// ValidateAddress is stages.ValidateAddress.
func ValidateAddress(s string) (string, error) { return stages.ValidateAddress(s) }

// FormatSender turns SENDER_EMAIL (a bare address, or "Name <address>") into a From
// value whose display name is RFC 2047-encoded and quoted by net/mail, so nothing in
// it can end the header.
func FormatSender(s string) (string, error) {
	if hasControl(s) {
		return "", fmt.Errorf("SENDER_EMAIL %q has control characters", s)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("SENDER_EMAIL %q: %w", s, err)
	}
	if addr.Name == "" {
		return addr.Address, nil
	}
	return addr.String(), nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
