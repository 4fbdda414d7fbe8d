// Package tap watches smux connections without touching them: Conn and
// Listener tee every byte that moves into a frame decoder per direction and
// record the frames in a live.Registry; Proxy is the tapping TCP proxy
// behind `muxtop attach`.
package tap

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// Conn is a net.Conn whose traffic is decoded into a live.Session. Every
// Read and Write passes through untouched; the bytes that moved are decoded
// inline, without copying beyond the snaplen and without waiting for any
// reader of the Registry.
//
// A Write's frames are recorded before its bytes go out, so that nothing
// the peer sends in answer, and this end reads, can be recorded first: the
// history is in causal order. Bytes that a failed write never sent are
// taken back out of the counts (live.Session.Unsent and Retract).
//
// Like a TCP connection, a Conn supports one Read and one Write at a time
// concurrently (smux's reader and writer); concurrent Reads would not have
// a defined byte order anyway.
type Conn struct {
	net.Conn
	sess    *live.Session
	in, out feeder

	// wmu guards out, which Write feeds and Close and CloseWrite end; it
	// is never held across the wrapped conn's Write.
	wmu    sync.Mutex
	wstate atomic.Int32 // idle, writing or ending: see Write
}

// feeder decodes one direction of a tapped connection into its session.
type feeder struct {
	dec  *decoder.Decoder
	dir  live.Dir
	sess *live.Session
	// wrote keeps the frames completed by the feed in progress, for a
	// Write that fails to send them all; nil for directions that are read.
	wrote []wroteFrame
	keep  bool
	done  bool // the direction has ended: nothing more is decoded
	clock clock

	// kind is what the feeder decodes once it knows (detect.go): smux
	// with dec, yamux with ydec, allocated then. choice is the
	// connection's, shared with the other direction.
	kind    uint32
	choice  *choice
	ydec    *yamux.Decoder
	ywrote  []yamuxWrote
	skip    int64 // prefix bytes still to skip before the mux
	skipped int64 // prefix bytes skipped
}

// wroteFrame is where a frame of a Write lies in its direction's byte
// stream, and where its session counted it.
type wroteFrame struct {
	off int64
	hdr decoder.Header
	ref live.FrameRef
}

// Option configures Wrap.
type Option func(*options)

// Version tells the tap which smux protocol version its end of the
// session speaks (smux.Config.Version). A peer that sends another version
// is then named at its first frame: a VERSION_MISMATCH violation, as the
// tapped end's smux refuses it. Without it, muxtop finds a mismatch when it
// has seen both directions.
func Version(v int) Option {
	return func(o *options) {
		if v == 1 || v == 2 {
			o.version = uint8(v)
		}
	}
}

// Wrap taps c, which is the side end of an smux session, recording into reg
// under a new session labelled label.
func Wrap(c net.Conn, side live.Side, reg *live.Registry, label string, opts ...Option) *Conn {
	info := live.SessionInfo{Tap: side, Label: label}
	local, remote := addr(c.LocalAddr()), addr(c.RemoteAddr())
	if side == live.Client {
		info.Client, info.Server = local, remote
	} else {
		info.Client, info.Server = remote, local
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	info.Proto = o.proto.live()
	sess := reg.Open(info, time.Now())
	snaplen := reg.Config().Snaplen
	ch := newChoice(o.proto)
	tc := &Conn{
		Conn: c,
		sess: sess,
		out:  newFeeder(sess, side.Sends(), snaplen, ch),
		in:   newFeeder(sess, side.Sends().Reverse(), snaplen, ch),
	}
	tc.out.keep = true
	if o.version != 0 {
		tc.in.dec.Expect(o.version)
	}
	// The client sends the prefix: the feeder of client-to-server skips it.
	if side == live.Client {
		tc.out.skip = o.skip
	} else {
		tc.in.skip = o.skip
	}
	return tc
}

// options are what Wrap's Options set.
type options struct {
	version uint8
	proto   Protocol
	skip    int64
}

// WithProtocol tells the tap what the connection speaks; without it (or
// with Detect) the tap detects it from the first byte.
func WithProtocol(p Protocol) Option {
	return func(o *options) { o.proto = p }
}

// Skip tells the tap that the client sends n bytes before the mux starts
// (Consul sends one, 0x04, before yamux): they are counted as the
// session's prefix and not decoded.
func Skip(n int) Option {
	return func(o *options) { o.skip = int64(max(n, 0)) }
}

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Read reads from the wrapped conn and decodes what it read.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.feed(p[:n], time.Time{})
	}
	if err != nil && !temporary(err) {
		// A frame cut short by the peer's end is TRUNCATED; one this end
		// stopped reading by closing the conn itself is not.
		c.in.end(time.Now(), !errors.Is(err, net.ErrClosed))
		c.fail(err)
	}
	return n, err
}

// Write decodes and records p, then writes it to the wrapped conn. Its
// frames are recorded, and stamped, before the bytes can reach the peer.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	base := c.out.offset()
	c.out.feed(p, time.Time{})
	c.wstate.Store(writing)
	c.wmu.Unlock()
	c.sess.WriteStarted(c.out.dir) // a write that does not return: the peer stopped reading
	n, err := c.Conn.Write(p)
	c.sess.WriteDone(c.out.dir)
	// A whole write that no Close or CloseWrite overlapped leaves nothing to
	// account for: one atomic, not a second turn of the lock.
	if n < len(p) || !c.wstate.CompareAndSwap(writing, idle) {
		c.wmu.Lock()
		state := c.wstate.Swap(idle)
		if n < len(p) && !c.out.done {
			c.out.unsent(time.Now(), base+int64(n), base+int64(len(p)))
		}
		if state == ending {
			c.out.end(time.Now(), true)
		}
		c.wmu.Unlock()
	}
	if err != nil && !temporary(err) {
		c.fail(err)
	}
	return n, err
}

// The states of Conn.wstate.
const (
	idle    = iota // no Write is between its feed and its accounting
	writing        // a Write is
	ending         // and Close or CloseWrite came meanwhile: the Write ends out
)

// Close closes the wrapped conn and ends the session as closed locally,
// unless it ended already. What this end wrote ends here: a frame it left
// incomplete is TRUNCATED, as the peer's read of it fails. The conn is
// closed first: smux's writer goes on writing what it has queued until a
// write fails, and what goes out still counts.
func (c *Conn) Close() error {
	c.sess.End(time.Now(), live.LocalClose, nil)
	err := c.Conn.Close()
	c.endWrites()
	return err
}

// CloseWrite half-closes the wrapped conn if it supports it (TCP does).
// What this end wrote ends here, as with Close.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		err := cw.CloseWrite()
		c.endWrites()
		return err
	}
	return errors.ErrUnsupported
}

// endWrites ends the direction this end writes, which the wrapped conn
// no longer sends: a frame it left incomplete is named TRUNCATED and its
// bytes count as unparsed wire bytes. smux never leaves one (it writes
// each frame whole, and a write that fails is accounted for by Write), but
// another writer over a tapped conn may. A Write in progress ends it when
// it returns.
func (c *Conn) endWrites() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wstate.CompareAndSwap(writing, ending) {
		return
	}
	c.out.end(time.Now(), true)
}

// fail ends the session on an error that ends the connection.
func (c *Conn) fail(err error) {
	reason, cause := Reason(err)
	c.sess.End(time.Now(), reason, cause)
}

// temporary reports whether err leaves the connection usable: a deadline
// that passed, or another timeout.
func temporary(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Reason classifies an error that ended a connection, and returns the error
// worth showing with it (nil when the reason says everything).
func Reason(err error) (live.CloseReason, error) {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return live.EOF, nil
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return live.Reset, nil
	case errors.Is(err, net.ErrClosed):
		return live.LocalClose, nil
	}
	return live.ReadError, err
}

func newFeeder(sess *live.Session, dir live.Dir, snaplen int, c *choice) feeder {
	return feeder{dec: decoder.New(snaplen), dir: dir, sess: sess, choice: c}
}

// offset returns how many bytes of the direction the feeder was given.
func (f *feeder) offset() int64 {
	if f.kind == kindYamux {
		return f.skipped + f.ydec.Offset()
	}
	return f.skipped + f.dec.Offset()
}

// feed decodes p, which moved at time at; a zero at means now, read only
// if a frame completes (smux reads a header and its payload separately, so
// half its reads complete none). After a violation nothing is framed any
// more, and feed only counts the unparsed bytes.
func (f *feeder) feed(p []byte, at time.Time) {
	if f.done {
		return
	}
	if f.kind != kindSmux {
		if f.kind == kindUndecided {
			if p = f.detect(p, at); len(p) == 0 {
				return
			}
		}
		if f.kind == kindYamux {
			f.feedYamux(p, at)
			return
		}
	}
	if f.dec.Violation() != nil {
		f.dec.Next(p)
		f.sess.Unparsed(f.dir, f.dec.Unparsed())
		return
	}
	f.wrote = f.wrote[:0]
	for len(p) > 0 {
		n, fr, err := f.dec.Next(p)
		p = p[n:]
		if fr == nil && err == nil {
			continue
		}
		if at.IsZero() {
			at = f.clock.now()
		}
		if fr == nil {
			f.violation(at, f.dec.Violation())
			continue
		}
		ref, ok := f.sess.RecordRef(f.dir, at, fr)
		switch {
		case !ok:
			// The receiving end speaks another version and refuses it.
			f.violation(at, f.dec.Reject(fr, decoder.VersionMismatch, f.sess.ReceiverVersion(f.dir)))
		case f.keep:
			f.wrote = append(f.wrote, wroteFrame{fr.Offset, fr.Header, ref})
		}
	}
}

// violation records a violation that stopped the decoder, with the bytes
// it left unparsed.
func (f *feeder) violation(at time.Time, v *decoder.Violation) {
	f.sess.Violation(f.dir, at, v)
	f.sess.Unparsed(f.dir, f.dec.Unparsed())
	f.wrote = f.wrote[:0]
}

// end stops decoding the direction, whose byte stream has ended. The bytes
// of a frame it cut short count as unparsed, and if report, the frame is
// named TRUNCATED: smux's read of it fails ("unexpected EOF" when the peer
// closed). A frame the tapped end stopped reading itself, by closing the
// connection, was not cut by the peer: report is false then.
func (f *feeder) end(at time.Time, report bool) {
	if f.done {
		return
	}
	f.done = true
	f.sess.DirectionEnded(f.dir)
	if f.kind == kindYamux {
		f.endYamux(at, report)
		return
	}
	if v := f.dec.End(); v != nil {
		if report {
			f.sess.Violation(f.dir, at, v)
		}
		f.sess.Unparsed(f.dir, f.dec.Unparsed())
	}
}

// unsent accounts for a Write that sent only the bytes before offset cut
// of the direction's stream, of those up to stop that feed recorded: the
// frames that did not go out wholly are taken back, and a frame cut by the
// failure is reported as truncated, as the peer's read of it fails. The
// direction decodes nothing more: the connection has failed.
func (f *feeder) unsent(at time.Time, cut, stop int64) {
	f.done = true
	f.sess.DirectionEnded(f.dir)
	f.sess.Unsent(f.dir, stop-cut)
	// The decoders count from the end of the prefix.
	cut, stop = max(cut-f.skipped, 0), max(stop-f.skipped, 0)
	if f.kind == kindYamux {
		f.unsentYamux(at, cut, stop)
		return
	}
	var sentUnparsed int64 // the unparsed bytes that did go out
	if v := f.dec.Violation(); v != nil {
		sentUnparsed = max(0, cut-v.Offset)
	}
	trunc := decoder.Violation{Code: decoder.Truncated, Offset: -1}
	for _, w := range f.wrote {
		if w.off+decoder.HeaderSize+int64(w.hdr.Length()) <= cut {
			continue
		}
		f.sess.Retract(f.dir, w.hdr, w.ref)
		if w.off < cut {
			trunc.Offset, trunc.Got, trunc.Header = w.off, cut-w.off, w.hdr
		}
	}
	// A frame still incomplete at the end of the write may have begun
	// before the cut.
	if pending := f.dec.Pending(); pending > 0 {
		if start := f.dec.Offset() - pending; start < cut {
			trunc.Offset, trunc.Got = start, cut-start
			if v := f.dec.End(); v != nil {
				trunc.Header = v.Header
			}
		}
	}
	if trunc.Offset >= 0 {
		if trunc.Got < decoder.HeaderSize {
			clear(trunc.Header[trunc.Got:])
		}
		trunc.HeaderComplete = trunc.Got >= decoder.HeaderSize
		sentUnparsed += trunc.Got
		f.sess.Violation(f.dir, at, &trunc)
	}
	f.sess.Unparsed(f.dir, sentUnparsed)
}

// Listener taps every conn it accepts as the server end of a session.
type Listener struct {
	net.Listener
	reg   *live.Registry
	label string
	opts  []Option
}

// WrapListener taps the conns that l accepts, recording into reg; each is
// wrapped with opts.
func WrapListener(l net.Listener, reg *live.Registry, label string, opts ...Option) *Listener {
	return &Listener{Listener: l, reg: reg, label: label, opts: opts}
}

// Accept waits for the next conn and returns it tapped.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c, live.Server, l.reg, l.label, l.opts...), nil
}

// clock stamps a feeder's frames reading only the monotonic clock, half
// the cost of time.Now, which reads the wall clock too: it adds the
// monotonic time elapsed since a time.Now taken at most rebase ago. A
// stamp's monotonic reading is exact, so Sub between stamps is; its wall
// time (what history keeps) may differ from a wall clock that is stepped
// or slewed meanwhile by as much as that clock moves in rebase.
type clock struct{ base time.Time }

const rebase = time.Second

func (c *clock) now() time.Time {
	if d := time.Since(c.base); d >= 0 && d < rebase {
		return c.base.Add(d)
	}
	c.base = time.Now()
	return c.base
}
