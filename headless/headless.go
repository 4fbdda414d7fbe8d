// Package headless is muxtop's front end without a screen: it prints every
// frame and session event as a line of text (like tcpdump) or as a JSON
// object (NDJSON), and a summary at the end.
package headless

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync/atomic"
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

// Interval is how often Run reads new records from the registry when
// fewer than a quarter of the history ring are waiting.
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
	// stillOpen counts the STILL-OPEN lines written and tallies those
	// past manyFindings, which plain writes as one line at the end.
	stillOpen stillOpenRest
}

// NewPrinter returns a Printer of reg's records in format f. A nil reg
// panics.
func NewPrinter(reg *live.Registry, w io.Writer, f Format) *Printer {
	if reg == nil {
		panic("headless.NewPrinter: nil *live.Registry")
	}
	return &Printer{reg: reg, w: bufio.NewWriterSize(w, 64<<10), format: f, next: 1}
}

// Missed returns how many records were evicted from history before the
// printer could write them: the output could not keep up.
func (p *Printer) Missed() uint64 { return p.missed }

// Flush writes every record not yet written and flushes the output.
// Records evicted before it could write them count as missed.
func (p *Printer) Flush() error { return p.flush(0) }

// flush writes the records not yet written, stopping once it has read
// limit records (0: no limit) so that a printer behind a faster capture
// still returns to its caller, and flushes the output.
func (p *Printer) flush(limit int) error {
	read := 0
	for limit <= 0 || read < limit {
		recs, _ := p.reg.Frames(live.Query{From: p.next}, p.buf[:0])
		if len(recs) == 0 {
			break
		}
		read += len(recs)
		for i := range recs {
			r := &recs[i]
			if r.Seq > p.next {
				p.missed += r.Seq - p.next
			}
			p.next = r.Seq + 1
			p.write(r)
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
		if r.Kind == live.FindingResolved && r.Finding != nil && r.Finding.Unwatched && !p.stillOpen.write(r) {
			return
		}
		p.line = appendPlain(p.line[:0], r)
	}
	p.line = append(p.line, '\n')
	p.w.Write(p.line)
}

// Options configure Run and Finish.
type Options struct {
	Format Format
	// Stop, if not nil, shuts the watched system down once the capture is
	// over, before the last records are printed, so that its last frames,
	// such as the FINs of its shutdown, are in the output and the summary.
	Stop func()
	// Status, if not nil, gives the watched system's figures for the
	// summary, read after Stop.
	Status func() live.Status
	// Upstream, if not nil, gives how a proxy's connections to its
	// upstream went, for the summary, read after Stop.
	Upstream func() live.Upstream
	// Printed, if not nil, is set to the seq of the next record to print
	// after every batch printed: a reader of a capture file paces itself
	// by it, so that history does not lap the printer.
	Printed *atomic.Uint64
	// LeakAfter and StallAfter are the thresholds of the suspected leaks
	// and stalls the summary counts (see live.SnapshotOptions); 0 means
	// live.DefaultLeakAfter and live.DefaultStallAfter.
	LeakAfter, StallAfter time.Duration
	// GroupFindings sets Summary.GroupFindings: the plain summary writes
	// the findings that differ in their numbers alone as one line.
	GroupFindings bool
}

// closing takes the capture's closing account, the same for every front
// end: it reads the suspected leaks and stalls, which stopping the watched
// system ends (their streams end with their sessions), then stops it, lets
// flush print the records left, and adds up the rest.
func closing(reg *live.Registry, o Options, flush func() error, missed func() uint64) (Summary, *live.Snapshot, error) {
	leakAfter := o.LeakAfter
	if leakAfter <= 0 {
		leakAfter = live.DefaultLeakAfter
	}
	before := reg.SnapshotWith(live.SnapshotOptions{LeakAfter: leakAfter, StallAfter: o.StallAfter})
	if o.Stop != nil {
		o.Stop()
	}
	if err := flush(); err != nil {
		return Summary{}, nil, err
	}
	after := reg.Snapshot()
	s := Summarize(after, missed())
	s.GroupFindings = o.GroupFindings
	s.atEnd(before, leakAfter)
	if o.Status != nil {
		s.Status = o.Status()
	}
	if o.Upstream != nil {
		s.Upstream = o.Upstream()
	}
	return s, after, nil
}

// Finish ends the capture: it stops the watched system, prints the
// records left and the summary, and returns the final snapshot.
func (p *Printer) Finish(o Options) (*live.Snapshot, error) { return p.finish(o, 0) }

// finish is Finish reading at most limit records (0: no limit).
func (p *Printer) finish(o Options, limit int) (*live.Snapshot, error) {
	s, snap, err := closing(p.reg, o, func() error { return p.flush(limit) }, p.Missed)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if p.stillOpen.n > 0 {
		p.w.Write(p.stillOpen.appendLine(nil))
	}
	writeSummary(p.w, p.format, s)
	if err := p.w.Flush(); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return snap, nil
}

// writeSummary writes s in format f.
func writeSummary(w io.Writer, f Format, s Summary) {
	if f == JSON {
		w.Write(append(appendJSONSummary(nil, s), '\n'))
		return
	}
	WriteSummary(w, s)
}

// Finish ends a capture that printed no records, such as the UI's on
// quitting: it stops the watched system and writes to w, in o.Format, the
// summary Run writes, and returns the final snapshot. A nil reg panics.
func Finish(w io.Writer, reg *live.Registry, o Options) (*live.Snapshot, error) {
	if reg == nil {
		panic("headless.Finish: nil *live.Registry")
	}
	p := NewPrinter(reg, w, o.Format)
	s, snap, _ := closing(reg, o, func() error { return nil }, p.Missed)
	writeSummary(p.w, p.format, s)
	if err := p.w.Flush(); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return snap, nil
}

// Run prints reg's records to w until ctx is done, then stops the watched
// system, prints what is left and the summary, and returns the final
// snapshot. It prints every Interval and whenever a quarter of the history
// ring is waiting (Registry.Wake), so a burst does not lap the printer
// between two ticks. It returns early only if writing fails. A nil reg
// panics.
func Run(ctx context.Context, reg *live.Registry, w io.Writer, o Options) (*live.Snapshot, error) {
	if reg == nil {
		panic("headless.Run: nil *live.Registry")
	}
	return NewPrinter(reg, w, o.Format).run(ctx, o, Interval, true)
}

// run is Run for p, printing every tick and, if wake is set, whenever
// the ring is a quarter full.
func (p *Printer) run(ctx context.Context, o Options, tick time.Duration, wake bool) (*live.Snapshot, error) {
	t := time.NewTicker(tick)
	defer t.Stop()
	// One drain reads at most a ring's worth, then looks at ctx again; if
	// more waits, the re-armed wake fires at once.
	limit := max(p.reg.Config().History, live.DefaultScan)
	var woken <-chan struct{} // nil: never
	for {
		if wake {
			woken = p.reg.Wake(p.next)
		}
		select {
		case <-ctx.Done():
			// What the ring holds once the system stopped is at most a
			// ring's worth: the limit reads all of it, without chasing a
			// capture that goes on.
			return p.finish(o, limit)
		case <-t.C:
		case <-woken:
		}
		if err := p.flush(limit); err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
		if o.Printed != nil {
			o.Printed.Store(p.next)
		}
	}
}
