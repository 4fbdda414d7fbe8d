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

	"github.com/xtaci/smux"
)

// Fault describes one problem the demo can inject, and what muxtop shows
// for it.
type Fault struct {
	// Name is what --fault takes.
	Name string
	// Side is where the fault lives: "server" (the service misbehaves by
	// itself) or "client" (an extra client session, beside the gateway's
	// pool, misbehaves or makes the service misbehave on it).
	Side string
	// Version is the smux version the fault needs, or 0 for either.
	Version int
	// Does says what the fault does; Shows what muxtop should show.
	Does, Shows string
}

// Faults are the faults, in the order --fault list shows them.
var Faults = []Fault{
	{"leak", "server", 0,
		"the service never closes its side of a stream, as the original article's did (the old --leak)",
		"LEAK on every pool session once streams are older than --leak-after: the server never closes its streams"},
	{"stall", "client", 2,
		"an extra session asks for 8 MiB (BULK) and never reads it",
		"WINDOW_STALL on that stream: the server's writer held by a full window for --stall-after, the client not reading"},
	{"hol", "client", 1,
		"an extra session sends data on one stream (SINK) that the service never reads, until smux's 4 MiB session buffer is full",
		"SESSION_BLOCKED on that session after --blocked-after: the server stopped reading, one slow reader holds every stream"},
	{"mismatch", "client", 0,
		"the gateway's first pooled session speaks the other smux version; its request fails (\"invalid protocol\") when the service's first keepalive NOP reaches it, and the gateway replaces it, with backoff, by another that does the same, while the other sessions serve (the fault sets --keepalive 1s unless given; in two processes give the server --keepalive 1s)",
		"VERSION_MISMATCH on each session of that slot when the service's first keepalive NOP comes back (its --keepalive interval), resolved when the gateway replaces it"},
	{"keepalive", "client", 0,
		"an extra session asks the service to freeze it (FRZE): the service stops reading and writing it without closing it",
		"KEEPALIVE after 1.5 keepalive intervals of silence from the server; the session then ends, saying so"},
	{"backlog", "client", 0,
		"an extra session asks the service to stop accepting streams on it (HOLD), then opens 5 streams a second",
		"UNANSWERED after --unanswered-after, once the service's keepalive NOP shows it is alive"},
	{"after-close", "client", 0,
		"an extra session, every 3 s, has the service close a stream unanswered (CLOS), then writes 3 more frames to it",
		"DATA_AFTER_CLOSE on that stream at once"},
	{"protocol", "client", 0,
		"a client sends an HTTP request to the smux port, every time the service's keepalive has closed the last one",
		"PROTOCOL at once: an HTTP request, not smux"},
	{"churn", "client", 0,
		"a client dials a session, makes one request and closes it, 10 times a second",
		"CHURN once --churn sessions opened and ended within 10 s"},
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

// session dials an smux client session of version v, closed when the
// fault stops.
func (r *faultRunner) session(v int) (*smux.Session, bool) {
	sess, _, ok := r.closing(v)
	return sess, ok
}

// closing is session, and returns a func that closes the session at once.
func (r *faultRunner) closing(v int) (*smux.Session, func(), bool) {
	c, ok := r.conn()
	if !ok {
		return nil, nil, false
	}
	cfg, _ := smuxConfig(v)
	withKeepAlive(cfg, r.cfg.keepAlive)
	sess, err := smux.Client(c, cfg)
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
func (r *faultRunner) open(sess *smux.Session, cmd string) (*smux.Stream, error) {
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

// keepalive: have the service freeze a session; when smux's keepalive
// has closed it, freeze the next.
func (r *faultRunner) keepalive() {
	for r.ctx.Err() == nil {
		sess, ok := r.session(r.cfg.version)
		if !ok {
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

// protocol: an HTTP request to the smux port; the next when the service's
// keepalive has closed the connection.
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
