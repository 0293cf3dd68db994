package importer

// This file holds the dispatcher: which rows may run now, and the rows that wait for
// an earlier one of the same connection or seller.

import (
	"fmt"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

func connectionKey(r Row) string { return "c\x00" + r.Key() }

func sellerKey(sellerID string, region authz.Region) string {
	return "s\x00" + sellerID + "/" + string(region)
}

// dispatch puts a row in flight, holding its connection and seller ids, or says why it
// repeats a row still in flight (whose record is not written yet, so the ledger could
// not refuse it), or an earlier row's token (firstOfToken, its line).
func (ru *run) dispatch(row Row, firstOfToken int) string {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	if first, dup := ru.keys[connectionKey(row)]; dup {
		return fmt.Sprintf("connection %s appears again (first on line %d)", row.Key(), first)
	}
	held := []string{connectionKey(row)}
	if row.SellingPartnerID != "" {
		k := sellerKey(row.SellingPartnerID, row.Region)
		if first, dup := ru.keys[k]; dup {
			return fmt.Sprintf("seller %s in region %s appears again (first on line %d)", row.SellingPartnerID, row.Region, first)
		}
		held = append(held, k)
	}
	if firstOfToken > 0 {
		return repeatedToken(firstOfToken)
	}
	for _, k := range held {
		ru.keys[k] = row.Line
	}
	ru.inFlight[row.Line] = held
	return ""
}

// claimSeller holds a seller id SP-API named for a row in flight; it reports the line
// of another row in flight that holds it.
func (ru *run) claimSeller(row Row, sellerID string) (int, bool) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	k := sellerKey(sellerID, row.Region)
	if first, dup := ru.keys[k]; dup && first != row.Line {
		return first, true
	}
	ru.keys[k] = row.Line
	ru.inFlight[row.Line] = append(ru.inFlight[row.Line], k)
	return 0, false
}

func (ru *run) releaseLocked(line int) {
	for _, k := range ru.inFlight[line] {
		if ru.keys[k] == line {
			delete(ru.keys, k)
		}
	}
	delete(ru.inFlight, line)
}

// settle records a row's outcome, or, for a row the import was stopped before it
// could finish, leaves it in flight (doneThroughLine stops before it) and starts no
// more rows.
func (ru *run) settle(row Row, out Outcome, reason string) {
	if out == outcomeInterrupted {
		ru.stopped.Store(true)
		ru.abort(errStopped)
		return
	}
	ru.finish(row.Line, row.ConnectionID, out, reason)
}

// finish records a row's outcome.
func (ru *run) finish(line int, connectionID string, out Outcome, reason string) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	ru.releaseLocked(line)
	ru.report.add(line, connectionID, out, reason)
	ru.ahead[line] = true
	if len(ru.ahead) > 2*ru.maxAhead {
		done := ru.doneThroughLocked()
		for l := range ru.ahead {
			if l <= done {
				delete(ru.ahead, l)
			}
		}
	}
}
