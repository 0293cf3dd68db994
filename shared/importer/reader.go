package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// Columns of an import file: the CSV header, or the keys of a JSON Lines object.
const (
	ColConnectionID     = "connectionId"
	ColRegion           = "region"
	ColRefreshToken     = "refreshToken"
	ColSellingPartnerID = "sellingPartnerId"
	ColAccountType      = "accountType"
	ColMarketplace      = "marketplace"
	ColContactEmail     = "contactEmail"
	ColLocale           = "locale"
	ColAuthorizedAt     = "authorizedAt"
	ColDisplayName      = "displayName"
)

// RequiredColumns must all be in a file; OptionalColumns may be.
var (
	RequiredColumns = []string{ColConnectionID, ColRegion, ColRefreshToken}
	OptionalColumns = []string{ColSellingPartnerID, ColAccountType, ColMarketplace, ColContactEmail, ColLocale, ColAuthorizedAt, ColDisplayName}
)

// MaxLineBytes bounds one record of a file: a JSON line, or a CSV record however many
// lines its quoted fields span (a quoted field may hold line breaks). A row is a few
// hundred bytes, so a longer record is an attack or a wrong file, and refusing it
// keeps memory flat.
const MaxLineBytes = 64 << 10

// ErrBadFile says the file as a whole cannot be imported (wrong header, not CSV or
// JSON Lines, a record over MaxLineBytes): nothing after that point is processed.
var ErrBadFile = errors.New("import file refused")

// Row is one authorization to import, as the vendor's file gives it, checked.
type Row struct {
	Line             int // 1-based line of the file where the row starts
	ConnectionID     string
	Region           authz.Region
	RefreshToken     secret.Value
	SellingPartnerID string
	AccountType      authz.AccountType
	Marketplace      string
	ContactEmail     string
	Locale           string    // "": the file gives none (the record's, else the marketplace's)
	AuthorizedAt     time.Time // zero: the vendor does not know (expiry unknown)
	DisplayName      string
}

// Key names the row's authorization.
func (r Row) Key() string { return r.ConnectionID + "/" + string(r.Region) }

// Rejection is a row that will not be imported, and why. It never holds a token.
type Rejection struct {
	Line         int    `json:"line"`
	ConnectionID string `json:"connectionId,omitempty"`
	Reason       string `json:"reason"`
}

// Reader streams the rows of an import file: CSV with a header line, or JSON Lines
// (one object per line), told apart by the first byte. It holds one line at a time.
type Reader struct {
	src   *countingReader
	lines *bufio.Reader
	csv   *csv.Reader
	cols  []string // CSV: the header, in file order
	line  int      // JSON Lines: the last line read
	now   func() time.Time
	seen  map[uint64]int32 // TrackDuplicates: hashes of connection/region and seller/region → first line
	seed  maphash.Seed
}

// NewReader reads the start of r and decides its format. A CSV file whose header
// misses a required column, repeats one or names an unknown one is refused here,
// before any row is processed.
func NewReader(r io.Reader, now func() time.Time) (*Reader, error) {
	if now == nil {
		now = time.Now
	}
	cr := &countingReader{r: r}
	limit := &lineLimit{r: cr}
	rd := &Reader{src: cr, lines: bufio.NewReaderSize(limit, MaxLineBytes+4096), now: now}
	first, err := rd.lines.Peek(1)
	for err == nil && (first[0] == 0xEF || first[0] == ' ' || first[0] == '\n' || first[0] == '\r' || first[0] == '\t') {
		if first[0] == 0xEF { // a UTF-8 byte order mark, as spreadsheets write
			if bom, _ := rd.lines.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = rd.lines.Discard(3)
				first, err = rd.lines.Peek(1)
				continue
			}
			break
		}
		if first[0] == '\n' {
			rd.line++
		}
		_, _ = rd.lines.Discard(1)
		first, err = rd.lines.Peek(1)
	}
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: the file is empty", ErrBadFile)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrBadFile, err)
	case first[0] == '{':
		limit.decide(false)
		return rd, nil
	}
	limit.decide(true)
	rd.csv = csv.NewReader(rd.lines)
	rd.csv.ReuseRecord = true
	header, err := rd.csv.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header line: %v", ErrBadFile, fileErr(err))
	}
	if err := checkHeader(header); err != nil {
		return nil, err
	}
	rd.cols = slices.Clone(header)
	rd.csv.FieldsPerRecord = len(header)
	return rd, nil
}

func checkHeader(header []string) error {
	known := append(slices.Clone(RequiredColumns), OptionalColumns...)
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		if !slices.Contains(known, h) {
			return fmt.Errorf("%w: header column %d is %q, not one of %s (the header is the first line; column names are case-sensitive)",
				ErrBadFile, i+1, clip(h, 40), strings.Join(known, ", "))
		}
		if seen[h] {
			return fmt.Errorf("%w: header names %q twice", ErrBadFile, h)
		}
		seen[h] = true
	}
	var missing []string
	for _, c := range RequiredColumns {
		if !seen[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: header lacks the required column(s) %s (it has %s)", ErrBadFile, strings.Join(missing, ", "), strings.Join(header, ","))
	}
	return nil
}

// TrackDuplicates makes the reader reject a row whose connection (or seller, in the
// same region) an earlier row named. It keeps two 64-bit hashes a row, about 50 bytes
// with the map's overhead: the only memory that grows with the file, so only a dry
// run uses it (an import leaves duplicates to the ledger, which refuses them by its
// conditional writes and seller bindings, and keeps memory flat).
func (rd *Reader) TrackDuplicates() {
	if rd.seen == nil {
		rd.seen, rd.seed = map[uint64]int32{}, maphash.MakeSeed()
	}
}

// Format is "csv" or "jsonl".
func (rd *Reader) Format() string {
	if rd.csv != nil {
		return "csv"
	}
	return "jsonl"
}

// BytesRead is how much of the input has been consumed, for progress.
func (rd *Reader) BytesRead() int64 { return rd.src.n.Load() }

// Next returns the next row, or a rejection for a malformed one (the import goes on),
// or io.EOF at the end. Any other error (a line too long, a read error) ends the file.
func (rd *Reader) Next() (Row, *Rejection, error) {
	var (
		fields map[string]string
		line   int
	)
	if rd.csv != nil {
		rec, err := rd.csv.Read()
		if errors.Is(err, io.EOF) {
			return Row{}, nil, io.EOF
		}
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) && !errors.Is(err, errLineTooLong) && !errors.Is(err, errRecordTooLong) {
				if errors.Is(perr.Err, csv.ErrFieldCount) {
					return Row{}, &Rejection{Line: perr.StartLine, Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), len(rd.cols))}, nil
				}
				return Row{}, nil, fmt.Errorf("%w: line %d: %v", ErrBadFile, perr.StartLine, perr.Err)
			}
			return Row{}, nil, fmt.Errorf("%w: %v", ErrBadFile, fileErr(err))
		}
		line, _ = rd.csv.FieldPos(0)
		fields = make(map[string]string, len(rec))
		for i, v := range rec {
			fields[rd.cols[i]] = v
		}
	} else {
		for {
			raw, err := rd.lines.ReadSlice('\n')
			if len(raw) == 0 && errors.Is(err, io.EOF) {
				return Row{}, nil, io.EOF
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return Row{}, nil, fmt.Errorf("%w: line %d: %v", ErrBadFile, rd.line+1, fileErr(err))
			}
			rd.line++
			if len(bytes.TrimSpace(raw)) == 0 {
				continue
			}
			line = rd.line
			fields = map[string]string{}
			if rej := decodeJSONLine(raw, fields); rej != "" {
				return Row{}, &Rejection{Line: line, Reason: rej}, nil
			}
			break
		}
	}
	row, reason := rd.check(fields)
	row.Line = line
	if reason != "" {
		return Row{}, &Rejection{Line: line, ConnectionID: safeID(fields[ColConnectionID]), Reason: reason}, nil
	}
	rd.remember(row)
	return row, nil, nil
}

// decodeJSONLine reads one JSON object of string values (authorizedAt may also be
// null); any other key or value type rejects the row.
func decodeJSONLine(raw []byte, out map[string]string) string {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return "not a JSON object"
	}
	if dec.More() {
		return "more than one JSON value on the line"
	}
	known := append(slices.Clone(RequiredColumns), OptionalColumns...)
	for k, v := range obj {
		if !slices.Contains(known, k) {
			return fmt.Sprintf("unknown key %q (want %s)", clip(k, 40), strings.Join(known, ", "))
		}
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
		default:
			return fmt.Sprintf("%s must be a string", k)
		}
	}
	return ""
}

var (
	sellerIDPattern = regexp.MustCompile(`^A[0-9A-Z]{5,19}$`)
	localePattern   = regexp.MustCompile(`^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$`)
)

// check validates one row's fields; the reason says what is wrong and never quotes
// the token.
func (rd *Reader) check(f map[string]string) (Row, string) {
	var r Row
	r.ConnectionID = strings.TrimSpace(f[ColConnectionID])
	if err := authz.ValidateConnectionID(r.ConnectionID); err != nil {
		return r, "connectionId: " + clip(err.Error(), 160)
	}
	region, err := authz.ParseRegion(strings.ToLower(strings.TrimSpace(f[ColRegion])))
	if err != nil {
		return r, fmt.Sprintf("region %q: want na, eu or fe", clip(f[ColRegion], 20))
	}
	r.Region = region
	if reason := checkToken(f[ColRefreshToken]); reason != "" {
		return r, reason
	}
	r.RefreshToken = secret.Value(strings.TrimSpace(f[ColRefreshToken]))
	if v := strings.TrimSpace(f[ColSellingPartnerID]); v != "" {
		if !sellerIDPattern.MatchString(v) {
			return r, fmt.Sprintf("sellingPartnerId %q: want Amazon's merchant token (A and 5 to 19 capital letters or digits)", clip(v, 30))
		}
		r.SellingPartnerID = v
	}
	switch t := strings.ToLower(strings.TrimSpace(f[ColAccountType])); t {
	case "", string(authz.AccountSeller):
		r.AccountType = authz.AccountSeller
	case string(authz.AccountVendor):
		r.AccountType = authz.AccountVendor
	default:
		return r, fmt.Sprintf("accountType %q: want seller or vendor", clip(t, 20))
	}
	if m := strings.ToUpper(strings.TrimSpace(f[ColMarketplace])); m != "" {
		if err := consent.ValidMarketplace(m, r.Region); err != nil {
			return r, "marketplace: " + clip(err.Error(), 160)
		}
		r.Marketplace = m
	}
	if e := strings.TrimSpace(f[ColContactEmail]); e != "" {
		addr, err := stages.ValidateAddress(e)
		if err != nil {
			return r, "contactEmail: not a plain email address (want name@example.com)"
		}
		r.ContactEmail = addr
	}
	if l := strings.TrimSpace(f[ColLocale]); l != "" {
		if len(l) > 35 || !localePattern.MatchString(l) {
			return r, fmt.Sprintf("locale %q: want a language tag such as en-US or de-DE", clip(l, 20))
		}
		r.Locale = l
	}
	if v := strings.TrimSpace(f[ColAuthorizedAt]); v != "" {
		at, err := parseDate(v)
		if err != nil {
			return r, fmt.Sprintf("authorizedAt %q: want a date (2026-04-01) or an RFC 3339 time", clip(v, 40))
		}
		if at.After(rd.now().Add(24 * time.Hour)) {
			return r, fmt.Sprintf("authorizedAt %s is in the future", at.Format(authz.DayLayout))
		}
		r.AuthorizedAt = at
	}
	if d := strings.TrimSpace(f[ColDisplayName]); d != "" {
		if len(d) > 200 || strings.ContainsFunc(d, isControl) {
			return r, "displayName: at most 200 characters on one line"
		}
		r.DisplayName = d
	}
	// One authorization per connection and region, and one connection per seller and
	// region (DESIGN.md: one selling partner is bound to at most one connection per
	// region): a second row for either would overwrite or shadow the first.
	if rd.seen == nil {
		return r, ""
	}
	if first, dup := rd.seen[rd.hash("c", r.Key())]; dup {
		return r, fmt.Sprintf("connection %s appears again (first on line %d)", r.Key(), first)
	}
	if r.SellingPartnerID != "" {
		if first, dup := rd.seen[rd.hash("s", r.SellingPartnerID+"/"+string(r.Region))]; dup {
			return r, fmt.Sprintf("seller %s in region %s appears again (first on line %d)", r.SellingPartnerID, r.Region, first)
		}
	}
	return r, ""
}

// remember records an accepted row for the duplicate checks (TrackDuplicates). It
// keeps two 64-bit hashes of ids per row (never anything of the token). Two
// different ids sharing a hash (odds about 1 in 10^7 at a million rows) would reject
// the second as a duplicate, never import a wrong row.
func (rd *Reader) remember(r Row) {
	if rd.seen == nil {
		return
	}
	rd.seen[rd.hash("c", r.Key())] = int32(r.Line)
	if r.SellingPartnerID != "" {
		rd.seen[rd.hash("s", r.SellingPartnerID+"/"+string(r.Region))] = int32(r.Line)
	}
}

func (rd *Reader) hash(kind, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(rd.seed)
	h.WriteString(kind)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

// checkToken checks the shape of an LWA refresh token ("Atzr|" and printable ASCII)
// without ever quoting it: a wrong column could put a token anywhere in a message.
func checkToken(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "refreshToken is empty"
	case !strings.HasPrefix(v, "Atzr|"):
		return `refreshToken does not look like an LWA refresh token (it starts with "Atzr|")`
	case len(v) < 20 || len(v) > 2048:
		return fmt.Sprintf("refreshToken is %d characters long, want 20 to 2048", len(v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "refreshToken has a character outside printable ASCII"
		}
	}
	return ""
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(authz.DayLayout, v)
	return t.UTC(), err
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// safeID is the connection id of a rejected row as a report may show it: only a
// valid id is echoed (the column could hold anything, a token included).
func safeID(v string) string {
	v = strings.TrimSpace(v)
	if authz.ValidateConnectionID(v) != nil || strings.HasPrefix(v, "Atzr") {
		return ""
	}
	return v
}

// clip shortens an echoed value and keeps it valid UTF-8 on one line. Values that
// look like tokens are never echoed.
func clip(s string, n int) string {
	if strings.Contains(s, "Atzr|") || strings.Contains(s, "Atza|") {
		return "[a token]"
	}
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

var errLineTooLong = fmt.Errorf("a line is longer than %d KiB", MaxLineBytes>>10)

// errRecordTooLong is a CSV record over MaxLineBytes; its message names the line the
// record starts on.
var errRecordTooLong = errors.New("record too long")

type recordTooLongError struct{ line int }

func (e recordTooLongError) Error() string {
	return fmt.Sprintf("line %d: a record is longer than %d KiB (a quoted field runs over its lines: is a closing quote missing?)", e.line, MaxLineBytes>>10)
}
func (e recordTooLongError) Unwrap() error { return errRecordTooLong }

func fileErr(err error) error {
	var rec recordTooLongError
	switch {
	case errors.As(err, &rec):
		return rec
	case errors.Is(err, errLineTooLong):
		return errLineTooLong
	}
	return err
}

// countingReader counts the bytes read, for progress and ETA.
// The progress reporter reads the count while the import reads the file.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// lineLimit fails the read once a record runs past MaxLineBytes, so neither the CSV
// reader (which grows a field without bound) nor a JSON line can take memory in
// proportion to the file. A JSON line ends at its line break. A CSV record ends at a
// line break outside quotes: a quoted field may hold line breaks (RFC 4180), so a
// field of many short lines is one record, and counted as one. Quotes are counted by
// parity: a quote inside a quoted field is doubled, and a bare quote elsewhere is a
// parse error that ends the file anyway.
type lineLimit struct {
	r      io.Reader
	mode   int // undecided until NewReader has seen the first byte; then CSV or JSON Lines
	run    int // bytes since the last line break
	record int // bytes since the last line break outside quotes
	quoted bool
	line   int // line breaks so far
	start  int // the line the current CSV record starts on, 1-based
}

const (
	modeUndecided = iota
	modeCSV
	modeJSONLines
)

// undecidedChunk bounds what is read before NewReader knows the format, so that the
// record limit, applied from then on, has seen all but this much of any record.
const undecidedChunk = 512

func (l *lineLimit) decide(csv bool) {
	l.mode = modeJSONLines
	if csv {
		l.mode = modeCSV
	}
}

func (l *lineLimit) Read(p []byte) (int, error) {
	if l.mode == modeUndecided && len(p) > undecidedChunk {
		p = p[:undecidedChunk]
	}
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		switch b {
		case '\n':
			l.line++
			l.run = 0
			if !l.quoted {
				l.record = 0
				l.start = l.line + 1
			} else {
				l.record++
			}
			continue
		case '"':
			l.quoted = !l.quoted
		}
		l.run++
		l.record++
		if l.run > MaxLineBytes {
			return 0, errLineTooLong
		}
		if l.mode == modeCSV && l.record > MaxLineBytes {
			return 0, recordTooLongError{line: max(l.start, 1)}
		}
	}
	return n, err
}

// ValidateLocale checks a locale as the import and keeperctl set accept it: a
// language tag such as en-US or de-DE.
func ValidateLocale(l string) error {
	if len(l) > 35 || !localePattern.MatchString(l) {
		return fmt.Errorf("locale %q: want a language tag such as en-US or de-DE", clip(l, 20))
	}
	return nil
}
