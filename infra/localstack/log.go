package localstack

import (
	"bytes"
	"io"
	"sync"
)

// prefixWriter writes whole lines from many sources to one writer, each line after
// its source's name, so the functions' JSON logs and the emulators' output interleave
// readably.
type prefixWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newPrefixWriter(w io.Writer) *prefixWriter {
	if w == nil {
		w = io.Discard
	}
	return &prefixWriter{w: w}
}

// raw writes lines that already carry their source (the emulators package prefixes
// its own).
func (p *prefixWriter) raw() io.Writer { return p.tagged("") }

// tagged returns a writer whose lines start with "tag: ".
func (p *prefixWriter) tagged(tag string) io.Writer { return &taggedWriter{p: p, tag: tag} }

type taggedWriter struct {
	p       *prefixWriter
	tag     string
	mu      sync.Mutex
	partial []byte
}

func (t *taggedWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, b...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := t.partial[:i+1]
		t.p.mu.Lock()
		if t.tag != "" {
			_, _ = io.WriteString(t.p.w, t.tag+": ")
		}
		_, _ = t.p.w.Write(line)
		t.p.mu.Unlock()
		t.partial = t.partial[i+1:]
	}
	return len(b), nil
}
