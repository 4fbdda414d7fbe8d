// Package tap watches smux and yamux connections without touching them:
// Conn and Listener tee every byte that moves into a frame decoder per direction and
// record the frames in a live.Registry; Proxy is the tapping TCP proxy
// behind `muxtop attach`.
package tap

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/muxtop/muxtop/live"
)

// Conn is a net.Conn whose traffic is decoded into a live.Session. The
// bytes pass through untouched, and those that moved are decoded inline,
// without waiting for any reader of the Registry. A Read shorter than 512
// bytes reads ahead, as a bufio.Reader does (Read): smux reads a frame's
// header and payload in two Reads, one system call through the tap.
//
// A Write's frames are recorded before its bytes go out, so that nothing
// the peer sends in answer, and this end reads, can be recorded first: the
// history is in causal order. Bytes that a failed write never sent are
// taken back out of the counts (live.Session.Unsent and Retract).
//
// Any number of goroutines may call its methods at once, as net.Conn
// allows: like a *net.TCPConn, a Conn serialises its Reads (one reads and
// decodes what it read before the next reads), so the bytes are decoded in
// the order they were read; a Write runs alongside a Read (smux's reader
// and writer), and Close unblocks both. Like a *net.TCPConn too, a Conn
// serialises its Writes: each is decoded and goes out whole before the
// next begins, so the bytes go out in the order they were decoded. A
// Write of more than writeChunk bytes goes out as successive writes of at
// most writeChunk to the wrapped conn, no other Write between them, each
// telling the session that the write moved bytes: a write is held
// (SESSION_BLOCKED) only while it moves none, not while a slow path takes
// seconds to move a whole yamux window written in one Write. Each tells
// it how far the write got too (live.Session.Sent): the frame a Write
// records as it begins fills its stream's window, and holds its writer
// there (WINDOW_STALL), only once it has left.
type Conn struct {
	net.Conn
	sess *live.Session
	in   Feeder
	// rmu serialises the Reads: held across the wrapped conn's Read and
	// the feed of what it read, so that bytes are fed in the order they
	// were read, and in is the holder's alone. Close never waits for it:
	// it ends in itself only if no Read holds it (TryLock), and else the
	// Read that holds it ends in as it lets go (endIn).
	rmu sync.Mutex
	// reads counts the Reads under way, each from before its call of the
	// wrapped conn's Read until what it read is fed and its end, if it
	// met one, accounted for; next to in, the reader's, away from the
	// writer's wstate. After Close, the last to return tells the
	// recorder (tellClosed).
	reads atomic.Int32
	out   Feeder

	// smu serialises the Writes: held from before a Write's feed until it
	// returns, across all its chunks' writes to the wrapped conn (a
	// net.Conn's Write is atomic with respect to other Writes). Close
	// never takes it: it closes the wrapped conn, which fails the write
	// that holds it.
	smu sync.Mutex
	// wmu guards out, which Write feeds and Close and CloseWrite end; it
	// is never held across the wrapped conn's Write.
	wmu    sync.Mutex
	wstate atomic.Int32 // idle, writing or ending: see Write
	// shutAt and eofAt are when (Unix ns) this end's CloseWrite shut its
	// side and when a Read met the peer's clean EOF, 0 before: the
	// session ends when both are done, or at Close or a failure, and its
	// end says how long before the peer had closed its side. After
	// shutAt a Write fails with EPIPE though the peer reset nothing.
	shutAt, eofAt atomic.Int64
	// shutDone: the CloseWrite that marked shutAt returned without error
	// (its FIN went out); shutAt is marked before, for a racing reset.
	shutDone atomic.Bool
	// closed: Close was called. What fails after is this end's own
	// doing, whatever error the wrapped conn gives for it: a TCP, TLS or
	// unix conn's net.ErrClosed, a net.Pipe's or KCP's io.ErrClosedPipe.
	closed atomic.Bool
	// closeDone: Close has closed the wrapped conn and ended its writes,
	// and its recorder (a ClosingRecorder) is to be told once no Read is
	// under way; told: it was (tellClosed); grace: the timer that tells
	// it should a Read never return.
	closeDone, told atomic.Bool
	grace           atomic.Pointer[time.Timer]
	// connClosed: Close has closed the wrapped conn; a Read begun after
	// reads no byte of the wire.
	connClosed atomic.Bool
	// transport is what the wrapped conn runs over, as
	// live.SessionInfo.Transport names it: the words of a close follow it.
	transport string
	// local and peer name the two ends, "client 127.0.0.1:51234" and
	// "server 127.0.0.1:7800", for the records that name one.
	local, peer string

	// ahead is the read-ahead buffer (readAhead bytes, made at the first
	// short Read): ahead[aheadAt:aheadEnd] were read from the wrapped conn
	// and are the next a Read returns, and decodes; aheadErr is the error
	// the wrapped conn's Read gave with them, returned once they are. The
	// reader's, under rmu.
	ahead             []byte
	aheadAt, aheadEnd int
	aheadErr          error
	// lastBig: the end's last Read asked for readAhead bytes or more (a
	// bulk transfer's payload): its next short Read, a header, reads no
	// more than it asks for, and the payload after it goes straight into
	// the end's buffer, not through the tap's. The reader's, under rmu.
	lastBig bool
}

// readAhead is the size of a Conn's read-ahead buffer: a Read shorter
// than it reads up to readAhead bytes from the wrapped conn and returns
// the rest at the next Reads, as a bufio.Reader would. smux reads each
// frame's 8-byte header and then its payload, two system calls a frame;
// through the tap, one where the frame came whole, which pays for
// decoding it. Small: the buffer is the conn's for its life (an idle
// conn's reader waits in a Read into it), and a frame bigger than it
// gains nothing (its payload's Read goes straight to the wrapped conn).
const readAhead = 512

// Option configures Wrap.
type Option func(*options)

// Version tells the tap which smux protocol version its end of the
// session speaks (smux.Config.Version). A peer that sends another version
// is then named at its first frame: a VERSION_MISMATCH violation, as the
// tapped end's smux refuses it. Without it, muxtop finds a mismatch when it
// has seen both directions. It implies WithProtocol(Smux) unless another
// protocol is given: a yamux peer is named at its first header (PROTOCOL),
// where detection would take the session for yamux.
func Version(v int) Option {
	return func(o *options) {
		if v == 1 || v == 2 {
			o.version = uint8(v)
		}
	}
}

// Wrap taps c, which is the side end of an smux or yamux session,
// recording into reg under a new session labelled label. side must be
// live.Client or live.Server, and reg not nil: Wrap panics at once
// otherwise, where the mistake would fail later, inside the session's
// reads. The session stays live in reg until the returned Conn is closed,
// a read or write fails other than by a deadline or a clean EOF, or both
// sides have closed theirs (the peer's EOF, this end's CloseWrite): close
// it, not c. A clean EOF is the peer closing its side of the connection,
// as a half-close: a session-half-closed record, and the session lasts,
// since this end may still write (smux's Session does not close its conn
// when it reads EOF; its streams' Close still send FINs). A write that
// fails, by a deadline too, ends what the tap decodes of the direction it
// writes: its bytes were recorded before they went out, those it did not
// send are taken back, and where the rest would resume is not known (smux
// and yamux end their session at any failed write). c's own methods
// (a TCP or KCP conn's tuning, a TLS conn's ConnectionState) are the
// returned Conn's NetConn's.
func Wrap(c net.Conn, side live.Side, reg *live.Registry, label string, opts ...Option) *Conn {
	if side != live.Client && side != live.Server {
		panic(fmt.Sprintf("tap.Wrap: side %d: want live.Client or live.Server", side))
	}
	if reg == nil {
		panic("tap.Wrap: nil *live.Registry: want one from live.New to record into")
	}
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
	if o.version != 0 && o.proto == Detect {
		// An end that speaks an smux version speaks smux: a peer's yamux
		// header is a violation it refuses (PROTOCOL), not a yamux session.
		o.proto = Smux
	}
	info.Proto = o.proto.live()
	if o.proto != Detect {
		info.ToldBy = live.ToldByTap // a misdecoding's advice names the option, not a flag
	}
	if o.skip > 0 {
		info.SkipBy = live.ToldByTap // a wrong skip's advice names tap.Skip, not --skip
	}
	info.Transport = transportOf(c)
	sess := reg.Open(info, time.Now())
	snaplen := reg.Config().Snaplen
	ch := newChoice(o.proto)
	tc := &Conn{
		Conn:      c,
		sess:      sess,
		out:       newFeeder(sess, side.Sends(), snaplen, ch),
		in:        newFeeder(sess, side.Sends().Reverse(), snaplen, ch),
		transport: info.Transport,
		local:     live.Named(side, local),
		peer:      live.Named(side.Sends().Reverse().Sender(), remote),
	}
	tc.out.keep = true
	tc.in.watchArrivals(c)     // its frames are stamped as read: when did they come?
	sess.Sent(side.Sends(), 0) // its writes report what left (Write)
	if o.version != 0 {
		tc.in.Expect(o.version)
	}
	// The client sends the prefix: the feeder of client-to-server skips it.
	if side == live.Client {
		tc.out.skip = o.skip
	} else {
		tc.in.skip = o.skip
	}
	if o.rec != nil {
		rc := RecordConnTold(o.rec, info.Client, info.Server, info.Transport, Told{Tap: side, Proto: o.proto, Version: o.version, Skip: o.skip}, time.Now())
		tc.in.Record(rc)
		tc.out.Record(rc)
		if _, ok := rc.(ClosingRecorder); ok {
			tc.in.closing, tc.out.closing = &tc.closed, &tc.closed // Close ends them in the recording
		}
	}
	return tc
}

// options are what Wrap's Options set.
type options struct {
	version uint8
	proto   Protocol
	skip    int64
	rec     Recorder
}

// Record makes the tap record every byte of the conn in rec (--write).
// A nil rec, a typed one too (a *pcapout.Live left nil where capture is
// off), records nothing.
func Record(rec Recorder) Option {
	if v := reflect.ValueOf(rec); rec != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		rec = nil
	}
	return func(o *options) { o.rec = rec }
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

// addr is a's string, or "" where a names no end: none, an unnamed unix
// socket's (a unix listener's client, which Go gives as "@", the abstract
// name the kernel shows for none), or a net.Pipe's, whose ends are both
// "pipe". An end with no address is named by its role alone.
func addr(a net.Addr) string {
	switch u := a.(type) {
	case nil:
		return ""
	case *net.UnixAddr:
		if u == nil || u.Name == "" || u.Name == "@" {
			return ""
		}
	}
	if s := a.String(); !(s == "pipe" && a.Network() == "pipe") {
		return s
	}
	return ""
}

// Read reads from the wrapped conn and decodes what it read. A Read of
// fewer than readAhead bytes reads ahead, unless the one before it asked
// for readAhead or more: it takes up to readAhead bytes from the wrapped
// conn, and returns what p does not hold at the next Reads, without
// calling the wrapped conn, as a bufio.Reader does (past a read deadline
// too). The bytes are decoded as Reads return them: the picture is what
// the tapped end read, when it read it, and bytes it never reads (after
// a header its mux refused, at its Close) are never decoded, as those
// left in the socket are not: at Close they are dropped, and a Read after
// fails as the wrapped conn's does.
func (c *Conn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	defer c.readDone()
	c.rmu.Lock()
	n, err := c.read(p)
	c.rmu.Unlock()
	if c.connClosed.Load() {
		// Close came while this Read held rmu, and could not end in: this
		// Read does, unless another holds rmu now, which will.
		c.endIn()
	}
	return n, err
}

// read is Read with rmu held.
func (c *Conn) read(p []byte) (int, error) {
	// A Read begun once Close has closed the wrapped conn reads what a
	// layer of it had buffered (crypto/tls returns records it decrypted
	// before the close): after the session's end, and after the
	// recording's. Not decoded: the tap's picture ends at Close. One
	// begun while Close ends the session, before the conn is closed,
	// reads the wire: it is decoded, and the recorder waits for it.
	// What the tap read ahead and its end had not read is dropped at the
	// close, as the bytes waiting in a closed socket are: a Read after
	// Close fails as the wrapped conn's does, and its end reads nothing
	// the tap did not decode.
	late := c.connClosed.Load()
	if late {
		c.aheadAt, c.aheadEnd, c.aheadErr = 0, 0, nil
	}
	big := c.lastBig
	c.lastBig = len(p) >= readAhead
	if c.aheadAt == c.aheadEnd && c.aheadErr == nil {
		buf, ahead := p, len(p) > 0 && len(p) < readAhead && !late && !big
		if ahead {
			if c.ahead == nil {
				c.ahead = make([]byte, readAhead)
			}
			buf = c.ahead
		}
		c.in.readStarting()
		c.sess.ReadStarted(c.in.dir) // an end that stops reading has stopped itself: SESSION_BLOCKED
		n, err := c.Conn.Read(buf)
		c.sess.ReadDone(c.in.dir)
		n = min(max(n, 0), len(buf)) // a conn's count out of bounds feeds nothing wrongly
		if ahead {
			// A Read under way as Close closed the conn decodes what it
			// gives its end, as any Read begun before the close; the rest
			// is dropped at the next Read, which fails.
			c.in.readEnded(n) // taken, not yet fed
			if n > 0 && err != nil && temporary(err) {
				// A deadline's error comes with the bytes, as the wrapped
				// conn gave it: held, it would come at a later Read, after
				// the deadline was moved.
				c.aheadAt, c.aheadEnd, c.aheadErr = 0, n, nil
				k, _ := c.readAhead(p)
				return k, err
			}
			c.aheadAt, c.aheadEnd, c.aheadErr = 0, n, err
			return c.readAhead(p)
		}
		if n > 0 && !late {
			c.in.Feed(p[:n], time.Time{})
		}
		c.in.readEnded(0)
		c.readFailed(err)
		return n, err
	}
	// A Read the tap answers from what it read ahead is a read all the
	// same: the end is reading (SESSION_BLOCKED).
	c.sess.ReadStarted(c.in.dir)
	c.sess.ReadDone(c.in.dir)
	return c.readAhead(p)
}

// readAhead returns what the tap read ahead, as much as p holds, and
// decodes it, returning the wrapped conn's error, and accounting for it,
// with the last of it. rmu is held.
func (c *Conn) readAhead(p []byte) (int, error) {
	n := copy(p, c.ahead[c.aheadAt:c.aheadEnd])
	c.aheadAt += n
	if n > 0 {
		c.in.Feed(p[:n], time.Time{})
	}
	if c.aheadAt < c.aheadEnd {
		return n, nil
	}
	err := c.aheadErr
	c.aheadAt, c.aheadEnd, c.aheadErr = 0, 0, nil
	c.readFailed(err)
	return n, err
}

// readFailed accounts for the error a Read of the wrapped conn returned,
// once what it read is decoded: the peer's clean EOF half-closes the
// session, any other failure but a deadline's ends it. rmu is held.
func (c *Conn) readFailed(err error) {
	if err == nil || temporary(err) {
		return
	}
	now := time.Now()
	if c.in.rec != nil && isReset(err) {
		c.in.rec.Reset(c.in.dir, now) // the peer reset the connection
	}
	// A frame cut short by the peer's end is TRUNCATED; one this end
	// stopped reading by closing the conn itself is not, whatever the
	// conn's error for it (a pipe's and KCP's is io.ErrClosedPipe).
	c.in.End(now, !c.closed.Load() && !errors.Is(err, net.ErrClosed))
	if errors.Is(err, io.EOF) {
		c.peerClosed(now)
	} else {
		c.fail(err)
	}
}

// endIn ends the direction this end reads, after Close closed the wrapped
// conn, if no Read holds rmu: one that does calls endIn as it lets go.
// Close's end of it, as a Read's that fails on the closed conn: the bytes
// the feeder held (a frame or header cut short) count as unparsed, no
// TRUNCATED is named (this end stopped reading, the peer cut nothing), but
// a cut yamux DATA frame longer than its window is WINDOW_EXCEEDED
// (Feeder.End). Without it, a mux whose reader had returned already (smux
// and yamux refusing a frame end their session after their reader
// returns) left what the tap read of its last frame uncounted.
//
// What the tap read ahead and its end had not read is not decoded: as
// the bytes left in a closed socket, the end never reads them (its mux
// stopped reading, refused a header, or closed as they came).
func (c *Conn) endIn() {
	if c.rmu.TryLock() {
		c.in.End(time.Now(), false)
		c.rmu.Unlock()
	}
}

// readDone ends a Read under way: the last to end after Close tells the
// recorder.
func (c *Conn) readDone() {
	if c.reads.Add(-1) == 0 && c.closeDone.Load() {
		c.tellClosed()
	}
}

// peerClosed records the peer's clean EOF at now: it closed its side of
// the connection, and this end may still write (an smux Session does not
// close its conn when it reads EOF, and its streams' Close still write
// FINs). The session lasts, half open, unless this end had shut its side
// already: then both are done.
func (c *Conn) peerClosed(now time.Time) {
	if !c.eofAt.CompareAndSwap(0, now.UnixNano()) {
		return // a Read after the EOF reads it again
	}
	if c.shutAt.Load() == 0 {
		// Not while this end's CloseWrite is under way: its FIN may be
		// out, and the CloseWrite says what came of it.
		if under, isTLS := live.TLSUnder(c.transport); isTLS {
			if hello, ok := tlsNeverMade(c.Conn, c.out.dir.Sender() == live.Client); ok {
				// A TCP health check at a TLS listener, or a peer gone
				// mid-handshake: it closed its TCP (or the conn under
				// the TLS), and no TLS connection was ever made.
				c.sess.NoTLS(under, hello)
			}
		}
		c.sess.HalfClosed(c.in.dir, now, c.peer)
	}
	c.bothClosed()
}

// bothClosed ends the session by EOF once both sides have closed theirs,
// naming the one that closed first. Either of CloseWrite and Read may see
// both; End counts the first call.
func (c *Conn) bothClosed() {
	eof, shut := c.eofAt.Load(), c.shutAt.Load()
	if eof == 0 || shut == 0 || !c.shutDone.Load() {
		return
	}
	first := c.peer
	if shut < eof {
		first = c.local
	}
	c.sess.End(time.Unix(0, max(eof, shut)), live.EOF, ClosedFirst(first))
}

// cause is what the session's end, at now, says besides err: that the
// peer had closed its side of the connection and how long before, if it
// had, as attach's proxy says it.
func (c *Conn) cause(err error, now time.Time) error {
	eof := c.eofAt.Load()
	if eof == 0 {
		return err
	}
	return closedBefore(err, c.local, c.peer, live.ClosedIts(c.transport), now.Sub(time.Unix(0, eof)))
}

// Write decodes and records p, then writes it to the wrapped conn. Its
// frames are recorded, and stamped, before the bytes can reach the peer.
func (c *Conn) Write(p []byte) (int, error) {
	c.smu.Lock()
	defer c.smu.Unlock()
	c.wmu.Lock()
	base := c.out.offset()
	// writing before Feed: no code that holds wmu can tell the order, but
	// a frame Feed records is visible at once, and a reader of wstate
	// that does not hold wmu (a test waiting for this end's writes to be
	// done after its last frame) would otherwise see the write idle.
	c.wstate.Store(writing)
	c.out.Feed(p, time.Time{})
	c.wmu.Unlock()
	c.out.WriteStarted() // a write that does not return: the peer stopped reading
	n, err := c.send(p, base)
	c.out.Sent(base + int64(min(max(n, 0), len(p)))) // what left: a window it filled holds its writer from now
	c.out.WriteDone(err != nil)
	// A failure after this end's CloseWrite that the shutdown itself
	// causes is its own (TCP's and a unix socket's EPIPE; an error of a
	// layer above the socket, as TLS's "tls: protocol is shutdown", which
	// crypto/tls returns before any I/O), no reset by the peer: a reset the kernel has
	// news of fails a write with ECONNRESET first, and any other error the
	// kernel held for the socket (EHOSTUNREACH from an ICMP error) with
	// that error, the path's failure, not this end's doing.
	own := err != nil && c.shutAt.Load() != 0 && (errors.Is(err, syscall.EPIPE) || !isNetError(err))
	// A whole write that no Close or CloseWrite overlapped leaves nothing to
	// account for: one atomic, not a second turn of the lock.
	if n < len(p) || !c.wstate.CompareAndSwap(writing, idle) {
		c.wmu.Lock()
		state := c.wstate.Swap(idle)
		if n < len(p) && !c.out.done {
			c.out.unsent(time.Now(), base+int64(n), base+int64(len(p)))
		}
		if state == ending {
			c.out.End(time.Now(), true)
		}
		c.wmu.Unlock()
	}
	if c.in.rec != nil && isReset(err) && !own {
		// The peer reset the connection, as Read records it: its RST,
		// after what the write did not send was taken back (unsent), which
		// nothing is recorded after.
		c.in.rec.Reset(c.in.dir, time.Now())
	}
	switch {
	case own:
		now := time.Now()
		c.sess.End(now, live.LocalClose, c.cause(fmt.Errorf("a write after its own CloseWrite: %w", err), now))
	case err != nil && !temporary(err):
		c.fail(err)
	}
	return n, err
}

// writeChunk is the most a Write gives the wrapped conn at once: a bigger
// buffer goes out a chunk at a time (send). Above any smux frame (65535
// bytes of payload and an 8-byte header, written in one Write), which
// thus never goes out split; yamux writes a DATA frame's payload, up to a
// whole stream window (256 KiB by default, MaxStreamWindowSize), in one
// Write. At a chunk a write, a write held for --blocked-after (2 s) moves
// less than 64 KiB/s.
const writeChunk = 128 << 10

// send writes p, fed at offset base, to the wrapped conn, a chunk at a
// time where p is longer than writeChunk, telling the session after each
// chunk but the last that the write moved bytes (Feeder.WriteProgress),
// and how far (Feeder.Sent): the window a frame in p filled holds its
// writer only once the frame has left. It returns what the wrapped
// conn's one Write of p would have: the bytes written up to the first
// chunk written short or failed, with that chunk's error (a deadline's,
// the closed conn's, a reset), nil for a short write without one. smu is
// held.
func (c *Conn) send(p []byte, base int64) (int, error) {
	if len(p) <= writeChunk {
		return c.Conn.Write(p)
	}
	n := 0
	for {
		k := min(len(p)-n, writeChunk)
		w, err := c.Conn.Write(p[n : n+k])
		w = min(max(w, 0), k) // a conn's count out of bounds ends no loop wrongly
		n += w
		if err != nil || w < k || n == len(p) {
			return n, err
		}
		c.out.Sent(base + int64(n))
		c.out.WriteProgress()
	}
}

// The states of Conn.wstate.
const (
	idle    = iota // no Write is between its feed and its accounting
	writing        // a Write is
	ending         // and Close or CloseWrite came meanwhile: the Write ends out
)

// Close ends the session as closed locally, unless it ended already, and
// closes the wrapped conn; if the peer had closed its side, the end says
// so and how long before. What this end wrote ends then: a frame it left
// incomplete is TRUNCATED, as the peer's read of it fails. A write in
// progress as the conn closes is accounted for first: smux's writer goes
// on writing what it has queued until a write fails, and what goes out
// still counts. The direction this end reads ends too, as a Read under
// way ends it when it fails on the closed conn: the bytes of a frame the
// peer had begun count as unparsed, and no TRUNCATED is named (this end
// stopped reading; endIn). A recorder (Record) that is a ClosingRecorder
// is told, so that the direction this end reads ends in it too.
func (c *Conn) Close() error {
	c.closed.Store(true)
	now := time.Now()
	c.sess.End(now, live.LocalClose, c.cause(nil, now))
	// Under wmu: a Write fed before the close is accounted for when it
	// returns, and one after feeds nothing (its write fails on the
	// closed conn), as none can feed between.
	c.wmu.Lock()
	err := c.Conn.Close()
	c.connClosed.Store(true)
	c.endWritesLocked()
	c.wmu.Unlock()
	// After connClosed is set: a Read that holds rmu now ends in as it
	// lets go, and one that takes it after feeds nothing more.
	c.endIn()
	if _, ok := c.out.rec.(ClosingRecorder); ok {
		// The direction it reads ends too: else only a later Read's
		// failure ends it, and a conn closed with no Read after stays
		// open in the recording. Told once the Reads under way have fed
		// what they read: bytes they took from the conn left it before
		// the close, and the recording shows them before it. Closing
		// unblocked them (net.Conn's contract), and the last to return
		// tells; Close waits for none of them, and should one never
		// return, closeGrace later the recorder is told all the same.
		c.closeDone.Store(true)
		if c.reads.Load() == 0 {
			c.tellClosed()
		} else {
			c.grace.Store(time.AfterFunc(closeGrace, c.tellClosed))
			if c.told.Load() {
				c.grace.Load().Stop() // the last Read told meanwhile
			}
		}
	}
	return err
}

// closeGrace bounds how long after Close a Read under way that never
// returns holds the recorder's end (tellClosed).
const closeGrace = 500 * time.Millisecond

// tellClosed tells the recorder, once, that the tap closed the conn:
// Close calls it when no Read is under way, else the last Read to end,
// else the grace timer. Every direction that had not ended in the
// recording ends then, the one this end writes first: the Feeders leave
// their ends to it once Close is called (Feeder.closing).
func (c *Conn) tellClosed() {
	if !c.told.CompareAndSwap(false, true) {
		return
	}
	if t := c.grace.Load(); t != nil {
		t.Stop()
	}
	c.out.rec.(ClosingRecorder).Closed(c.out.dir, time.Now())
}

// CloseWrite half-closes the wrapped conn if it supports it (TCP does).
// What this end wrote ends here, as with Close: a session-half-closed
// record while the peer's side is open, or, if the peer had closed its
// side already, the session's end by EOF. One that fails shuts nothing:
// the tap decodes on what this end writes after it.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		// Marked before the FIN goes out: a peer that answers it with a
		// reset at once fails this end's Read, on another goroutine,
		// before CloseWrite returns, and that end must find the shut.
		now := time.Now()
		first := c.shutAt.CompareAndSwap(0, now.UnixNano())
		err := cw.CloseWrite()
		if err != nil {
			if first {
				c.shutAt.CompareAndSwap(now.UnixNano(), 0)
			}
			if eof := c.eofAt.Load(); eof != 0 && c.shutAt.Load() == 0 {
				// The peer's half-close, which its Read held back while
				// this CloseWrite was under way: no FIN of this end's
				// went out.
				c.sess.HalfClosed(c.in.dir, time.Unix(0, eof), c.peer)
			}
			// Nothing was shut: this end still writes (a TLS conn refuses
			// CloseWrite before its handshake completes, and its writes
			// go on), and a conn the failure broke ends its session as its
			// next Read or Write fails.
			return err
		}
		c.endWrites()
		// Its time is when the FIN went, after the direction ended: what
		// the half-close record and the session's end say.
		done := time.Now()
		if first {
			c.shutAt.CompareAndSwap(now.UnixNano(), done.UnixNano())
		}
		c.shutDone.Store(true)
		c.sess.HalfClosed(c.out.dir, done, c.local) // none if the peer had closed first
		c.bothClosed()
		return nil
	}
	return errors.ErrUnsupported
}

// NetConn returns the wrapped conn, as crypto/tls's Conn.NetConn does:
// the way to its own methods, which Conn does not have (a
// *kcp.UDPSession's tuning, a *tls.Conn's ConnectionState, a
// *net.TCPConn's SetNoDelay). Read, write and close through the tap: what
// bypasses it is not seen, and a Read of it misses what the tap read
// ahead.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// endWrites ends the direction this end writes, which the wrapped conn
// no longer sends: a frame it left incomplete is named TRUNCATED and its
// bytes count as unparsed wire bytes. smux never leaves one (it writes
// each frame whole, and a write that fails is accounted for by Write), but
// another writer over a tapped conn may. A Write in progress ends it when
// it returns.
func (c *Conn) endWrites() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.endWritesLocked()
}

// endWritesLocked is endWrites with wmu held.
func (c *Conn) endWritesLocked() {
	if c.wstate.CompareAndSwap(writing, ending) {
		return
	}
	c.out.End(time.Now(), true)
}

// fail ends the session on an error that ends the connection. A reset
// names the peer that sent it, and the side that had closed its own
// before, as attach's proxy and a capture do: "reset by the server …",
// "…; the client … had closed its side of the connection 3ms before".
func (c *Conn) fail(err error) {
	now := time.Now()
	reason, cause := Reason(err)
	if reason == live.Reset {
		c.sess.End(now, reason, c.resetBy(now))
		return
	}
	c.sess.End(now, reason, c.cause(cause, now))
}

// resetBy words the peer's reset at now: which of the two sides had
// closed its side of the connection before, if one had.
func (c *Conn) resetBy(now time.Time) error {
	if eof := c.eofAt.Load(); eof != 0 {
		return ResetBy(c.peer, c.peer, now.Sub(time.Unix(0, eof)))
	}
	if shut := c.shutAt.Load(); shut != 0 {
		return ResetBy(c.peer, c.local, now.Sub(time.Unix(0, shut)))
	}
	return ResetBy(c.peer, "", 0)
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

// Listener taps every conn it accepts as the server end of a session.
type Listener struct {
	net.Listener
	reg   *live.Registry
	label string
	opts  []Option
}

// WrapListener taps the conns that l accepts, recording into reg.
// Each conn is wrapped with opts. It panics at once if reg is nil, rather
// than at the first conn accepted.
func WrapListener(l net.Listener, reg *live.Registry, label string, opts ...Option) *Listener {
	if reg == nil {
		panic("tap.WrapListener: nil *live.Registry: want one from live.New to record into")
	}
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

// transportOf names what c runs over, as SessionInfo.Transport does: ""
// for TCP, "pipe" for a net.Pipe end, else its local address's network
// ("unix"; "udp" for a conn over UDP, as a KCP session is), or "conn"
// where it has no address; a TLS conn is "tls" over TCP, and over another
// conn "tls+" and that conn's name ("tls+unix"), as live.TLSUnder reads
// it. A wrapper is seen through where it has a TLS conn's
// ConnectionState or gives the conn it wraps by NetConn, as a *tls.Conn
// does; one that has neither is named by its address (a program's own
// wrapper of a TCP conn is TCP, and so, wrongly, is one of a *tls.Conn).
// TCP's close is a FIN and its held socket sits in CLOSE-WAIT; a TLS
// conn's close_notify (or a bare FIN under it) and a unix socket's
// shutdown are no FIN, and a net.Pipe has no half-close: its peer's Close
// closes both ways.
func transportOf(c net.Conn) string {
	t, inner := tlsLayer(c)
	if t == nil {
		switch inner.(type) {
		case *net.TCPConn:
			return ""
		case *net.UnixConn:
			return "unix"
		}
		return byAddr(inner)
	}
	under := byAddr(t) // a TLS conn's addresses are its conn's
	if u, unwraps := t.(interface{ NetConn() net.Conn }); unwraps && u.NetConn() != nil {
		under = transportOf(u.NetConn())
	}
	if under == "" {
		return "tls"
	}
	return "tls+" + under
}

// tlsConn is a TLS conn's state, as a *tls.Conn gives it.
type tlsConn interface {
	ConnectionState() tls.ConnectionState
}

// tlsLayer finds the TLS conn in c: c itself or the first conn under it,
// following each wrapper's NetConn, that has a TLS conn's
// ConnectionState. Where there is none it returns nil and the innermost
// conn it reached, the one with no NetConn (or a nil one).
func tlsLayer(c net.Conn) (t net.Conn, inner net.Conn) {
	for range 16 { // a chain of wrappers, not a cycle
		if _, isTLS := c.(tlsConn); isTLS {
			return c, nil
		}
		u, unwraps := c.(interface{ NetConn() net.Conn })
		if !unwraps || u.NetConn() == nil {
			return nil, c
		}
		c = u.NetConn()
	}
	return nil, c
}

// byAddr names the transport of c by its local address, as transportOf
// does a conn it cannot see through.
func byAddr(c net.Conn) string {
	switch a := c.LocalAddr().(type) {
	case nil:
		return "conn"
	case *net.TCPAddr:
		return ""
	case *net.UnixAddr: // not a.Network(): a nil *UnixAddr has none
		return "unix"
	default:
		switch n := a.Network(); n {
		case "tcp", "tcp4", "tcp6":
			return ""
		case "":
			return "conn"
		default:
			return n
		}
	}
}

// tlsNeverMade reports whether c is a TLS conn, or wraps one as
// transportOf sees through wrappers, whose handshake never completed, and
// whether a ClientHello had been sent: by this end where it is the client
// (crypto/tls writes its ClientHello before it reads), and where it is
// the server, read from the peer, as the version it picked from it says
// (ConnectionState's Version, 0 until then). It reads state crypto/tls
// keeps anyway: the tap never sees the handshake's bytes, which are under
// the conn it wraps.
func tlsNeverMade(c net.Conn, client bool) (helloSent bool, ok bool) {
	t, _ := tlsLayer(c)
	if t == nil {
		return false, false
	}
	st := t.(tlsConn).ConnectionState()
	if st.HandshakeComplete {
		return false, false
	}
	return client || st.Version != 0, true
}

// isNetError reports whether err came from the network, as a wrapped
// conn's I/O errors do (a *net.OpError), not from a layer above it, such
// as crypto/tls refusing a write after its own CloseWrite.
func isNetError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
