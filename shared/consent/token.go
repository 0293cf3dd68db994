// Package consent holds what the seller's browser carries through the OAuth
// "website authorization workflow": signed renewal links, signed single-use state
// values, and the Seller Central / Vendor Central consent URLs they lead to.
package consent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Errors a verification returns; each maps to a page the seller understands.
var (
	ErrMalformed    = errors.New("token is malformed")
	ErrBadSignature = errors.New("token signature does not match")
	ErrExpired      = errors.New("token has expired")
)

// MaxTokenLen bounds what the verifier reads: a real token is under 300 bytes, and
// anything far larger is an attack or a truncated paste joined to other text.
const MaxTokenLen = 1024

// MinKeyLen is the shortest HMAC key accepted (HMAC-SHA256 wants at least 32 bytes).
const MinKeyLen = 32

// b64 is strict: Go's decoder otherwise skips CR and LF and tolerates stray trailing
// bits, so two different strings could carry one signature.
var b64 = base64.RawURLEncoding.Strict()

// isBase64URL reports whether s holds only the unpadded base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Purposes keep a renewal link from being replayed as a state, and the other way round.
const (
	purposeLink  = "link"
	purposeState = "state"
)

// ErrKeyNotRead: the signer's key has not been read yet (Load), or could not be.
var ErrKeyNotRead = errors.New("state signing key not read")

// KeySource reads the stack's state-key secret (vault.Vault.StateKey).
type KeySource func(ctx context.Context) (secret.Value, error)

// Signer signs and verifies links and states with the stack's state-key secret.
type Signer struct {
	key  atomic.Pointer[[]byte]
	src  KeySource
	read chan struct{} // holds one token: one read of src at a time
}

// NewSigner returns a signer for key, which must be at least MinKeyLen bytes.
func NewSigner(key secret.Value) (*Signer, error) {
	k, err := checkKey(key)
	if err != nil {
		return nil, err
	}
	s := &Signer{}
	s.key.Store(&k)
	return s, nil
}

// NewSignerFrom returns a signer that reads its key from src on first use (Load) and
// keeps it, so a function starts without waiting for Secrets Manager, and one that
// does not answer then fails the requests that need the key, each with a clear
// error, instead of the function's start.
func NewSignerFrom(src KeySource) *Signer {
	s := &Signer{src: src, read: make(chan struct{}, 1)}
	s.read <- struct{}{}
	return s
}

func checkKey(key secret.Value) ([]byte, error) {
	if len(key.Reveal()) < MinKeyLen {
		return nil, fmt.Errorf("state signing key is %d bytes, want at least %d", len(key.Reveal()), MinKeyLen)
	}
	return []byte(key.Reveal()), nil
}

// Load reads the key from the signer's source unless it has been read: a request that
// signs or verifies calls it first, with its own context. A failed read is not kept,
// so the next Load reads again; concurrent callers wait for one read, each no longer
// than its context allows.
func (s *Signer) Load(ctx context.Context) error {
	if s.key.Load() != nil {
		return nil
	}
	if s.src == nil {
		return ErrKeyNotRead
	}
	select {
	case <-s.read:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeyNotRead, ctx.Err())
	}
	defer func() { s.read <- struct{}{} }()
	if s.key.Load() != nil { // read by the caller we waited for
		return nil
	}
	v, err := s.src(ctx)
	if err != nil {
		return fmt.Errorf("%w: read state signing key: %w", ErrKeyNotRead, err)
	}
	k, err := checkKey(v)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyNotRead, err)
	}
	s.key.Store(&k)
	return nil
}

// keyBytes is the key once read. Signing before a successful Load is a bug of the
// caller's wiring (each request loads the key first), not a state a request can
// reach: it panics rather than sign with no key.
func (s *Signer) keyBytes() []byte {
	k := s.key.Load()
	if k == nil {
		panic("consent: signer used before Load read its key")
	}
	return *k
}

// Link is what a renewal link in an email carries: which authorization to renew and
// until when the link works. No email address or secret is in it.
type Link struct {
	ConnectionID string
	Region       authz.Region
	Expires      time.Time
	// Generation is the record's link generation when the link was made: a renewal
	// advances the record's, so an older link ends on "already renewed".
	Generation int
}

// State is the OAuth state sent to Seller Central: a single-use nonce (stored in the
// table) bound to one authorization, with its own short expiry.
type State struct {
	Nonce        string
	ConnectionID string
	Region       authz.Region
	Expires      time.Time
	// SellerCentral marks a round trip started at the Login URI: anyone can call it
	// with any seller's id, so its callback is accepted only with SP-API's evidence
	// that the new token is the account on record. Such a state names neither the
	// connection nor the region (they are in the nonce's item only): a known and an
	// unknown seller's states look alike.
	SellerCentral bool
}

type payload struct {
	Purpose      string `json:"p"`
	ConnectionID string `json:"c"`
	Region       string `json:"r"`
	Nonce        string `json:"n,omitempty"`
	Expires      int64  `json:"e"`
	Generation   int    `json:"g,omitempty"`
	LoginURI     bool   `json:"l,omitempty"`
}

// SignLink returns the token of a renewal link: base64url(payload) "." base64url(HMAC-SHA256).
func (s *Signer) SignLink(l Link) string {
	return s.sign(payload{Purpose: purposeLink, ConnectionID: l.ConnectionID, Region: string(l.Region), Expires: l.Expires.Unix(), Generation: l.Generation})
}

// SignState returns the state value for the consent URL.
func (s *Signer) SignState(st State) string {
	return s.sign(payload{Purpose: purposeState, ConnectionID: st.ConnectionID, Region: string(st.Region), Nonce: st.Nonce, Expires: st.Expires.Unix(), LoginURI: st.SellerCentral})
}

// VerifyLink checks a renewal link's token. An expired link still returns its
// contents with ErrExpired, so the page can name the authorization.
func (s *Signer) VerifyLink(token string, now time.Time) (Link, error) {
	p, err := s.verify(token, purposeLink, now)
	l := Link{ConnectionID: p.ConnectionID, Region: authz.Region(p.Region), Expires: time.Unix(p.Expires, 0).UTC(), Generation: p.Generation}
	return l, err
}

// VerifyState checks a state value. It does not consume the nonce: the caller does,
// with a conditional delete, so that a replay fails.
func (s *Signer) VerifyState(token string, now time.Time) (State, error) {
	p, err := s.verify(token, purposeState, now)
	st := State{Nonce: p.Nonce, ConnectionID: p.ConnectionID, Region: authz.Region(p.Region), Expires: time.Unix(p.Expires, 0).UTC(), SellerCentral: p.LoginURI}
	if err == nil && p.Nonce == "" {
		return State{}, fmt.Errorf("%w: state without nonce", ErrMalformed)
	}
	return st, err
}

// BrowserBinding is the keyed hash of a state's nonce that the browser starting the
// round trip keeps in a cookie (RFC 9700 §4.7, login CSRF): the callback requires it,
// so a consent URL forwarded to, or planted in, another browser cannot complete. The
// nonce itself never goes into the cookie.
func (s *Signer) BrowserBinding(nonce string) string {
	m := hmac.New(sha256.New, s.keyBytes())
	m.Write([]byte("browser-binding\x00"))
	m.Write([]byte(nonce))
	return b64.EncodeToString(m.Sum(nil)[:18])
}

// CheckBrowserBinding reports whether one of the bindings a browser presented is the
// one for nonce, in constant time for each.
func (s *Signer) CheckBrowserBinding(nonce string, presented []string) bool {
	if s.key.Load() == nil {
		return false
	}
	want := []byte(s.BrowserBinding(nonce))
	ok := false
	for _, p := range presented {
		if hmac.Equal([]byte(p), want) {
			ok = true
		}
	}
	return ok
}

func (s *Signer) sign(p payload) string {
	body, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("consent: marshal payload: %v", err)) // plain strings and ints cannot fail
	}
	enc := b64.EncodeToString(body)
	return enc + "." + b64.EncodeToString(s.mac(enc))
}

func (s *Signer) mac(encodedPayload string) []byte {
	m := hmac.New(sha256.New, s.keyBytes())
	m.Write([]byte(encodedPayload))
	return m.Sum(nil)
}

func (s *Signer) verify(token, purpose string, now time.Time) (payload, error) {
	if s.key.Load() == nil {
		return payload{}, ErrKeyNotRead
	}
	if token == "" {
		return payload{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(token) > MaxTokenLen {
		return payload{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(token), MaxTokenLen)
	}
	enc, sigText, ok := strings.Cut(token, ".")
	if !ok || enc == "" || sigText == "" || !isBase64URL(enc) || !isBase64URL(sigText) {
		return payload{}, fmt.Errorf("%w: want base64url payload.signature", ErrMalformed)
	}
	sig, err := b64.DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return payload{}, fmt.Errorf("%w: signature is not a base64url HMAC-SHA256", ErrMalformed)
	}
	// Constant-time comparison, before the payload is even parsed.
	if !hmac.Equal(sig, s.mac(enc)) {
		return payload{}, ErrBadSignature
	}
	body, err := b64.DecodeString(enc)
	if err != nil {
		return payload{}, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return payload{}, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if p.Purpose != purpose {
		// A correctly signed token of the other kind: a renewal link pasted as state,
		// or the reverse. It was never meant for this endpoint.
		return payload{}, fmt.Errorf("%w: a %s token where a %s was expected", ErrMalformed, p.Purpose, purpose)
	}
	// A Login URI state names no connection and no region: the nonce's item does.
	anonymous := p.Purpose == purposeState && p.LoginURI && p.ConnectionID == "" && p.Region == ""
	if !anonymous {
		if err := authz.ValidateConnectionID(p.ConnectionID); err != nil {
			return payload{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if _, err := authz.ParseRegion(p.Region); err != nil {
			return payload{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if !now.Before(time.Unix(p.Expires, 0)) {
		return p, ErrExpired
	}
	return p, nil
}
