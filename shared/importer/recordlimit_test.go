package importer_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/importer"
)

// shortLines streams head, then a quoted CSV field of n short lines ("y\n"), then
// tail, without holding them: the bytes it hands out are what the import consumed.
type shortLines struct {
	head, tail string
	n          int   // short lines
	pos        int   // bytes of the field handed out
	given      int64 // bytes handed out in all
}

func (s *shortLines) Read(p []byte) (int, error) {
	w := 0
	for w < len(p) {
		switch {
		case s.head != "":
			c := copy(p[w:], s.head)
			s.head, w = s.head[c:], w+c
		case s.pos < 2*s.n:
			p[w] = "y\n"[s.pos%2]
			s.pos++
			w++
		case s.tail != "":
			c := copy(p[w:], s.tail)
			s.tail, w = s.tail[c:], w+c
		default:
			s.given += int64(w)
			if w == 0 {
				return 0, io.EOF
			}
			return w, nil
		}
	}
	s.given += int64(w)
	return w, nil
}

// TestRecordSpanningManyShortLinesIsRefused: a quoted CSV field may hold line breaks,
// so a record's size is not bounded by its lines'. A field of many short lines larger
// than MaxLineBytes refuses the file at that record, like an over-long line, and the
// import stops reading there instead of holding the field in memory.
func TestRecordSpanningManyShortLinesIsRefused(t *testing.T) {
	t.Parallel()
	const tok = "Atzr|a-well-formed-token-for-the-limit"
	cases := []struct {
		name  string
		lines int // short lines in the quoted field
		valid bool
	}{
		{name: "8 MB quoted field of short lines", lines: 4 << 20},
		{name: "just over the cap", lines: importer.MaxLineBytes/2 + 64},
		{name: "a quoted field with a few line breaks is read", lines: 20, valid: true},
		// Under the cap, yet the next row starts thousands of lines further on.
		{name: "a quoted field of 5,000 line breaks is read", lines: 5000, valid: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := &shortLines{
				head: "connectionId,region,refreshToken,displayName\nfirst,eu," + tok + "-first,First\nbomb,eu," + tok + "-bomb,\"",
				n:    c.lines,
				tail: "\"\nafter,eu," + tok + "-after,After\n",
			}
			rep, err := importer.New(importer.Config{DryRun: true}, importer.Deps{}).Run(context.Background(), src)
			if c.valid {
				// The field's line breaks are not allowed in a display name: the row is
				// rejected, and the rows around it are read.
				if err != nil || rep.Counts[importer.OutcomeValid] != 2 || rep.Counts[importer.OutcomeRejected] != 1 {
					t.Fatalf("err %v, report %+v", err, rep)
				}
				return
			}
			if !errors.Is(err, importer.ErrBadFile) || !strings.Contains(err.Error(), "line 3: a record is longer than 64 KiB") {
				t.Fatalf("err = %v, want ErrBadFile for the record starting on line 3", err)
			}
			if rep == nil || rep.Counts[importer.OutcomeValid] != 1 || rep.Rows != 1 {
				t.Errorf("report = %+v; want the first row only, nothing at or after the long record", rep)
			}
			// Memory stays flat: the import stopped reading soon after the cap, rather
			// than gathering the whole field.
			if limit := int64(4 * importer.MaxLineBytes); src.given > limit {
				t.Errorf("the import read %d bytes of the file, want at most %d: it held the field", src.given, limit)
			}
		})
	}
}
