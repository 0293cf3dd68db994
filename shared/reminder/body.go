package reminder

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/markup"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
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
func (d emailData) text() string {
	var b strings.Builder
	for _, p := range []string{d.M["greeting"], d.Lead, d.Consequence, d.TextIntro, d.RenewURL, d.M["text_note"]} {
		b.WriteString(p)
		b.WriteString("\n\n")
	}
	b.WriteString(d.ManualText)
	b.WriteString("\n")
	for i, s := range d.Steps {
		b.WriteString("\n" + strconv.Itoa(i+1) + ". " + s)
	}
	b.WriteString("\n\n" + d.Support + "\n\n" + d.M["footer"] + "\n")
	return b.String()
}

// html is the HTML body: tables and inline styles, which is what email clients read.
func (d emailData) html() string {
	var b markup.Builder
	b.Raw("<!doctype html>\n<html lang=\"").Text(d.Lang).Raw("\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>").Text(d.Subject).Raw("</title>\n</head>\n" +
		`<body style="margin:0;padding:0;background:#f6f7f9;font-family:Arial,Helvetica,sans-serif;color:#1b1f24">` + "\n" +
		`<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f7f9"><tr><td align="center" style="padding:24px 12px">` + "\n" +
		`<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:8px"><tr><td style="padding:28px 32px;font-size:16px;line-height:1.5">` + "\n")
	if d.LogoURL != "" {
		b.Raw(`<p style="margin-top:0"><img src="`).URL(d.LogoURL).Raw(`" alt="" style="max-height:48px;max-width:200px"></p>` + "\n")
	}
	b.Raw(`<p style="margin-top:0">`).Text(d.M["greeting"]).Raw("</p>\n")
	b.Raw("<p><strong>").Text(d.Lead).Raw("</strong></p>\n")
	b.Raw("<p>").Text(d.Consequence).Raw("</p>\n")
	b.Raw(`<p style="text-align:center;margin:28px 0"><a href="`).URL(d.RenewURL).
		Raw(`" style="display:inline-block;background:`).Color(d.Color, pages.DefaultColor).
		Raw(`;color:#111111;padding:12px 22px;border-radius:6px;text-decoration:none;font-weight:bold">`).Text(d.Button).Raw("</a></p>\n")
	b.Raw(`<p style="font-size:14px;color:#5f6b7a">`).Text(d.M["button_note"]).Raw("</p>\n")
	b.Raw("<p>").Text(d.ManualHTML).Raw("</p>\n<ol>\n")
	for _, s := range d.Steps {
		b.Raw("<li>").Text(s).Raw("</li>\n")
	}
	b.Raw("</ol>\n<p>").Text(d.Support).Raw("</p>\n")
	b.Raw(`<p style="font-size:13px;color:#5f6b7a;margin-bottom:0">`).Text(d.M["footer"]).Raw("</p>\n" +
		"</td></tr></table>\n</td></tr></table>\n</body>\n</html>\n")
	return b.String()
}
