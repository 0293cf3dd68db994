// Package secret holds Value, a string that never prints itself: refresh tokens,
// access tokens, client secrets and signing keys travel through the code as Values
// so that a log line, an error message or a JSON dump shows "[redacted]" instead.
package secret

import (
	"log/slog"
)

// Redacted is what a Value shows wherever it is formatted.
const Redacted = "[redacted]"

// Value is a secret string. Only Reveal returns its content; every formatting path
// (fmt verbs, slog, encoding/json, encoding.TextMarshaler) shows Redacted.
type Value string

// Reveal returns the secret itself. Call it only where the value leaves the process
// on purpose: an HTTP form to LWA, a Secrets Manager write, an HMAC key.
func (v Value) Reveal() string { return string(v) }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v == "" }

func (v Value) String() string   { return Redacted }
func (v Value) GoString() string { return `secret.Value("` + Redacted + `")` }

// LogValue keeps the secret out of slog output.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText keeps the secret out of JSON, YAML and any text encoder. Code that must
// serialise the real value (the vault) copies it into a plain string field first.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
