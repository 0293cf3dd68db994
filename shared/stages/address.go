package stages

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
)

// ErrBadAddress says a contact address cannot be sent to as it is. An address with a
// line break would let whoever set it add mail headers; it is refused, never cleaned.
var ErrBadAddress = errors.New("contact address is not a plain email address")

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

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
