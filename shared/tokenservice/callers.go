package tokenservice

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Caller is who asked: the IAM identity AWS verified before invoking the function
// (requestContext.authorizer.iam of a function URL request with AuthType AWS_IAM).
// The event carries no principal tags, so callers are told apart by ARN.
type Caller struct {
	ARN       string // userArn: arn:aws:sts::123456789012:assumed-role/orders-app/session, arn:aws:iam::…:user/…
	UserID    string // userId: AROA…:session or AIDA…
	AccountID string // accountId
}

// CallerOf reads the caller from the function URL event behind r (the httpadapter
// keeps it in the request's context). A request that did not come through a function
// URL with IAM authorization has no caller: its ARN is empty.
func CallerOf(r *http.Request) Caller {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.IAM == nil {
		return Caller{}
	}
	iam := rc.Authorizer.IAM
	return Caller{ARN: iam.UserARN, UserID: iam.UserID, AccountID: iam.AccountID}
}

// LogValue names the caller in a log line; an unknown caller says so.
func (c Caller) LogValue() slog.Value {
	if c.ARN == "" {
		return slog.GroupValue(slog.String("arn", "unknown: no IAM identity in the request"))
	}
	return slog.GroupValue(slog.String("arn", c.ARN), slog.String("userId", c.UserID), slog.String("accountId", c.AccountID))
}

// Callers is the allow-list of TOKEN_SERVICE_CALLERS: which principals may ask for
// which connections' tokens, and which may have onboarding links for pending
// connections. The zero value (the setting unset) lets every IAM-authorized caller
// have any connection's tokens and renewal links, and nobody onboarding links.
type Callers struct {
	entries []callerEntry
}

type callerEntry struct {
	principals  []string // ARN patterns; an IAM role's pattern adds its assumed-role form
	connections []connectionPattern
}

type connectionPattern struct {
	pattern string
	onboard bool // "onboard:" before the pattern
}

// ErrBadCallers is a TOKEN_SERVICE_CALLERS value that cannot be read.
var ErrBadCallers = errors.New("TOKEN_SERVICE_CALLERS")

// ParseCallers reads the allow-list: entries separated by ";" or new lines, each
// "PRINCIPAL=CONNECTION[,CONNECTION…]". PRINCIPAL is an ARN pattern matched against
// the caller's ARN ("*" matches any run of characters, "/" and ":" included) or "*"
// alone for any IAM caller; an IAM role's ARN (arn:aws:iam::123456789012:role/orders-app)
// also matches the sessions of that role (arn:aws:sts::123456789012:assumed-role/orders-app/*),
// which is the ARN a role's caller has. CONNECTION is a connection id pattern ("*"
// as above); "onboard:" before it lets the caller also have onboarding links for
// pending connections that match. An empty value is the zero Callers.
func ParseCallers(s string) (Callers, error) {
	var c Callers
	for i, raw := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		principal, conns, ok := strings.Cut(raw, "=")
		principal = strings.TrimSpace(principal)
		if !ok || principal == "" || strings.TrimSpace(conns) == "" {
			return Callers{}, fmt.Errorf("%w: entry %d %q: want PRINCIPAL_ARN=CONNECTION[,CONNECTION…]", ErrBadCallers, i+1, raw)
		}
		principals, err := principalPatterns(principal)
		if err != nil {
			return Callers{}, fmt.Errorf("%w: entry %d: %w", ErrBadCallers, i+1, err)
		}
		e := callerEntry{principals: principals}
		for _, p := range strings.Split(conns, ",") {
			p = strings.TrimSpace(p)
			cp := connectionPattern{}
			if rest, ok := strings.CutPrefix(p, "onboard:"); ok {
				cp.onboard, p = true, rest
			}
			// A pattern is a connection id in which "*" stands for any run of characters.
			if err := authz.ValidateConnectionID(strings.ReplaceAll(p, "*", "x")); err != nil {
				return Callers{}, fmt.Errorf("%w: entry %d (%s): connection pattern %q: %v", ErrBadCallers, i+1, principal, p, err)
			}
			cp.pattern = p
			e.connections = append(e.connections, cp)
		}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

// principalPatterns checks an ARN pattern and returns the ARN patterns it stands for.
func principalPatterns(p string) ([]string, error) {
	if p == "*" {
		return []string{"*"}, nil
	}
	if strings.ContainsAny(p, " \t,?") {
		return nil, fmt.Errorf("principal %q: an ARN has no spaces, commas or ?", p)
	}
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return nil, fmt.Errorf("principal %q: want an ARN (arn:aws:iam::123456789012:role/orders-app) or *", p)
	}
	out := []string{p}
	// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME → arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/*:
	// a role's caller is one of its sessions, whose ARN has the role's name but not its path.
	if parts[2] == "iam" {
		if rolePath, ok := strings.CutPrefix(parts[5], "role/"); ok {
			name := rolePath[strings.LastIndex(rolePath, "/")+1:]
			if strings.Contains(rolePath, "/") && strings.Contains(name, "*") {
				return nil, fmt.Errorf("principal %q: a session's ARN carries no role path, so a role pattern with a path must end in the role's full name", p)
			}
			if name == "" {
				return nil, fmt.Errorf("principal %q: no role name", p)
			}
			out = append(out, "arn:"+parts[1]+":sts:"+parts[3]+":"+parts[4]+":assumed-role/"+name+"/*")
		}
	}
	return out, nil
}

// Restricted reports whether an allow-list is set.
func (c Callers) Restricted() bool { return len(c.entries) > 0 }

// Grant is what a caller may do with one connection.
type Grant struct {
	Tokens  bool // access tokens, Restricted Data Tokens, renewal links of connections a seller has authorized
	Onboard bool // onboarding links of pending connections
}

// For returns what caller may do with the connection id.
func (c Callers) For(caller Caller, connectionID string) Grant {
	if !c.Restricted() {
		return Grant{Tokens: true}
	}
	var g Grant
	if caller.ARN == "" {
		return g
	}
	for _, e := range c.entries {
		if !e.matches(caller.ARN) {
			continue
		}
		for _, cp := range e.connections {
			if wildcard(cp.pattern, connectionID) {
				g.Tokens = true
				g.Onboard = g.Onboard || cp.onboard
			}
		}
	}
	return g
}

func (e callerEntry) matches(arn string) bool {
	for _, p := range e.principals {
		if wildcard(p, arn) {
			return true
		}
	}
	return false
}

// wildcard matches s against pattern, in which "*" stands for any run of characters
// (as in an IAM policy's ARN); everything else matches itself, case-sensitively.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
