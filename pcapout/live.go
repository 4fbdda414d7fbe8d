package pcapout

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

var _ tap.ToldRecorder = (*Live)(nil)
var _ tap.ClosingRecorder = (*liveConn)(nil)
var _ tap.UnsentRecorder = (*liveConn)(nil)
var _ tap.ClosingRecorder = (*Conn)(nil)
var _ http.Handler = (*Live)(nil)

// LiveFlushEvery is how long a viewer's writer keeps packets buffered at
// most before it sends them: the latency of a live capture.
const LiveFlushEvery = 50 * time.Millisecond

// LiveHeartbeatEvery is how often a viewer's writer sends a heartbeat
// while it has no packet to send: a pcapng Interface Statistics Block
// stamped with the time up to which everything the taps recorded has been
// sent to the viewer, less HeartbeatSlack. muxtop read takes it as the
// capture's time having reached it, so that what an idle program holds
// open ages, and stands still while the stream does not come (a stalled
// pipe or network): only the producer knows that nothing was tapped.
// Half a second keeps a reader's clock within about 0.6 s of the
// program's, well under the shortest wait a finding counts (KEEPALIVE's
// few seconds), and ten times LiveFlushEvery, for a block of 24 bytes: a
// viewer's quiet stream costs 48 bytes a second.
const LiveHeartbeatEvery = 500 * time.Millisecond

// closeGrace is how long Close lets each viewer take what its queue
// holds before its stream is cut.
const closeGrace = time.Second

// contentType is what Live's streams are served as.
const contentType = "application/x-pcapng"

// LiveQueueBytes bounds the payload bytes a Live viewer's writer holds
// queued: what a viewer that reads slower than the taps pass bytes, or
// not at all, costs the program at most besides its writer's 256 KiB
// buffer and its queue's 8 192 events (about 6 MiB in all). What does
// not fit is dropped, and counted.
const LiveQueueBytes = 4 << 20

// DefaultMaxViewers is how many viewers a Live serves at once when its
// MaxViewers is 0.
const DefaultMaxViewers = 4

// Live serves the bytes of the connections a program taps as a live
// pcapng capture over HTTP, as net/http/pprof serves profiles: each GET
// streams, for as long as its client stays, what passes from that moment
// on, which muxtop read URL decodes as it comes (or curl saves, or
// Wireshark reads from a pipe). It is a tap.Recorder, given to the taps
// with tap.Record, and an http.Handler, mounted on the program's debug mux:
//
//	capture := pcapout.NewLive()
//	defer capture.Close() // at shutdown: ends every viewer's stream
//	debug := http.NewServeMux()
//	debug.Handle("/debug/muxtop/capture", capture)
//	go http.ListenAndServe("127.0.0.1:6060", debug) // loopback only: it serves payload bytes
//	session, err := smux.Client(tap.Wrap(conn, live.Client, reg, "backend", tap.Record(capture)), nil)
//
// The stream holds the payload bytes of every tapped connection: mount it
// only on a loopback or debug listener that only those allowed to read
// them reach, as net/http/pprof, never on the service's own port.
//
// Each viewer has its own Writer over its response, with a queue bounded
// by LiveQueueBytes, and at most MaxViewers are served at once: a viewer that reads slowly, or not at all, loses what
// its queue cannot take (counted, Dropped; its sequence numbers count
// those bytes, so muxtop read reports them lost) and never slows the
// tapped connections or the other viewers. Its writer sends what it
// holds within LiveFlushEvery, and while it has nothing to send a
// heartbeat every LiveHeartbeatEvery, the time up to which it has sent
// everything the taps recorded: muxtop read's clock goes on by it while
// the program is idle, and only by it. A connection that was open when a viewer
// came is written to it as one the capture joined mid-way (Writer.Joined);
// those opened later have their handshake.
//
// A viewer is served live only where the ResponseWriter it is given can
// flush and take a write deadline (http.ResponseController's Flush and
// SetWriteDeadline), as the net/http server's own and any wrapper of it
// with an Unwrap method can: else a GET, and a HEAD, is refused with a
// 500 that names what it lacks, since such a stream would be buffered,
// or a viewer that stopped reading would hold Close forever.
//
// With no viewer, recording a connection's bytes costs an atomic load and
// nothing more; a new connection costs a small allocation and a lock.
type Live struct {
	// MaxViewers is how many viewers are served at once, at most; a GET
	// over it is refused (503). 0 means DefaultMaxViewers. Set it before
	// the Live serves.
	MaxViewers int

	mu      sync.Mutex
	conns   map[*liveConn]struct{} // the connections open, for viewers to join
	viewers []*viewer
	// leaving are the viewers that left and whose writer is closing: what
	// they dropped still counts in Dropped, and they still count against
	// MaxViewers. coming counts the GETs that took a place and are not
	// viewers yet.
	leaving []*viewer
	coming  int
	closed  bool
	done    chan struct{} // closed by Close: every stream ends
	serving sync.WaitGroup
	gone    atomic.Int64 // what viewers that left had dropped: moved from leaving under mu
	goneEnd atomic.Int64 // the ends viewers that left had lost, alike
	made    madeUp
}

// NewLive returns a Live with no viewer.
func NewLive() *Live {
	l := &Live{conns: map[*liveConn]struct{}{}, done: make(chan struct{})}
	l.made.init()
	return l
}

// viewer is one GET's stream.
type viewer struct {
	w  *Writer
	rc *http.ResponseController
}

// Viewers returns how many viewers are streaming now.
func (l *Live) Viewers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.viewers)
}

// Dropped returns how many payload bytes the viewers' writers have not
// sent, those that left included: their queues were full.
func (l *Live) Dropped() int64 { return l.sum(&l.gone, (*Writer).Dropped) }

// EndsLost returns how many beginnings and ends of connections (a
// handshake, FIN, RST or the tap's close) the viewers' writers have not
// sent, those that left included: their queues were full, even the room
// kept for those. A viewer's read may show such a connection still open
// at its end, or begun mid-stream. It never goes back.
func (l *Live) EndsLost() int64 { return l.sum(&l.goneEnd, (*Writer).EndsLost) }

// sum is gone, what the viewers that left counted, plus of(w) for the
// writer of each viewer still streaming or leaving.
func (l *Live) sum(gone *atomic.Int64, of func(*Writer) int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := gone.Load()
	for _, v := range l.viewers {
		n += of(v.w)
	}
	for _, v := range l.leaving {
		n += of(v.w)
	}
	return n
}

// Close ends every viewer's stream, each after at most a second to take
// what its queue holds, and waits until their handlers have returned.
// Call it at shutdown, before the HTTP server's Shutdown (which waits for
// the streams). A GET after it is refused (503); connections still
// recorded cost nothing. It is idempotent.
func (l *Live) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.done)
		for _, v := range l.viewers {
			// A viewer that stopped reading would hold its writer, and
			// its handler, forever.
			v.rc.SetWriteDeadline(time.Now().Add(closeGrace))
		}
	}
	l.mu.Unlock()
	l.serving.Wait()
	return nil
}

// ServeHTTP streams the capture to a GET until its client goes or Close;
// another method than GET or HEAD is refused (405), and HEAD answers what
// a GET would, with the stream's headers alone: no viewer is made.
// It refuses one that its ResponseWriter could not stream live (500),
// one over MaxViewers (503) and one after Close (503), each with one line
// that says why.
func (l *Live) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "GET streams a pcapng capture of the tapped connections", http.StatusMethodNotAllowed)
		return
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		http.Error(rw, "the capture is closed: the program is shutting down", http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(rw)
	// The stream lasts as long as its viewer: a server's WriteTimeout
	// would cut it. And Close needs the deadline, for a viewer that
	// stopped reading. A HEAD is told what a GET through rw would be.
	if why := unstreamable(rw, rc); why != "" {
		http.Error(rw, why, http.StatusInternalServerError)
		return
	}
	take := l.take
	if r.Method == http.MethodHead {
		take = l.room
	}
	if n, ok := take(); !ok {
		viewers := "viewers"
		if n == 1 {
			viewers = "viewer"
		}
		http.Error(rw, fmt.Sprintf("the capture has %d %s already, its most (pcapout.Live.MaxViewers): try again when one leaves", n, viewers), http.StatusServiceUnavailable)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc.Flush() // the viewer knows at once that it is served

	v := &viewer{rc: rc}
	w, err := newBeatingWriter(&flushed{rw: rw, rc: rc}, math.MaxInt64, bufSize, LiveFlushEvery, LiveQueueBytes, LiveHeartbeatEvery)
	if err != nil {
		l.untake()
		return // the section header did not build: never, into memory
	}
	v.w = w
	if !l.attach(v) {
		w.Close() // the section header alone: an empty capture
		return
	}
	select {
	case <-r.Context().Done():
		rc.SetWriteDeadline(time.Now()) // the client is gone: nothing more to write
	case <-l.done: // Close set the deadline
	}
	l.detach(v)
	w.Close()
	l.left(v)
	l.serving.Done()
}

// unstreamable says why a capture cannot be streamed live through rw, ""
// if it can: it must flush and take a write deadline (rc's Flush and
// SetWriteDeadline, which it clears), through rw's own methods or those of
// a ResponseWriter it unwraps to. It names what rw lacks.
func unstreamable(rw http.ResponseWriter, rc *http.ResponseController) string {
	flush, deadline := flushes(rw), rc.SetWriteDeadline(time.Time{}) == nil
	switch {
	case flush && deadline:
		return ""
	case flush:
		return cannotStream(rw, "can flush but not set a write deadline",
			"it has no SetWriteDeadline method, nor an Unwrap() http.ResponseWriter method to the server's, and Close could not end the stream of a viewer that stopped reading",
			unwrapFix)
	case deadline:
		return cannotStream(rw, "can set a write deadline but not flush",
			"it has no Flush or FlushError method, nor an Unwrap() http.ResponseWriter method to the server's, and the stream would sit in its buffer",
			unwrapFix)
	}
	return cannotStream(rw, "cannot flush or set a write deadline",
		"a middleware wraps it with no Unwrap() http.ResponseWriter method",
		"add one, or mount the capture outside the middleware")
}

// unwrapFix is what a 500 tells the owner of a wrapper that can do one
// of the two a live stream needs.
const unwrapFix = "give its wrapper an Unwrap method, or mount the capture on a net/http server's own ResponseWriter"

// cannotStream is the line of unstreamable's 500: rw's type and what it
// can and cannot do, why, and the fix.
func cannotStream(rw http.ResponseWriter, can, why, fix string) string {
	return fmt.Sprintf("pcapout.Live: this ResponseWriter (%T) %s, so the capture cannot be streamed live: %s; %s", rw, can, why, fix)
}

// flushes reports whether http.ResponseController can flush rw: rw, or a
// ResponseWriter it unwraps to, has FlushError or Flush.
func flushes(rw http.ResponseWriter) bool {
	for range 64 { // a chain of wrappers, not a cycle
		switch t := rw.(type) {
		case interface{ FlushError() error }, http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			rw = t.Unwrap()
		default:
			return false
		}
	}
	return false
}

// max returns how many viewers l serves at once at most.
func (l *Live) max() int {
	if l.MaxViewers > 0 {
		return l.MaxViewers
	}
	return DefaultMaxViewers
}

// take takes a viewer's place for a GET, unless every place is taken:
// it returns then how many viewers there are.
func (l *Live) take() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.viewers) + len(l.leaving) + l.coming
	if n >= l.max() {
		return n, false
	}
	l.coming++
	return n, true
}

// room is take for a HEAD, which takes no place: it reports whether a GET
// now would have one, and how many viewers there are.
func (l *Live) room() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.viewers) + len(l.leaving) + l.coming
	return n, n < l.max()
}

// untake gives back a place take took, for a GET that is no viewer.
func (l *Live) untake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.coming--
}

// attach makes v a viewer, in the place take took, joined to every
// connection open, unless Close came first.
func (l *Live) attach(v *viewer) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.coming--
	if l.closed {
		return false
	}
	l.serving.Add(1)
	l.viewers = append(l.viewers, v)
	for c := range l.conns {
		c.join(v)
	}
	return true
}

// left forgets v, whose writer has closed: what it dropped moves to gone
// under mu, and the ends it lost to goneEnd, so that Dropped and EndsLost
// never go back.
func (l *Live) left(v *viewer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leaving = slices.DeleteFunc(l.leaving, func(x *viewer) bool { return x == v })
	l.gone.Add(v.w.Dropped())
	l.goneEnd.Add(v.w.EndsLost())
}

// detach takes v from the viewers, to those leaving, and from every
// connection open.
func (l *Live) detach(v *viewer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.viewers = slices.DeleteFunc(l.viewers, func(x *viewer) bool { return x == v })
	l.leaving = append(l.leaving, v)
	for c := range l.conns {
		c.leave(v)
	}
}

// Conn returns the recorder of a new connection between client and
// server: written with its handshake to each viewer now, and joined
// mid-way by those that come later. With it, a Live is a tap.Recorder.
func (l *Live) Conn(client, server string, at time.Time) tap.ConnRecorder {
	return l.ConnOver(client, server, "", at)
}

// ConnOver is Conn of a connection over transport, as
// live.SessionInfo.Transport names it ("" for TCP): each viewer's
// capture writes it under an interface of that transport's, which muxtop
// read gives its session, so that its words are the tap's. With it, a
// Live is a tap.TransportRecorder.
func (l *Live) ConnOver(client, server, transport string, at time.Time) tap.ConnRecorder {
	return l.ConnTold(client, server, transport, tap.Told{}, at)
}

// ConnTold is ConnOver of a connection whose tap was told told: each
// viewer's capture writes it under an interface whose comment says so,
// from which muxtop read decodes it as the tap did (Writer.ConnTold).
// With it, a Live is a tap.ToldRecorder.
func (l *Live) ConnTold(client, server, transport string, told tap.Told, at time.Time) tap.ConnRecorder {
	c := &liveConn{l: l, ends: l.made.endpoints(client, server), key: keyOf(transport, told)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return c // no viewer will come
	}
	l.conns[c] = struct{}{}
	if len(l.viewers) > 0 {
		vs := make([]view, 0, len(l.viewers))
		for _, v := range l.viewers {
			vs = append(vs, view{v, v.w.open(c.ends, c.key, opened, at, &c.writes)})
		}
		c.views.Store(&vs)
	}
	return c
}

// forget drops c from the connections open: it has ended.
func (l *Live) forget(c *liveConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// liveConn records one connection for every viewer of a Live.
type liveConn struct {
	l    *Live
	ends [2]netip.AddrPort
	key  ifaceKey // its transport and what its tap was told
	// views is the connection's recorder in each viewer's Writer: nil
	// with no viewer. Write reads it with no lock; it is replaced whole,
	// under mu, as viewers come and go.
	views atomic.Pointer[[]view]
	mu    sync.Mutex // guards ended and reset, and orders End and Reset with the views' changes
	ended [2]bool
	reset bool
	// writes counts the tap's writes begun and returned
	// (WriteStarted), which each viewer's Writer samples: a viewer
	// that joins while one waits sees it waiting.
	writes [2]atomic.Uint64
}

// view is a connection's recorder in one viewer's Writer.
type view struct {
	v *viewer
	c *Conn
}

// Write records that p passed in direction dir at time at, for each
// viewer, which copies it; with none, it does nothing.
func (c *liveConn) Write(dir live.Dir, at time.Time, p []byte) {
	vs := c.views.Load()
	if vs == nil {
		return
	}
	for _, x := range *vs {
		x.c.Write(dir, at, p)
	}
}

// WriteStarted records that a write of direction dir's bytes begins,
// WriteDone that it returned (tap.HeldRecorder): every viewer's capture
// shows a write that waits as its receiver's zero window
// (Conn.WriteStarted).
func (c *liveConn) WriteStarted(dir live.Dir) { writeStarted(&c.writes[dir&1]) }

// WriteDone ends what WriteStarted began (Conn.WriteDone).
func (c *liveConn) WriteDone(dir live.Dir, failed bool) { writeDone(&c.writes[dir&1], failed) }

// Unsent records, for each viewer, that the last n bytes recorded in
// direction dir never went out (tap.UnsentRecorder): Conn.Unsent.
func (c *liveConn) Unsent(dir live.Dir, at time.Time, n int64) {
	vs := c.views.Load()
	if vs == nil {
		return
	}
	for _, x := range *vs {
		x.c.Unsent(dir, at, n)
	}
}

// End records that direction dir ended at time at.
func (c *liveConn) End(dir live.Dir, at time.Time) {
	c.mu.Lock()
	if c.ended[dir] || c.reset {
		c.mu.Unlock()
		return // Closed ended it, or the reset did
	}
	c.ended[dir] = true
	if vs := c.views.Load(); vs != nil {
		for _, x := range *vs {
			x.c.End(dir, at)
		}
	}
	over := c.ended[0] && c.ended[1] || c.reset
	c.mu.Unlock()
	if over {
		c.l.forget(c)
	}
}

// Reset records that the sender of direction dir reset the connection.
func (c *liveConn) Reset(dir live.Dir, at time.Time) {
	c.mu.Lock()
	c.reset = true
	if vs := c.views.Load(); vs != nil {
		for _, x := range *vs {
			x.c.Reset(dir, at)
		}
	}
	c.mu.Unlock()
	c.l.forget(c)
}

// Closed records that the tap closed the connection at time at, its end
// the sender of direction dir (tap.ClosingRecorder): each viewer's
// recording ends both ways, dir first, and the connection is forgotten.
func (c *liveConn) Closed(dir live.Dir, at time.Time) {
	c.mu.Lock()
	if !c.reset && !(c.ended[0] && c.ended[1]) {
		c.ended = [2]bool{true, true}
		if vs := c.views.Load(); vs != nil {
			for _, x := range *vs {
				x.c.Closed(dir, at)
			}
		}
	}
	c.mu.Unlock()
	c.l.forget(c)
}

// join adds v's recorder of the connection, begun as one the capture
// joined mid-way. Live.mu is held.
func (c *liveConn) join(v *viewer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reset || c.ended[0] && c.ended[1] {
		return
	}
	j := v.w.joinedEnded(c.ends, c.key, c.ended, &c.writes)
	var vs []view
	if old := c.views.Load(); old != nil {
		vs = slices.Clone(*old)
	}
	vs = append(vs, view{v, j})
	c.views.Store(&vs)
}

// leave takes v's recorder from the connection. Live.mu is held.
func (c *liveConn) leave(v *viewer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.views.Load()
	if old == nil {
		return
	}
	vs := slices.DeleteFunc(slices.Clone(*old), func(x view) bool { return x.v == v })
	if len(vs) == 0 {
		c.views.Store(nil)
		return
	}
	c.views.Store(&vs)
}

// flushed writes a viewer's stream to its response and flushes it at
// once: the Writer writes only what it means to send now.
type flushed struct {
	rw io.Writer
	rc *http.ResponseController
}

// Write writes p to the response and flushes it; an error of either ends
// the stream.
func (f *flushed) Write(p []byte) (int, error) {
	n, err := f.rw.Write(p)
	if err != nil {
		return n, err
	}
	// ServeHTTP streams only where it flushes: ErrNotSupported too ends
	// the stream, rather than buffer it silently.
	if err := f.rc.Flush(); err != nil {
		return n, err
	}
	return n, nil
}
