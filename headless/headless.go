// Package headless is muxtop's front end without a screen: it prints every
// frame and session event as a line of text (like tcpdump) or as a JSON
// object (NDJSON), and a summary at the end.
package headless

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
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

// Grace is how long Run waits, once the user stopped the run
// (Options.Hurry) and the watched system stopped, for an output that has
// taken no record: one that stopped reading. A slow reader that still
// takes records is waited for; what a stalled one has not taken is
// dropped (UnwrittenError).
const Grace = 2 * time.Second

// UnwrittenError is Run's error where the output took no record for the
// grace after the user stopped the run (a reader of stdout that stopped
// reading), or a second signal cut it short (Options.Cut).
type UnwrittenError struct {
	// Records counts the history records not written whole: from the
	// first the output had not taken to the run's last.
	Records uint64
	// Grace is how long the output took nothing before Run gave up on it;
	// 0 where a second signal cut it short.
	Grace time.Duration
	// Only is Options.Only: where it leaves kinds out, Records counts
	// those since the first not taken of every kind, and the output would
	// have printed only some of them.
	Only Kinds
}

// Error says how many records stdout did not take.
func (e *UnwrittenError) Error() string {
	n := fmt.Sprintf("%d records", e.Records)
	if e.Only != 0 {
		n = fmt.Sprintf("of the %d records since the first not taken, those --only %s prints", e.Records, e.Only)
	}
	if e.Grace == 0 {
		return fmt.Sprintf("a second signal cut the output short: %s not written, nor the summary", n)
	}
	return fmt.Sprintf("stdout took nothing for %v after the stop: %s not written, nor the summary", e.Grace, n)
}

// errCut is the output's error once Run gave up on it.
var errCut = errors.New("the output was given up on")

// cutWriter is the printer's output: it counts what its writer took, the
// seq of the last record written whole, and once cut it writes nothing
// more. Only the printer's goroutine writes; the cut and the seq may be
// read from another.
type cutWriter struct {
	w     io.Writer
	chunk int // the longest write to w: pipeBuf, or 0 for any length (writesWhole)
	cut   atomic.Bool
	whole atomic.Uint64 // seq of the last record written whole
	taken int64         // bytes w took
	ends  []lineEnd     // records written to the buffer, not yet taken whole
	head  int           // ends[head:] are pending
}

// lineEnd is where a record's line ends in the output's byte stream.
type lineEnd struct {
	seq uint64
	end int64
}

// pipeBuf is the most bytes a write to a pipe puts in it whole or not at
// all (POSIX's PIPE_BUF, Linux's): the cutWriter's writes are no longer,
// so that where it gives up, what the pipe took is known to the byte.
// Only an output whose reader can stop taking needs that (a pipe, a
// socket, a terminal); a file or /dev/null takes each write whole
// (writesWhole), as long as the printer's buffer: a sixteenth of the
// system calls.
const pipeBuf = 4096

func (c *cutWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		m := len(b)
		if c.chunk > 0 {
			m = min(m, c.chunk)
		}
		m, err := c.write(b[:m])
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

func (c *cutWriter) write(b []byte) (int, error) {
	if c.cut.Load() {
		return 0, errCut
	}
	n, err := c.w.Write(b)
	c.taken += int64(n)
	c.advance()
	return n, err
}

// ended notes that the record seq's line ends at end in the output's
// byte stream, once it is in the buffer or already written: a line
// longer than the buffer goes past it to w, and w may have taken all of
// it by now. Then it is whole at once, not at the next write, which may
// never return (a reader that stopped right after the line).
func (c *cutWriter) ended(seq uint64, end int64) {
	c.ends = append(c.ends, lineEnd{seq, end})
	c.advance()
}

// advance marks the records whose lines w took whole.
func (c *cutWriter) advance() {
	for c.head < len(c.ends) && c.ends[c.head].end <= c.taken {
		c.whole.Store(c.ends[c.head].seq)
		c.head++
	}
	if c.head == len(c.ends) {
		c.ends, c.head = c.ends[:0], 0
	} else if c.head > len(c.ends)/2 {
		c.ends, c.head = c.ends[:copy(c.ends, c.ends[c.head:])], 0
	}
}

// Printer writes a registry's history records in order to w.
type Printer struct {
	reg    *live.Registry
	out    *cutWriter
	w      *bufio.Writer // over out
	format Format
	// only is the kinds of records printed (Options.Only): a record of
	// another kind is passed over, not missed, unless evicted before the
	// printer came to it: a gap counts records of every kind.
	only   Kinds
	next   uint64
	missed uint64
	// missedTo, if not nil, counts the missed records too, for a reader
	// on another goroutine (Options.Missed).
	missedTo *atomic.Uint64
	buf      []live.Record
	// payloads holds the payloads of the records in buf, reused from
	// read to read (live.Registry.FramesInto). batch bounds the records
	// of one read (printBatch), and so payloads, to readPayloads bytes
	// where the snaplen is at most 16 KiB, and 64 snaplens above.
	payloads []byte
	batch    int
	line     []byte
	// stillOpen counts the STILL-OPEN lines written and tallies those
	// past manyFindings, which plain writes as one line at the end.
	stillOpen stillOpenRest
	// gone, if not nil, says whether the output, a pipe or a socket, lost
	// its reader (readerGone): print asks at every tick, so that a run
	// that writes nothing for long (--only a rare kind, a quiet capture)
	// still ends once its reader went away, as a failed write ends it.
	gone func() bool
}

// NewPrinter returns a Printer of reg's records in format f. A nil reg
// panics.
func NewPrinter(reg *live.Registry, w io.Writer, f Format) *Printer {
	if reg == nil {
		panic("headless.NewPrinter: nil *live.Registry")
	}
	out := &cutWriter{w: w, chunk: pipeBuf}
	if writesWhole(w) {
		out.chunk = 0
	}
	return &Printer{reg: reg, out: out, w: bufio.NewWriterSize(out, 64<<10), format: f, next: 1, batch: printBatch(reg.Config())}
}

// readPayloads is how many payload bytes one read of history takes at
// most, where the snaplen is at most 16 KiB (64 records' above): a
// printer keeps that much room for them, for as long as it prints.
const readPayloads = 1 << 20

// printBatch is how many records a printer reads from a registry of cfg
// at a time: readPayloads bytes of payload, at least 64 records and at
// most as many as one read scans (live.DefaultScan) or the history holds.
func printBatch(cfg live.Config) int {
	n := max(64, readPayloads/max(cfg.Snaplen, 1))
	return max(1, min(n, live.DefaultScan, cfg.History))
}

// makeRoom makes the printer's room for one read, at its size rather
// than grown to it (each size grown through would be new memory to fault
// in, and garbage), at the first read: a printer that only writes a
// summary (Finish) makes none.
func (p *Printer) makeRoom() {
	if p.buf != nil {
		return
	}
	p.buf = make([]live.Record, 0, p.batch)
	p.payloads = make([]byte, 0, min(readPayloads, p.batch*max(p.reg.Config().Snaplen, 0)))
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
	p.makeRoom()
	read := 0
	for limit <= 0 || read < limit {
		var recs []live.Record
		recs, p.payloads, _ = p.reg.FramesInto(live.Query{From: p.next, Max: p.batch}, p.buf[:0], p.payloads[:0])
		if len(recs) == 0 {
			break
		}
		read += len(recs)
		for i := range recs {
			r := &recs[i]
			if r.Seq > p.next {
				p.writeMissed(p.next, r.Seq-p.next, r.At)
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
	if !p.only.Has(r.Kind) {
		p.passOver(r.Seq)
		return
	}
	if p.format == JSON {
		p.line = append(appendJSON(p.line[:0], r), '\n')
	} else {
		if r.Kind == live.FindingResolved && r.Finding != nil && r.Finding.Unwatched && !p.stillOpen.write(r) {
			p.line = p.line[:0] // told by the STILL-OPEN line at the end
		} else {
			p.line = append(appendPlain(p.line[:0], r), '\n')
		}
	}
	p.w.Write(p.line)
	p.out.ended(r.Seq, p.out.taken+int64(p.w.Buffered()))
}

// passOver takes the record seq, of a kind not printed, as written once
// what came before it is: it writes nothing, so that where Run gives up
// on a stalled output (UnwrittenError) the records passed over before the
// first not taken do not count as not written. Consecutive ones share the
// pending line end of the record before them, so that a run that prints
// nothing for hours keeps no entry per record passed over.
func (p *Printer) passOver(seq uint64) {
	o := p.out
	end := o.taken + int64(p.w.Buffered())
	switch n := len(o.ends); {
	case n == o.head && end == o.taken: // nothing pending: taken already
		o.whole.Store(seq)
	case n > o.head && o.ends[n-1].end == end:
		o.ends[n-1].seq = seq
	default:
		o.ends = append(o.ends, lineEnd{seq, end})
	}
}

// writeMissed writes the record of a gap in the output: count records
// from seq on, evicted from history before the printer could write them
// (or never stored), which came before the record at at.
func (p *Printer) writeMissed(seq, count uint64, at time.Time) {
	p.missed += count
	if p.missedTo != nil {
		p.missedTo.Add(count)
	}
	if p.format == JSON {
		p.line = appendMissedJSON(p.line[:0], seq, count, at, p.only)
	} else {
		p.line = appendMissedPlain(p.line[:0], seq, count, at, p.only)
	}
	p.line = append(p.line, '\n')
	p.w.Write(p.line)
	p.out.ended(seq+count-1, p.out.taken+int64(p.w.Buffered()))
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
	// Missed, if not nil, counts the records the output missed as it
	// finds them (Printer.Missed): muxtop_output_missed_records_total.
	Missed *atomic.Uint64
	// GroupFindings sets Summary.GroupFindings: the plain summary writes
	// the findings that differ in their numbers alone as one line.
	GroupFindings bool
	// Hurry, once closed, says that the user stopped the run (a signal,
	// --duration): once the watched system stopped, the output has Grace
	// to take the rest, and Run gives up on it then (UnwrittenError). Nil
	// means Run's ctx: a run whose system stopped by itself (a capture
	// read whole) otherwise waits for its output as long as it takes.
	Hurry <-chan struct{}
	// Grace is how long, after Hurry, the output may take no record
	// before Run gives up on it; 0 means Grace.
	Grace time.Duration
	// Cut, once closed after Hurry (a second signal), ends the grace at
	// once: Run gives up on what the output has not taken.
	Cut <-chan struct{}
	// Only is the kinds of records Run prints (--only); the zero set,
	// every kind. The summary, and a missed record where the output lost
	// records, are printed whatever it holds; a gap counts records of
	// every kind (the history keeps no kind of a record it evicted), and
	// its missed record says so. Finish prints no records.
	Only Kinds
}

// closing takes the capture's closing account, the same for every front
// end: it reads the suspected leaks and stalls, which stopping the watched
// system ends (their streams end with their sessions), then stops it, lets
// flush print the records left, and adds up the rest.
func closing(reg *live.Registry, o Options, flush func() error, missed func() uint64) (Summary, *live.Snapshot, error) {
	return closed(reg, o, stopping(reg, o), flush, missed)
}

// leakAfter is o.LeakAfter, its default filled in.
func (o Options) leakAfter() time.Duration {
	if o.LeakAfter <= 0 {
		return live.DefaultLeakAfter
	}
	return o.LeakAfter
}

// stopping is closing's first half: it reads the suspected leaks and
// stalls and stops the watched system, and returns what it read.
func stopping(reg *live.Registry, o Options) *live.Snapshot {
	before := reg.SnapshotWith(live.SnapshotOptions{LeakAfter: o.leakAfter(), StallAfter: o.StallAfter})
	if o.Stop != nil {
		o.Stop()
	}
	return before
}

// closed is closing's second half, after stopping read before: flush
// prints the records left, and the rest is added up.
func closed(reg *live.Registry, o Options, before *live.Snapshot, flush func() error, missed func() uint64) (Summary, *live.Snapshot, error) {
	leakAfter := o.leakAfter()
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
	return p.finishAfter(o, stopping(p.reg, o), limit)
}

// finishAfter is finish once stopping read before.
func (p *Printer) finishAfter(o Options, before *live.Snapshot, limit int) (*live.Snapshot, error) {
	s, snap, err := closed(p.reg, o, before, func() error { return p.flush(limit) }, p.Missed)
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
// between two ticks. It returns early only if writing fails, or w, a pipe
// or a socket, lost its reader (an error that wraps syscall.EPIPE, as a
// write's would), which it looks at every Interval without writing. A nil
// reg panics.
//
// The printing runs on a goroutine of its own, so that an output that
// takes nothing (a reader of stdout that stopped reading) holds up
// neither the stop nor the capture: once ctx is done the system stops at
// once, and once o.Hurry is closed too the output is waited for as long
// as it takes records, until it has taken none for o.Grace, or o.Cut is
// closed; then Run returns an UnwrittenError, the printer's goroutine
// left in its write until the write returns (it writes nothing more).
func Run(ctx context.Context, reg *live.Registry, w io.Writer, o Options) (*live.Snapshot, error) {
	if reg == nil {
		panic("headless.Run: nil *live.Registry")
	}
	p := NewPrinter(reg, w, o.Format)
	p.missedTo = o.Missed
	p.only = o.Only
	p.gone = readerGone(w)
	return p.run(ctx, o, Interval, true)
}

// run is Run for p, printing every tick and, if wake is set, whenever
// the ring is a quarter full.
func (p *Printer) run(ctx context.Context, o Options, tick time.Duration, wake bool) (*live.Snapshot, error) {
	type result struct {
		snap *live.Snapshot
		err  error
	}
	stopped := make(chan *live.Snapshot, 1) // what stopping read: the printer's cue to finish
	done := make(chan result, 1)
	go func() { // the printer: run waits for it, or gives up on its output, which ends it at its next write
		snap, err := p.print(stopped, o, tick, wake)
		done <- result{snap, err}
	}()
	select {
	case r := <-done: // writing failed
		return r.snap, r.err
	case <-ctx.Done():
	}
	stopped <- stopping(p.reg, o)
	hurry := o.Hurry
	if hurry == nil {
		hurry = ctx.Done()
	}
	grace := o.Grace
	if grace <= 0 {
		grace = Grace
	}
	giveUp := func() (*live.Snapshot, error) {
		p.out.cut.Store(true)
		last := p.reg.History().Next - 1
		return nil, &UnwrittenError{Records: last - min(last, p.out.whole.Load()), Grace: grace, Only: p.only}
	}
	// After Hurry the output's progress is looked at every grace/8: a
	// record taken whole since restarts its grace.
	var poll <-chan time.Time
	var seen uint64 // the last record written whole at the latest look
	var since time.Time
	for {
		select {
		case r := <-done:
			return r.snap, r.err
		case <-hurry:
			hurry = nil
			t := time.NewTicker(max(grace/8, time.Microsecond))
			defer t.Stop()
			poll, seen, since = t.C, p.out.whole.Load(), time.Now()
		case now := <-poll:
			if w := p.out.whole.Load(); w != seen {
				seen, since = w, now
			} else if now.Sub(since) >= grace {
				return giveUp()
			}
		case <-o.Cut:
			grace = 0
			return giveUp()
		}
	}
}

// print is run's printer: it prints every tick and, if wake is set,
// whenever the ring is a quarter full, until stopped gives it what
// stopping read; then it prints the rest and the summary.
func (p *Printer) print(stopped <-chan *live.Snapshot, o Options, tick time.Duration, wake bool) (*live.Snapshot, error) {
	t := time.NewTicker(tick)
	defer t.Stop()
	// One drain reads at most a ring's worth, then looks at stopped
	// again; if more waits, the re-armed wake fires at once.
	limit := max(p.reg.Config().History, live.DefaultScan)
	var woken <-chan struct{} // nil: never
	for {
		if wake {
			woken = p.reg.Wake(p.next)
		}
		select {
		case before := <-stopped:
			// What the ring holds once the system stopped is at most a
			// ring's worth: the limit reads all of it, without chasing a
			// capture that goes on.
			return p.finishAfter(o, before, limit)
		case <-t.C:
			if p.gone != nil && p.gone() {
				return nil, fmt.Errorf("output: its reader went away: %w", syscall.EPIPE)
			}
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
