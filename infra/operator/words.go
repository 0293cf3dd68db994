package operator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Commands lists every keeperctl command, for the messages that say what is valid.
const Commands = "list, show, onboard, link, refresh, forget, move, set, export, import, vault, webhooks or client-secret"

// refreshError makes `keeperctl refresh` exit non-zero when the refresh function
// says the refresh failed or found nothing: scripts must see it.
func refreshError(out []byte) error {
	var o struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(out, &o); err != nil {
		return nil // printed as it came; the function answered
	}
	switch o.Result {
	case "failed", "not_found":
		return fmt.Errorf("%w: %s %s", ErrRefreshFailed, o.Result, o.Reason)
	}
	return nil
}

// ErrNotConfirmed: forget was not confirmed.
var ErrNotConfirmed = fmt.Errorf("not confirmed: nothing was deleted (pass --yes in scripts): %w", errUsage)

// confirmForget asks the operator to type the connection id before anything is
// deleted, unless --yes was given.
func (c *CLI) confirmForget(connectionID string, region authz.Region, yes bool) error {
	if yes {
		return nil
	}
	if c.Stdin == nil {
		if !isTerminal(os.Stdin) {
			return ErrNotConfirmed // no one to ask
		}
	}
	where := ""
	if region != "" {
		where = " in region " + string(region)
	}
	fmt.Fprintf(c.Stderr, "This deletes the refresh token of %s%s at once (no recovery window) and its ledger record; its history stays (for up to 2 years) with an anonymised \"forgotten\" event.\nType the connection id to confirm: ", connectionID, where)
	line, err := bufio.NewReader(c.stdin()).ReadString('\n')
	if strings.TrimSpace(line) != connectionID || (err != nil && line == "") {
		fmt.Fprintln(c.Stderr)
		return ErrNotConfirmed
	}
	return nil
}

func writeForgotten(w io.Writer, f Forgotten, purged bool) {
	fmt.Fprintf(w, "%s/%s forgotten:\n", f.ConnectionID, f.Region)
	fmt.Fprintf(w, "  ledger record:  %s\n", map[bool]string{true: "deleted", false: "none was left"}[f.RecordDeleted])
	token := map[bool]string{true: "deleted, no recovery window", false: "not deleted"}[f.SecretDeleted]
	if f.SecretDeleted && purged {
		token += ", no copy left in its bucket's previous version either"
	}
	fmt.Fprintf(w, "  refresh token:  %s\n", token)
	switch {
	case f.RecordDeleted:
		fmt.Fprintln(w, "  seller binding: released with the record (the seller may connect as another connection)")
	case f.BindingsReleased > 0:
		fmt.Fprintf(w, "  seller binding: %d left over, released (the seller may connect as another connection)\n", f.BindingsReleased)
	}
	fmt.Fprintln(w, "  history:        kept until its TTL (2 years), with a \"forgotten\" event that names neither the seller nor the contact")
}

// writeReminders lists the reminder stages on their own lines, key first.
func writeReminders(w io.Writer, rs map[string]authz.ReminderMark) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nreminders:")
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range rs {
			if !yield(k) {
				return
			}
		}
	}) {
		m := rs[key]
		state := "claimed " + stamp(m.ClaimedAt) + ", not sent yet"
		if !m.SentAt.IsZero() {
			state = "sent " + stamp(m.SentAt)
		}
		if m.Error != "" {
			state += " (" + m.Error + ")"
		}
		fmt.Fprintf(w, "  %s\n      %s\n", stageWords(key), state)
	}
}

// stageWords says what a remindersSent key means: "-3" is 3 days before expiry.
func stageWords(key string) string {
	if at, ok := strings.CutPrefix(key, "reconnect@"); ok {
		return "reconnect email after the revocation of " + at
	}
	var n int
	if _, err := fmt.Sscanf(key, "%d", &n); err != nil {
		return key
	}
	switch {
	case n < 0:
		return fmt.Sprintf("%d days before expiry (%s)", -n, key)
	case n == 0:
		return "on the expiry day (0)"
	}
	return fmt.Sprintf("%d days after expiry (%s)", n, key)
}

// describeEvent says what a history event means, in words.
func describeEvent(h HistoryLine, contact string) string {
	detail := strings.TrimSpace(h.Detail)
	var what string
	switch h.Kind {
	case authz.EventCreated:
		what = "created"
	case authz.EventAuthorized:
		what = "authorized by the seller"
	case authz.EventRenewed:
		what = "renewed by the seller"
	case authz.EventReminded:
		// The store writes "reminder {key} sent, SES message id {id}".
		what = "reminder sent"
		if rest, ok := strings.CutPrefix(detail, "reminder "); ok {
			k, tail, _ := strings.Cut(rest, " sent")
			what = "reminder " + stageWords(k) + " sent"
			detail = strings.TrimSpace(strings.TrimPrefix(tail, ","))
		}
		if contact != "" {
			what += " to " + contact
		}
	case authz.EventReminderRejected:
		what = "reminder not delivered"
	case authz.EventRefreshFailed:
		what = "proof of life failed"
	case authz.EventRevoked:
		what = "revoked: LWA refused the token (the seller removed the app)"
	case authz.EventExpired:
		what = "expired"
	case authz.EventRestored:
		what = "restored: LWA accepts the token again"
	case authz.EventMismatchedSeller, authz.EventAccountMismatch:
		what = "refused: another Amazon account tried to renew it"
	case authz.EventForgotten:
		what = "forgotten by an operator"
	case authz.EventImported:
		what = "imported"
	case authz.EventContactChanged:
		what = "contact details changed"
	case authz.EventReminderBounced:
		what = "reminder bounced"
	default:
		what = string(h.Kind)
	}
	if detail != "" {
		return what + ": " + detail
	}
	return what
}
