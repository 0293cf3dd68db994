package operator

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// keeperctl export: the ledger for the vendor's own systems and spreadsheets, as CSV
// or JSON Lines, written while the table is read (memory does not grow with it). It
// never holds a token: the record has none.
//
//	keeperctl export [--format csv|jsonl] [--output FILE] [--status …] [--region eu]

// ExportColumns are the CSV header and the JSON Lines keys, in order.
var ExportColumns = []string{"connectionId", "region", "accountType", "marketplace", "sellingPartnerId", "displayName",
	"contactEmail", "contactStatus", "locale", "status", "expiryKnown", "authorizedAt", "expiresAt", "daysLeft",
	"lastRefreshAt", "lastRefreshError", "refreshFailures", "storeName"}

// Export writes every authorization that passes f to w, in the table's order.
func (o *Operator) Export(ctx context.Context, w io.Writer, format string, f Filter) (int, error) {
	now := o.clock.Now()
	var cw *csv.Writer // nil: JSON Lines
	switch format {
	case "csv":
		cw = csv.NewWriter(w)
		if err := cw.Write(ExportColumns); err != nil {
			return 0, err
		}
	case "jsonl":
	default:
		return 0, fmt.Errorf("%w: --format %q (want csv or jsonl)", ErrInvalid, format)
	}
	n := 0
	err := o.ledger.List(ctx, func(a authz.Authorization) error {
		if !f.match(a, now) {
			return nil
		}
		n++
		fields := exportFields(a, now)
		if cw != nil {
			rec := make([]string, len(fields))
			for i, v := range fields {
				rec[i] = spreadsheetSafe(v.text)
			}
			return cw.Write(rec)
		}
		return writeJSONLine(w, fields)
	})
	if cw != nil {
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
	}
	return n, err
}

// exportField is one column of one authorization: its CSV cell, and its JSON value
// (nil: the record has none, and the key is left out as the cell is left blank).
type exportField struct {
	text  string
	value any
}

func exportFields(a authz.Authorization, now time.Time) []exportField {
	str := func(v string) exportField {
		if v == "" {
			return exportField{}
		}
		return exportField{v, v}
	}
	t := func(v time.Time) exportField {
		if v.IsZero() {
			return exportField{}
		}
		return str(v.UTC().Format(time.RFC3339))
	}
	var days exportField
	if !a.ExpiresAt.IsZero() {
		n := a.CalendarDaysLeft(now)
		days = exportField{strconv.Itoa(n), n}
	}
	// No failure since the last success: a blank cell in CSV, 0 in JSON.
	failures := exportField{value: a.RefreshFailures}
	if a.RefreshFailures > 0 {
		failures.text = strconv.Itoa(a.RefreshFailures)
	}
	known := !a.ExpiryUnknown
	return []exportField{str(a.ConnectionID), str(string(a.Region)), str(string(a.AccountType)), str(a.Marketplace),
		str(a.SellingPartnerID), str(a.DisplayName), str(a.ContactEmail), str(string(a.ContactStatus)), str(a.Locale),
		str(string(a.Status)), {strconv.FormatBool(known), known}, t(a.AuthorizedAt), t(a.ExpiresAt), days,
		t(a.LastRefreshAt), str(a.LastRefreshError), failures, str(a.Account.StoreName)}
}

// writeJSONLine writes fields as one JSON object, keys in ExportColumns' order.
func writeJSONLine(w io.Writer, fields []exportField) error {
	b := []byte{'{'}
	for i, f := range fields {
		if f.value == nil {
			continue
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return err
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(ExportColumns[i])
		b = append(append(append(b, k...), ':'), v...)
	}
	_, err := w.Write(append(b, '}', '\n'))
	return err
}

// spreadsheetSafe keeps a value from running as a formula when the CSV is opened in
// a spreadsheet (OWASP "CSV injection"): display names and e-mail addresses come
// from sellers and vendors' files.
func spreadsheetSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return v // a negative number (days left) is data, not a formula
		}
		return "'" + v
	}
	return v
}

func (c *CLI) exportCmd(ctx context.Context, g Globals, args []string) error {
	var format, output, status string
	fs := c.flags("export", &g)
	fs.StringVar(&format, "format", "csv", "")
	fs.StringVar(&output, "output", "", "")
	fs.StringVar(&status, "status", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("export: unexpected argument %q (write to a file with --output): %w", pos[0], errUsage)
	}
	if g.JSON {
		format = "jsonl"
	}
	if !slices.Contains([]string{"csv", "jsonl"}, format) {
		return fmt.Errorf("--format %q: want csv or jsonl: %w", format, errUsage)
	}
	var f Filter
	if status != "" {
		if f, err = ParseFilterStatuses(status); err != nil {
			return err
		}
	}
	if f.Region, err = regionFlag(g); err != nil {
		return err
	}
	op, err := c.Connect(ctx, c, g)
	if err != nil {
		return err
	}
	w := c.Stdout
	var file *os.File
	if output != "" && output != "-" {
		if file, err = os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		w = file
	}
	n, err := op.Export(ctx, w, format, f)
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	if file != nil {
		fmt.Fprintf(c.Stdout, "%d authorizations written to %s\n", n, output)
	}
	return nil
}
