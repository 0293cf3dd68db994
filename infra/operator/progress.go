package operator

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/spapi-auth-keeper/keeper/shared/importer"
)

// progressPrinter shows a running import on Stderr: a bar redrawn in place on a
// terminal, or a line every few seconds when Stderr is a file or a pipe (CI logs).
type progressPrinter struct {
	w         io.Writer
	mode      string // bar, lines, none
	size      int64  // bytes in the file; 0 when unknown (standard input)
	mu        sync.Mutex
	lastLine  time.Time
	drawn     bool
	lineEvery time.Duration
	now       func() time.Time
}

func (c *CLI) progressPrinter(mode string, size int64) *progressPrinter {
	if mode == "auto" {
		mode = "lines"
		if isTerminal(c.Stderr) {
			mode = "bar"
		}
	}
	return &progressPrinter{w: c.Stderr, mode: mode, size: size, lineEvery: 5 * time.Second, now: time.Now}
}

// isTerminal reports whether w is a terminal (not a file, a pipe or /dev/null,
// which is a character device too).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progressPrinter) update(pr importer.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "bar":
		fmt.Fprintf(p.w, "\r%s\033[K", ProgressLine(pr, p.size, 30))
		p.drawn = true
	case "lines":
		if pr.Done || p.now().Sub(p.lastLine) >= p.lineEvery {
			p.lastLine = p.now()
			fmt.Fprintln(p.w, ProgressLine(pr, p.size, 0))
		}
	}
}

func (p *progressPrinter) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// ProgressLine is one line about a running import: rows done, rate, and, when the
// file's size is known, the share done and the time left. A bar of width cells
// leads it when width > 0.
func ProgressLine(pr importer.Progress, size int64, width int) string {
	done := pr.Processed()
	secs := pr.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(done) / secs
	}
	var b strings.Builder
	frac := -1.0
	if size > 0 {
		frac = min(float64(pr.BytesRead)/float64(size), 1)
		if pr.Done {
			frac = 1
		}
	}
	if width > 0 {
		filled := 0
		if frac >= 0 {
			filled = int(frac * float64(width))
		}
		b.WriteString("[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "] ")
	}
	if frac >= 0 {
		fmt.Fprintf(&b, "%3.0f%% ", frac*100)
	}
	fmt.Fprintf(&b, "%d rows done", done)
	if n := pr.Counts[importer.OutcomeRejected] + pr.Counts[importer.OutcomeFailed]; n > 0 {
		fmt.Fprintf(&b, " (%d not imported)", n)
	}
	fmt.Fprintf(&b, ", %.1f rows/s, %d LWA calls", rate, pr.LWACalls)
	switch {
	case pr.Done:
		fmt.Fprintf(&b, ", done in %s", pr.Elapsed.Round(time.Second))
	case frac > 0.001 && frac < 1:
		// Bytes read run ahead of rows done by at most a buffer: good enough for an ETA.
		left := time.Duration(float64(pr.Elapsed) * (1 - frac) / frac)
		fmt.Fprintf(&b, ", ETA %s", left.Round(time.Second))
	}
	return b.String()
}
