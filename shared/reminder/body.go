package reminder

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/body.html templates/body.txt
var templates embed.FS

// The bodies' layouts, one for every language. html/template escapes each value of
// the HTML body for where it goes: text, attribute values, the renewal link and the
// logo (a javascript:, data: or other unsafe scheme becomes "#ZgotmplZ") and the CSS
// of the button colour. A message the catalog lacks stops the email
// (missingkey=error), though complete reports it first, by name.
var (
	htmlBody = htmltemplate.Must(htmltemplate.New("body.html").Option("missingkey=error").ParseFS(templates, "templates/body.html"))
	textBody = texttemplate.Must(texttemplate.New("body.txt").Option("missingkey=error").
			Funcs(texttemplate.FuncMap{"inc": func(i int) int { return i + 1 }}).ParseFS(templates, "templates/body.txt"))
)

// bodyMessages are the catalog's email messages the bodies show as they are, by their
// key in emailData.M.
var bodyMessages = []string{"greeting", "button_note", "text_note", "footer"}

// complete reports a catalog that lacks a message the email shows, rather than send
// an email with a hole in it.
func (d emailData) complete() error {
	for _, k := range bodyMessages {
		if _, ok := d.M[k]; !ok {
			return fmt.Errorf("render %s email in %q: the catalog has no email.%s", d.Kind, d.Lang, strings.ReplaceAll(k, "_", "."))
		}
	}
	for name, v := range map[string]string{"subject": d.Subject, "lead": d.Lead, "consequence": d.Consequence,
		"button": d.Button, "text intro": d.TextIntro, "manual steps": d.ManualText, "support line": d.Support} {
		if v == "" {
			return fmt.Errorf("render %s email in %q: the catalog has no %s", d.Kind, d.Lang, name)
		}
	}
	return nil
}

// text is the plain-text body.
func (d emailData) text() (string, error) {
	var b strings.Builder
	if err := textBody.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render %s email in %q: text body: %w", d.Kind, d.Lang, err)
	}
	return b.String(), nil
}

// html is the HTML body: tables and inline styles, which is what email clients read.
func (d emailData) html() (string, error) {
	var b strings.Builder
	if err := htmlBody.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render %s email in %q: HTML body: %w", d.Kind, d.Lang, err)
	}
	return b.String(), nil
}
