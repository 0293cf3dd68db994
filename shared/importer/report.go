package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is what an import did: counts per outcome and every rejected or failed row
// with its line and why. It never holds a token.
type Report struct {
	Source          string          `json:"source,omitempty"`
	Format          string          `json:"format"`
	DryRun          bool            `json:"dryRun"`
	StartedAt       time.Time       `json:"startedAt"`
	FinishedAt      time.Time       `json:"finishedAt,omitzero"`
	Rows            int             `json:"rows"` // rows with an outcome
	Counts          map[Outcome]int `json:"counts"`
	LWACalls        int             `json:"lwaCalls"`
	Rejected        []Rejection     `json:"rejected,omitempty"` // sorted by line
	Failed          []Rejection     `json:"failed,omitempty"`   // sorted by line
	Omitted         int             `json:"omitted,omitempty"`  // rejected or failed rows past MaxRejections
	DoneThroughLine int             `json:"doneThroughLine"`
	DoneAfter       []int           `json:"doneAfter,omitempty"` // lines past DoneThroughLine finished too (an interrupted run)
	SkippedThrough  int             `json:"skippedThroughLine,omitempty"`
	Interrupted     bool            `json:"interrupted,omitempty"`
	Stopped         string          `json:"stopped,omitempty"` // why the import ended before the file did
	maxRejections   int
}

func newReport(cfg Config, format string, started time.Time) *Report {
	return &Report{Source: cfg.Source, Format: format, DryRun: cfg.DryRun, StartedAt: started, Counts: map[Outcome]int{},
		SkippedThrough: cfg.SkipThroughLine, maxRejections: cfg.MaxRejections}
}

func (r *Report) add(line int, connectionID string, out Outcome, reason string) {
	r.Counts[out]++
	r.Rows++
	if out != OutcomeRejected && out != OutcomeFailed {
		return
	}
	if len(r.Rejected)+len(r.Failed) >= r.maxRejections {
		r.Omitted++
		return
	}
	rej := Rejection{Line: line, ConnectionID: connectionID, Reason: reason}
	if out == OutcomeRejected {
		r.Rejected = append(r.Rejected, rej)
	} else {
		r.Failed = append(r.Failed, rej)
	}
}

func (r *Report) clone() *Report {
	c := *r
	c.Counts = map[Outcome]int{}
	for k, v := range r.Counts {
		c.Counts[k] = v
	}
	byLine := func(a, b Rejection) int { return a.Line - b.Line }
	c.Rejected = slices.SortedFunc(slices.Values(r.Rejected), byLine)
	c.Failed = slices.SortedFunc(slices.Values(r.Failed), byLine)
	return &c
}

// Imported is how many rows were written to the ledger.
func (r *Report) Imported() int {
	return r.Counts[OutcomeActive] + r.Counts[OutcomeUnknownExpiry] + r.Counts[OutcomeRevoked] + r.Counts[OutcomeExpired]
}

var outcomeText = map[Outcome]string{
	OutcomeActive:        "imported, active",
	OutcomeUnknownExpiry: "imported, active, expiry unknown (asked to confirm)",
	OutcomeRevoked:       "imported, revoked (invalid_grant)",
	OutcomeExpired:       "imported, expired (invalid_grant, past a year)",
	OutcomeUnchanged:     "already imported, unchanged",
	OutcomeValid:         "valid (dry run)",
	OutcomeRejected:      "rejected",
	OutcomeFailed:        "failed, run again",
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	title := "import"
	if r.DryRun {
		title = "dry run (nothing was written, LWA was not called)"
	}
	fmt.Fprintf(&b, "%s of %s (%s): %d rows", title, orDash(r.Source), r.Format, r.Rows)
	if !r.FinishedAt.IsZero() {
		fmt.Fprintf(&b, " in %s", r.FinishedAt.Sub(r.StartedAt).Round(time.Second))
	}
	fmt.Fprintf(&b, ", %d LWA calls\n", r.LWACalls)
	if r.SkippedThrough > 0 {
		fmt.Fprintf(&b, "  resumed after line %d\n", r.SkippedThrough)
	}
	for _, o := range Outcomes {
		if n := r.Counts[o]; n > 0 {
			fmt.Fprintf(&b, "  %-52s %d\n", outcomeText[o], n)
		}
	}
	for _, group := range []struct {
		name string
		list []Rejection
	}{{"rejected rows", r.Rejected}, {"failed rows (nothing written; run the same file again)", r.Failed}} {
		if len(group.list) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", group.name)
		for _, rej := range group.list {
			id := ""
			if rej.ConnectionID != "" {
				id = " (" + rej.ConnectionID + ")"
			}
			fmt.Fprintf(&b, "  line %d%s: %s\n", rej.Line, id, rej.Reason)
		}
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, "  … and %d more rejected or failed rows not listed\n", r.Omitted)
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "stopped: %s\n", r.Stopped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
