package reminder

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
)

// Templates live in files, one folder per language, so a translation is a new folder
// and no code change. Subjects and text bodies use text/template; HTML bodies use
// html/template, which escapes every field for its context (text, attribute, URL).
//
//go:embed templates
var templateFiles embed.FS

// DefaultLanguage is used for a locale with no templates of its own.
const DefaultLanguage = "en"

type language struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	date    func(time.Time) string
	confirm *language // "confirm your connection" (confirm_*.txt/html), where the language has it
}

var (
	languages = mustLoadLanguages()
	// dateFormats spell a date the way readers of each language expect it.
	dateFormats = map[string]func(time.Time) string{
		"en": func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	}
)

func mustLoadLanguages() map[string]language {
	dirs, err := fs.ReadDir(templateFiles, "templates")
	if err != nil {
		panic(err)
	}
	funcs := texttemplate.FuncMap{"inc": func(i int) int { return i + 1 }}
	out := map[string]language{}
	for _, d := range dirs {
		lang := d.Name()
		dir := "templates/" + lang + "/"
		date, ok := dateFormats[lang]
		if !ok {
			panic("reminder: no date format for language " + lang)
		}
		out[lang] = language{
			subject: texttemplate.Must(texttemplate.New("subject.txt").Option("missingkey=error").ParseFS(templateFiles, dir+"subject.txt")),
			text:    texttemplate.Must(texttemplate.New("body.txt").Funcs(funcs).Option("missingkey=error").ParseFS(templateFiles, dir+"body.txt")),
			html:    htmltemplate.Must(htmltemplate.New("body.html").Option("missingkey=error").ParseFS(templateFiles, dir+"body.html")),
			date:    date,
		}
		if _, err := fs.Stat(templateFiles, dir+"confirm_subject.txt"); err == nil {
			l := out[lang]
			l.confirm = &language{
				subject: texttemplate.Must(texttemplate.New("confirm_subject.txt").Option("missingkey=error").ParseFS(templateFiles, dir+"confirm_subject.txt")),
				text:    texttemplate.Must(texttemplate.New("confirm_body.txt").Funcs(funcs).Option("missingkey=error").ParseFS(templateFiles, dir+"confirm_body.txt")),
				html:    htmltemplate.Must(htmltemplate.New("confirm_body.html").Option("missingkey=error").ParseFS(templateFiles, dir+"confirm_body.html")),
				date:    date,
			}
			out[lang] = l
		}
	}
	if _, ok := out[DefaultLanguage]; !ok {
		panic("reminder: no templates for the default language")
	}
	return out
}

// languageOf picks the templates for a record's locale ("en-GB" → "en").
func languageOf(locale string) language {
	lang, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(locale, "_", "-")), "-")
	if l, ok := languages[lang]; ok {
		return l
	}
	return languages[DefaultLanguage]
}

// Email is one rendered reminder.
type Email struct {
	To      string
	Subject string
	HTML    string
	Text    string
}

// The kinds of email, by where the authorization stands when it is sent.
const (
	kindBefore    = "before"    // expires today or later
	kindExpired   = "expired"   // past expiry: access suspended, renewable
	kindReconnect = "reconnect" // revoked before expiry
)

// emailData is everything a template may show. Every value is ours or checked: the
// app name is configuration, the reference is a validated connection id, and the
// link is our base URL with a base64url token.
type emailData struct {
	Kind        string
	AppName     string
	Reference   string
	ExpiryDate  string
	DaysLeft    int
	RenewURL    string
	LinkExpiry  string
	CentralName string
	Steps       []string
	Subject     string
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
}

// Renderer renders reminder emails.
type Renderer struct {
	cfg    RenderConfig
	signer LinkSigner
}

// ErrBadAddress says a contact address cannot be sent to as it is. An address with a
// line break would let whoever set it add mail headers; it is refused, never cleaned.
var ErrBadAddress = errors.New("contact address is not a plain email address")

// NewRenderer checks the configuration the emails depend on.
func NewRenderer(cfg RenderConfig, signer LinkSigner) (*Renderer, error) {
	if cfg.AppName == "" || hasControl(cfg.AppName) {
		return nil, fmt.Errorf("APP_NAME must be set and on one line, got %q", cfg.AppName)
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("BASE_URL must be set: renewal links point there")
	}
	if cfg.LinkTTL <= 0 {
		return nil, errors.New("LINK_TTL must be positive")
	}
	if signer == nil {
		return nil, errors.New("a link signer is required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Renderer{cfg: cfg, signer: signer}, nil
}

// Render writes the email for job to the authorization's contact, as of now.
func (r *Renderer) Render(a authz.Authorization, job Job, now time.Time) (Email, error) {
	to, err := ValidateAddress(a.ContactEmail)
	if err != nil {
		return Email{}, err
	}
	central, err := consent.CentralURL(a.AccountType, a.Marketplace, a.Region, r.cfg.SellerCentralURL)
	if err != nil {
		return Email{}, fmt.Errorf("central URL of %s: %w", a.Key(), err)
	}
	lang := languageOf(a.Locale)
	linkExpires := now.Add(r.cfg.LinkTTL)
	d := emailData{
		Kind:        kindBefore,
		AppName:     r.cfg.AppName,
		Reference:   a.ConnectionID,
		ExpiryDate:  lang.date(a.ExpiresAt),
		DaysLeft:    a.CalendarDaysLeft(now), // the seller's calendar, as keeperctl list and show count
		RenewURL:    r.cfg.BaseURL + "/authorize?t=" + r.signer.SignLink(consent.Link{ConnectionID: a.ConnectionID, Region: a.Region, Expires: linkExpires, Generation: a.LinkGeneration}),
		LinkExpiry:  lang.date(linkExpires),
		CentralName: "Seller Central",
		Steps:       pages.ManualRenewalSteps(central, r.cfg.AppName),
	}
	if a.AccountType == authz.AccountVendor {
		d.CentralName = "Vendor Central"
	}
	switch {
	case job.Stage == StageReconnect:
		d.Kind = kindReconnect
	case !now.Before(a.ExpiresAt):
		d.Kind = kindExpired
	case a.ExpiryUnknown && lang.confirm != nil:
		// Imported without a grant date: ask the seller to confirm, which starts a known year.
		lang = *lang.confirm
	}
	var subject, text, html bytes.Buffer
	if err := lang.subject.Execute(&subject, d); err != nil {
		return Email{}, fmt.Errorf("render subject: %w", err)
	}
	// A subject is one header line: whatever reached it, no line break survives.
	d.Subject = strings.Join(strings.FieldsFunc(subject.String(), unicode.IsControl), " ")
	if err := lang.text.Execute(&text, d); err != nil {
		return Email{}, fmt.Errorf("render text body: %w", err)
	}
	if err := lang.html.Execute(&html, d); err != nil {
		return Email{}, fmt.Errorf("render HTML body: %w", err)
	}
	return Email{To: to, Subject: d.Subject, HTML: html.String(), Text: text.String()}, nil
}

// ValidateAddress accepts one bare address (local@domain) and returns it: no display
// name, no list, no comment, no control character. SES builds the To header from it,
// so anything else is refused with ErrBadAddress.
func ValidateAddress(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadAddress)
	}
	if len(s) > 320 || hasControl(s) {
		return "", fmt.Errorf("%w: control characters or over 320 bytes", ErrBadAddress)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s || !strings.Contains(addr.Address, "@") {
		return "", fmt.Errorf("%w: want local@domain", ErrBadAddress)
	}
	return addr.Address, nil
}

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
