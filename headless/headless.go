// Package headless is muxtop's front end without a screen: it prints every
// frame and session event as a line of text (like tcpdump) or as a JSON
// object (NDJSON), and a summary at the end.
package headless

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/muxtop/muxtop/live"
)

// Format is an output format.
type Format uint8

// The formats.
const (
	Plain Format = iota // one line per frame, like tcpdump
	JSON                // one JSON object per line (NDJSON)
)

// String returns "plain" or "json".
func (f Format) String() string {
	if f == JSON {
		return "json"
	}
	return "plain"
}

// Interval is how often Run reads new records from the registry.
const Interval = 100 * time.Millisecond

// Printer writes a registry's history records in order to w.
type Printer struct {
	reg    *live.Registry
	w      *bufio.Writer
	format Format
	next   uint64
	missed uint64
	buf    []live.Record
	line   []byte
}

// NewPrinter returns a Printer of reg's records in format f.
func NewPrinter(reg *live.Registry, w io.Writer, f Format) *Printer {
	return &Printer{reg: reg, w: bufio.NewWriterSize(w, 64<<10), format: f, next: 1}
}

// Missed returns how many records were evicted from history before the
// printer could write them: the output could not keep up.
func (p *Printer) Missed() uint64 { return p.missed }

// Flush writes every record not yet written and flushes the output.
// Records evicted before it could write them count as missed.
func (p *Printer) Flush() error {
	for {
		recs, _ := p.reg.Frames(live.Query{From: p.next}, p.buf[:0])
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			if r := &recs[i]; r.Seq > p.next {
				p.missed += r.Seq - p.next
			}
			p.next = recs[i].Seq + 1
		}
		for i := range recs {
			p.write(&recs[i])
		}
		clear(recs) // drop payload references
		p.buf = recs[:0]
	}
	return p.w.Flush()
}

func (p *Printer) write(r *live.Record) {
	if p.format == JSON {
		p.line = appendJSON(p.line[:0], r)
	} else {
		p.line = appendPlain(p.line[:0], r)
	}
	p.line = append(p.line, '\n')
	p.w.Write(p.line)
}

// Summary writes the closing summary of snap; status, if not empty, is a
// last line about the watched system, such as the load generator's counts.
func (p *Printer) Summary(snap *live.Snapshot, status string) error {
	s := Summarize(snap, p.missed)
	s.Status = status
	if p.format == JSON {
		p.line = appendJSONSummary(p.line[:0], s)
		p.line = append(p.line, '\n')
		p.w.Write(p.line)
	} else {
		WriteSummary(p.w, s)
	}
	return p.w.Flush()
}

// Options configure Run.
type Options struct {
	Format Format
	// Stop, if not nil, shuts the watched system down once the capture is
	// over, before the last records are printed, so that its last frames,
	// such as the FINs of its shutdown, are in the output and the summary.
	Stop func()
	// Status, if not nil, gives a last line for the summary, read after Stop.
	Status func() string
}

// Run prints reg's records to w every Interval until ctx is done, then
// stops the watched system, prints what is left and the summary, and
// returns the final snapshot. It returns early only if writing fails.
func Run(ctx context.Context, reg *live.Registry, w io.Writer, o Options) (*live.Snapshot, error) {
	p := NewPrinter(reg, w, o.Format)
	stop := o.Stop
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			if err := p.Flush(); err != nil {
				return nil, fmt.Errorf("output: %w", err)
			}
			snap := reg.Snapshot()
			status := ""
			if o.Status != nil {
				status = o.Status()
			}
			if err := p.Summary(snap, status); err != nil {
				return nil, fmt.Errorf("output: %w", err)
			}
			return snap, nil
		case <-t.C:
			if err := p.Flush(); err != nil {
				return nil, fmt.Errorf("output: %w", err)
			}
		}
	}
}
