// Package markup writes the little HTML the keeper sends, the seller's pages and the
// reminder emails, with every value escaped for where it goes: text and quoted
// attribute values, URLs in href and src, and a CSS colour.
//
// It replaces html/template for these two fixed documents. html/template's engine
// (text/template) looks fields and methods up by name through reflection, and a
// binary that can do that must keep every exported method of every type that reaches
// an interface: 2.5 MB of the callback's bootstrap. The escaping rules here are
// html/template's for the same contexts, and the tests hold them to it.
package markup

import (
	"strings"
)

// Builder collects a document. The zero Builder is empty and ready.
type Builder struct{ b strings.Builder }

// Raw writes markup of our own. Only constant strings belong here.
func (w *Builder) Raw(s string) *Builder {
	w.b.WriteString(s)
	return w
}

// Text writes s as text content or as the value of a double-quoted attribute:
// nothing in it can open a tag, end the attribute or start an entity.
func (w *Builder) Text(s string) *Builder {
	w.b.WriteString(Escape(s))
	return w
}

// URL writes s as the value of a double-quoted href or src attribute. A URL with a
// scheme other than http, https or mailto (javascript:, data:, vbscript:…) becomes
// "#ZgotmplZ", as html/template makes it; characters that do not belong in a URL are
// percent-encoded, and the result is escaped for the attribute.
func (w *Builder) URL(s string) *Builder {
	if !safeScheme(s) {
		s = "#ZgotmplZ"
	}
	w.b.WriteString(Escape(normalizeURL(s)))
	return w
}

// Color writes c if it is a CSS hex colour (#rgb or #rrggbb), else fallback, which
// must be one.
func (w *Builder) Color(c, fallback string) *Builder {
	if !IsHexColor(c) {
		c = fallback
	}
	w.b.WriteString(c)
	return w
}

// String is the document so far.
func (w *Builder) String() string { return w.b.String() }

var escaper = strings.NewReplacer(
	"\x00", "\uFFFD",
	`"`, "&#34;",
	"&", "&amp;",
	"'", "&#39;",
	"+", "&#43;",
	"<", "&lt;",
	">", "&gt;",
)

// Escape is s as HTML text or a quoted attribute value, escaped as html/template
// escapes them.
func Escape(s string) string { return escaper.Replace(s) }

// IsHexColor reports whether c is #rgb or #rrggbb.
func IsHexColor(c string) bool {
	if (len(c) != 4 && len(c) != 7) || c[0] != '#' {
		return false
	}
	for i := 1; i < len(c); i++ {
		if !isHex(c[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// safeScheme reports whether s is relative or has one of the schemes a page may
// link to.
func safeScheme(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(scheme, "/") {
		return true // no scheme: a relative URL
	}
	switch strings.ToLower(scheme) {
	case "http", "https", "mailto":
		return true
	}
	return false
}

// normalizeURL percent-encodes the bytes of s that may not appear in a URL, keeping
// the reserved characters and existing escapes (html/template's URL normalizer).
func normalizeURL(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c) // an escape already
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
