package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// Fault describes one problem the demo can inject, and what muxtop shows
// for it, over smux and over yamux.
type Fault struct {
	// Name is what --fault takes.
	Name string
	// Side is where the fault lives: "server" (the service misbehaves by
	// itself) or "client" (an extra client session, beside the gateway's
	// pool, misbehaves or makes the service misbehave on it).
	Side string
	// Version is the smux version the fault needs, or 0 for either.
	Version int
	// Does says what the fault does over smux; Shows what muxtop should
	// show. Both are empty for a fault smux has no meaning for, and NoSmux
	// then says why.
	Does, Shows, NoSmux string
	// YamuxDoes and YamuxShows are the same over yamux; YamuxDoes empty
	// means Does. YamuxShows is empty for a fault yamux has no meaning for,
	// and NoYamux then says why.
	YamuxDoes, YamuxShows, NoYamux string
}

// For returns what the fault does and shows over protocol p, or, if it
// has no meaning there, why not (does and shows then empty).
func (f Fault) For(p Protocol) (does, shows, whyNot string) {
	if p == Yamux {
		if f.YamuxShows == "" {
			return "", "", f.NoYamux
		}
		if f.YamuxDoes == "" {
			return f.Does, f.YamuxShows, ""
		}
		return f.YamuxDoes, f.YamuxShows, ""
	}
	if f.Shows == "" {
		return "", "", f.NoSmux
	}
	return f.Does, f.Shows, ""
}

// Faults are the faults, in the order --fault list shows them.
var Faults = []Fault{
	{Name: "leak", Side: "server",
		Does:       "the service never closes its side of a stream, as the original article's did (the old --leak)",
		Shows:      "LEAK on every pool session once streams are idle longer than --leak-after: the server never closes its streams",
		YamuxShows: "LEAK on every pool session once streams are idle longer than --leak-after: the server never closes its streams (until the client's StreamCloseTimeout, 5 min, resets them)"},
	{Name: "stall", Side: "client", Version: 2,
		Does:       "an extra session asks for 8 MiB (BULK) and never reads it",
		Shows:      "WINDOW_STALL on that stream: the server's writer held by a full window for --stall-after, the client not reading",
		YamuxShows: "WINDOW_STALL on that stream: the server's writer held by a full 256 KiB yamux window for --stall-after, the client not reading"},
	{Name: "hol", Side: "client", Version: 1,
		Does:  "an extra session sends data on one stream (SINK) that the service never reads, until smux's 4 MiB session buffer is full",
		Shows: "SESSION_BLOCKED on that session after --blocked-after: the server stopped reading, one slow reader holds every stream",
		NoYamux: "yamux has no session-wide receive buffer: an unread stream fills only its own 256 KiB window and holds only its own writer " +
			"(that is --fault stall); a yamux session blocks only when its peer stops reading the connection (--fault blocked)"},
	{Name: "blocked", Side: "client",
		NoSmux: "smux's session-wide block is --fault hol, one unread stream",
		YamuxDoes: "an extra session asks the service to freeze it (FRZE), as a hung process would, then opens up to 64 new streams and writes a " +
			"full 256 KiB window on each: up to 16 MiB, more than the sockets buffer, so its connection write stops",
		YamuxShows: "SESSION_BLOCKED on that session after --blocked-after: the server stopped reading the connection; it names the first stream sent the most"},
	{Name: "mismatch", Side: "client",
		Does:       "the gateway's first pooled session speaks the other smux version; its request fails (\"invalid protocol\") when the service's first keepalive NOP reaches it, and the gateway replaces it, with backoff, by another that does the same, while the other sessions serve (the fault sets --keepalive 1s unless given; in two processes give the server --keepalive 1s)",
		Shows:      "VERSION_MISMATCH on each session of that slot when the service's first keepalive NOP comes back (its --keepalive interval), resolved when the gateway replaces it",
		YamuxDoes:  "the gateway's first pooled session speaks smux (--smux-version) to the yamux service, which ends it at its first frame (\"invalid protocol version\"); the gateway replaces it, with backoff, by another that does the same, while the other sessions serve",
		YamuxShows: "PROTOCOL on each session of that slot at once: the client sent an smux header, not yamux (BAD_VERSION at offset 0); resolved as yamux ends the session (yamux has one version: no VERSION_MISMATCH)"},
	{Name: "keepalive", Side: "client",
		Does:       "an extra session asks the service to freeze it (FRZE), once its --keepalive interval has given the service time to send its first keepalive NOP: the service stops reading and writing it without closing it",
		Shows:      "KEEPALIVE after 1.5 keepalive intervals of silence from the server, and at least 1 s more than one (a server frozen before its first NOP is allowed smux's default interval, 10 s, for its own); the session then ends, saying so",
		YamuxShows: "KEEPALIVE after 1.5 keepalive intervals of silence from the server, and at least 1 s more than one, or 5 s after the client's ping the server has not answered, whichever comes first (the ping, at yamux's default 30 s interval); no LEAK for the stream the frozen server left open; the session ends when the client's ping has had no answer for yamux's ConnectionWriteTimeout (10 s), saying so"},
	{Name: "backlog", Side: "client",
		Does:       "an extra session asks the service to stop accepting streams on it (HOLD), then opens 5 streams a second",
		Shows:      "UNANSWERED after --unanswered-after, once the service's keepalive NOP shows it is alive",
		YamuxShows: "UNANSWERED after --unanswered-after, once the service's keepalive ping shows it is alive: SYNs with no ACK (yamux's AcceptStream sends it)"},
	{Name: "after-close", Side: "client",
		Does:    "an extra session, every 3 s, has the service close a stream unanswered (CLOS), then writes 3 more frames to it",
		Shows:   "DATA_AFTER_CLOSE on that stream at once (with --smux-version 2 half a second later, when no UPD has shown the service reading them)",
		NoYamux: "yamux's Close is a half-close: data written after the peer's FIN still reaches its reader, so nothing is lost and muxtop finds nothing"},
	{Name: "protocol", Side: "client",
		Does:       "a client sends an HTTP request to the smux port, every time the service's keepalive has closed the last one",
		Shows:      "PROTOCOL at once: an HTTP request, not smux",
		YamuxDoes:  "a client sends an HTTP request to the yamux port, which yamux refuses at once by closing the connection; again a second later",
		YamuxShows: "PROTOCOL at once: an HTTP request, not yamux"},
	{Name: "churn", Side: "client",
		Does:       "a client dials a session, makes one request and closes it, 10 times a second",
		Shows:      "CHURN once --churn sessions opened and ended within 10 s",
		YamuxShows: "CHURN once --churn sessions opened and ended within 10 s"},
	{Name: "session-leak", Side: "client",
		Does:       "a client dials a new session every second, makes one request on it and never closes it (smux.Client per request, no Session.Close()); keepalive keeps each abandoned session alive, up to 900 of them, held until the demo stops",
		Shows:      "SESSION_LEAK once --session-leak sessions (10) have piled up through a hold of 12 idle times (60 s): each idle, no stream frame for 5 s (or --leak-after if shorter), dialed while an older one sat idle, and opening no stream after: about 80 s in",
		YamuxDoes:  "a client dials a new session every second, makes one request on it and never closes it (yamux.Client per request, no Session.Close()); keepalive keeps each abandoned session alive, up to 900 of them, held until the demo stops",
		YamuxShows: "SESSION_LEAK once --session-leak sessions (10) have piled up through a hold of 12 idle times (60 s): each idle, no stream frame for 5 s (or --leak-after if shorter), dialed while an older one sat idle, and opening no stream after: about 80 s in"},
	{Name: "closewait", Side: "client",
		Does: "an extra session asks the service to hold it (CWAI): the service answers, closes the stream, and from then on neither writes on the connection nor closes it, " +
			"as an smux server with keepalive off whose accept loop returns without Close does; the client then closes its session, shutting its side of the connection (its FIN), and reads on",
		Shows: "CLOSE_WAIT on that session once --closewait-after (2 min by default: give --closewait-after 5s to see it sooner) has passed since the client's FIN: " +
			"the client closed its side of the connection, and the server has not closed its own nor sent a frame since; it stays open until muxtop stops (unwatched: still holding then)",
		NoYamux: "yamux closes its session, and its conn, when the conn reads EOF: a yamux server never holds a session its client left " +
			"(a capture of another yamux end that does opens CLOSE_WAIT all the same)"},
	{Name: "goaway", Side: "client",
		NoSmux:     "smux has no GoAway",
		YamuxDoes:  "an extra session asks the service to send GoAway on it (GOAW): the service accepts no more streams there, and the session goes on",
		YamuxShows: "GO_AWAY at once on that session: the server sent GoAway (normal), and the client's OpenStream fails with \"remote end is not accepting connections\""},
}

// LookupFault returns the fault called name.
func LookupFault(name string) (Fault, bool) {
	for _, f := range Faults {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}

// FaultNames returns the faults' names, comma-separated.
func FaultNames() string {
	names := make([]string, len(Faults))
	for i, f := range Faults {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// FaultLabel is the label muxtop gives the sessions of a client-side fault.
const FaultLabel = "fault"

// faultConfig configures a faultRunner.
type faultConfig struct {
	name      string
	upstream  string
	proto     Protocol
	version   int
	keepAlive time.Duration
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout   time.Duration
	log       *slog.Logger
}

// faultRunner runs a client-side fault until it is closed.
type faultRunner struct {
	cfg    faultConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startFault starts the client side of fault cfg.name, if it has one.
func startFault(ctx context.Context, cfg faultConfig) *faultRunner {
	f, ok := LookupFault(cfg.name)
	if !ok || f.Side != "client" {
		return nil
	}
	if cfg.dial == nil {
		cfg.dial = (&net.Dialer{}).DialContext
	}
	r := &faultRunner{cfg: cfg}
	run := map[string]func(){
		"stall": r.stall, "hol": r.hol, "keepalive": r.keepalive,
		"backlog": r.backlog, "after-close": r.afterClose, "protocol": r.protocol, "churn": r.churn,
		"session-leak": r.sessionLeak,
		"blocked":      r.blocked, "goaway": r.goAway, "closewait": r.closeWait,
	}[cfg.name]
	if run == nil {
		return nil // it lives in the gateway (mismatch)
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Go(run)
	return r
}

// Close stops the fault and waits for its goroutines; its sessions close.
func (r *faultRunner) Close() {
	if r == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
}

// faultRetry is how long a fault waits after a failed dial to try again.
const faultRetry = 250 * time.Millisecond

// conn dials the service, retrying until ctx ends.
func (r *faultRunner) conn() (net.Conn, bool) {
	for {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.timeout)
		c, err := r.cfg.dial(ctx, "tcp", r.cfg.upstream)
		cancel()
		if err == nil {
			return c, true
		}
		if !r.sleep(faultRetry) {
			return nil, false
		}
	}
}

// session dials a client session of the demo's protocol (smux of
// version v), closed when the fault stops.
func (r *faultRunner) session(v int) (muxSession, bool) {
	sess, _, ok := r.closing(v)
	return sess, ok
}

// closing is session, and returns a func that closes the session at once.
func (r *faultRunner) closing(v int) (muxSession, func(), bool) {
	c, ok := r.conn()
	if !ok {
		return nil, nil, false
	}
	mux, err := newMuxConfig(r.cfg.proto, v, r.cfg.keepAlive)
	if err != nil { // unreachable: Start checked the config
		c.Close()
		return nil, nil, false
	}
	sess, err := mux.client(c)
	if err != nil { // unreachable: the config is valid
		c.Close()
		return nil, nil, false
	}
	stop := context.AfterFunc(r.ctx, func() { sess.Close() })
	return sess, func() { stop(); sess.Close() }, true
}

// sleep waits for d, reporting false if the fault stopped first.
func (r *faultRunner) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// open opens a stream and writes cmd on it.
func (r *faultRunner) open(sess muxSession, cmd string) (muxStream, error) {
	st, err := sess.OpenStream()
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(st, cmd); err != nil {
		return nil, err
	}
	return st, nil
}

func (r *faultRunner) warn(err error) {
	if err != nil && r.ctx.Err() == nil && !errors.Is(err, io.ErrClosedPipe) {
		r.cfg.log.Warn("demo: fault "+r.cfg.name, "err", err)
	}
}

// stall: ask for BulkSize bytes and never read them.
func (r *faultRunner) stall() {
	sess, ok := r.session(r.cfg.version)
	if !ok {
		return
	}
	_, err := r.open(sess, CommandBulk)
	r.warn(err)
	<-r.ctx.Done()
}

// hol: send on a stream the service never reads until the write blocks;
// the session's other requests then wait too.
func (r *faultRunner) hol() {
	sess, ok := r.session(r.cfg.version)
	if !ok {
		return
	}
	st, err := r.open(sess, CommandSink)
	if err != nil {
		r.warn(err)
		return
	}
	r.wg.Go(func() {
		// Requests on the same session, which the blocked one holds up.
		for i := 0; i < 4 && r.sleep(200*time.Millisecond); i++ {
			r.wg.Go(func() {
				if st, err := r.open(sess, Command); err == nil {
					st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
					var answer [8]byte
					io.ReadFull(st, answer[:])
				}
			})
		}
	})
	chunk := make([]byte, 32<<10)
	for sent := 0; sent < 1<<30 && r.ctx.Err() == nil; sent += len(chunk) {
		if _, err := st.Write(chunk); err != nil {
			r.warn(err)
			break
		}
	}
	<-r.ctx.Done()
}

// keepalive: have the service freeze a session; when smux's (or yamux's)
// keepalive has closed it, freeze the next. Each freezes one and a half
// --keepalive intervals in, after the service's first keepalive NOP: a
// server frozen before it has shown no interval of its own, and muxtop
// allows it smux's default (live.BorrowedKeepAlive), which a shorter
// --keepalive would not show.
func (r *faultRunner) keepalive() {
	for r.ctx.Err() == nil {
		sess, ok := r.session(r.cfg.version)
		if !ok {
			return
		}
		if !r.sleep(r.cfg.keepAlive * 3 / 2) {
			sess.Close()
			return
		}
		_, err := r.open(sess, CommandFreeze)
		r.warn(err)
		select {
		case <-sess.CloseChan():
		case <-r.ctx.Done():
			return
		}
	}
}

// backlog: have the service stop accepting, then open streams it never
// accepts.
func (r *faultRunner) backlog() {
	sess, ok := r.session(r.cfg.version)
	if !ok {
		return
	}
	st, err := r.open(sess, CommandHold)
	if err != nil {
		r.warn(err)
		return
	}
	st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
	var answer [8]byte
	if _, err := io.ReadFull(st, answer[:]); err != nil {
		r.warn(fmt.Errorf("HOLD: %w", err))
		return
	}
	st.Close()
	for i := 0; i < 50 && r.sleep(200*time.Millisecond); i++ {
		if _, err := r.open(sess, Command); err != nil {
			r.warn(err)
			return
		}
	}
	<-r.ctx.Done()
}

// afterClose: every 3 s, a stream the service closes unanswered, and
// three more frames written to it after its FIN.
func (r *faultRunner) afterClose() {
	sess, ok := r.session(r.cfg.version)
	if !ok {
		return
	}
	for {
		st, err := r.open(sess, CommandClose)
		if err != nil {
			r.warn(err)
			return
		}
		st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
		if _, err := io.Copy(io.Discard, st); err != nil { // until the service's FIN
			r.warn(err)
		}
		for range 3 {
			io.WriteString(st, "more")
		}
		st.Close()
		if !r.sleep(3 * time.Second) {
			return
		}
	}
}

// protocol: an HTTP request to the service's port; the next a second after
// the service has closed the connection (smux's keepalive, 3 intervals
// later; yamux at once).
func (r *faultRunner) protocol() {
	for {
		c, ok := r.conn()
		if !ok {
			return
		}
		stop := context.AfterFunc(r.ctx, func() { c.Close() })
		io.WriteString(c, "GET /rand HTTP/1.1\r\nHost: demo\r\n\r\n")
		io.Copy(io.Discard, c) // the service's NOPs, until it closes
		c.Close()
		stop()
		if !r.sleep(time.Second) {
			return
		}
	}
}

// churn: a session per request, ten a second.
func (r *faultRunner) churn() {
	for r.sleep(100 * time.Millisecond) {
		sess, closeSession, ok := r.closing(r.cfg.version)
		if !ok {
			return
		}
		if st, err := r.open(sess, Command); err == nil {
			st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
			var answer [8]byte
			io.ReadFull(st, answer[:])
			st.Close()
		}
		closeSession()
	}
}

// sessionLeakMax is how many sessions the fault session-leak abandons
// at most: 15 minutes of them, and no more, so that a demo left running
// does not fall over as a leaking client would.
const sessionLeakMax = 900

// sessionLeak: a session per request, one a second, never closed: each
// stays open, keepalive and all, until the fault stops.
func (r *faultRunner) sessionLeak() {
	for range sessionLeakMax {
		sess, ok := r.session(r.cfg.version)
		if !ok {
			return
		}
		if st, err := r.open(sess, Command); err == nil {
			st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
			var answer [8]byte
			io.ReadFull(st, answer[:])
			st.Close()
		} else {
			r.warn(err)
		}
		if !r.sleep(time.Second) {
			return
		}
	}
	<-r.ctx.Done()
}

// blockedStreams and blockedBytes: the fault "blocked" writes a full
// yamux window on each of that many streams, 16 MiB in all: more than
// loopback's socket buffers take from a writer whose peer reads nothing.
const (
	blockedStreams = 64
	blockedBytes   = 256 << 10
)

// blocked: have the service freeze the session, then write a full window
// on many streams, until the session's connection write stops.
func (r *faultRunner) blocked() {
	sess, ok := r.session(r.cfg.version)
	if !ok {
		return
	}
	if _, err := r.open(sess, CommandFreeze); err != nil {
		r.warn(err)
		return
	}
	// Let the service freeze before the streams come, so that it ACKs none.
	if !r.sleep(200 * time.Millisecond) {
		return
	}
	chunk := make([]byte, blockedBytes)
	for range blockedStreams {
		st, err := sess.OpenStream()
		if err != nil {
			r.warn(err)
			break
		}
		// Each write waits for the session's connection; a stopped one
		// holds it until the session ends (yamux's ConnectionWriteTimeout).
		r.wg.Go(func() { st.Write(chunk) })
	}
	<-r.ctx.Done()
}

// goAway: have the service send GoAway on the session, which goes on.
func (r *faultRunner) goAway() {
	sess, ok := r.session(r.cfg.version)
	if !ok {
		return
	}
	st, err := r.open(sess, CommandGoAway)
	if err != nil {
		r.warn(err)
		return
	}
	st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
	io.Copy(io.Discard, st) // until the service's FIN, after its GoAway
	st.Close()
	<-r.ctx.Done()
}

// closeWait: have the service hold the session (CWAI), then close the
// session's client end, which shuts only the client's side of the
// connection (halfCloser): the tapped conn stays open to read, as the
// client's tap must to see the server's end. smux's reader goes on
// reading it until the server's side closes, when the fault stops.
func (r *faultRunner) closeWait() {
	c, ok := r.conn()
	if !ok {
		return
	}
	stop := context.AfterFunc(r.ctx, func() { c.Close() })
	defer stop()
	mux, err := newMuxConfig(r.cfg.proto, r.cfg.version, r.cfg.keepAlive)
	if err != nil { // unreachable: Start checked the config
		c.Close()
		return
	}
	sess, err := mux.client(halfCloser{c})
	if err != nil {
		c.Close()
		return
	}
	st, err := r.open(sess, CommandCloseWait)
	if err != nil {
		r.warn(err)
		sess.Close()
		return
	}
	st.SetReadDeadline(time.Now().Add(r.cfg.timeout))
	var answer [8]byte
	if _, err := io.ReadFull(st, answer[:]); err != nil {
		r.warn(fmt.Errorf("CWAI: %w", err))
	}
	io.Copy(io.Discard, st) // until the service's FIN
	st.Close()
	sess.Close() // the client leaves: its FIN
	<-r.ctx.Done()
}

// halfCloser is a conn whose Close shuts only its sending side (TCP's
// CloseWrite), where the conn has one: the session's end says goodbye and
// the conn goes on reading what the other side sends, until it is closed
// itself.
type halfCloser struct{ net.Conn }

func (h halfCloser) Close() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return h.Conn.Close()
}
