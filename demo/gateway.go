package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultPool is the number of smux sessions a gateway keeps to the service
// when its config leaves Pool at zero.
const DefaultPool = 10

// A pool slot whose sessions keep failing, whether its dial fails or the
// session it dialled dies before its first answer (as it does through
// attach when the service behind is gone: attach accepts, then hangs up),
// waits before it dials again: redialFirst after the first failure, twice
// as long after each next one, up to GatewayConfig.RedialMax, each wait
// between half and all of that at random, so that the slots do not dial in
// step. A session that answers once resets the count. A service that is
// down then costs a few dials per slot, not thousands a second. A session
// or dial begun before the gateway last reached the service again is left
// over from the outage: its failure is no news, so it neither counts nor
// waits, and the gateway does not say again that it backs off.
const (
	redialFirst      = 250 * time.Millisecond
	DefaultRedialMax = 5 * time.Second
)

// GatewayConfig configures a Gateway.
type GatewayConfig struct {
	// Upstream is the service's address, host:port. Required.
	Upstream string

	// Pool is the number of smux client sessions; 0 means DefaultPool.
	Pool int

	// Protocol is what the sessions speak: Smux (the zero value) or Yamux.
	// It must match the service's.
	Protocol Protocol

	// Version is the smux protocol version, 1 or 2; 0 means 1. It must
	// match the service's.
	Version int

	// Dial opens the connection under each session; nil means a
	// net.Dialer. This is where muxtop taps the gateway: every byte of
	// every session goes through the conn it returns.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Timeout bounds the dial of a session and, separately, the whole of
	// one request (waiting for a session, opening the stream, writing the
	// command, reading the answer); 0 means DefaultTimeout.
	Timeout time.Duration

	// RedialMax is the longest a pool slot waits before it dials again
	// when its sessions keep failing; 0 means DefaultRedialMax.
	RedialMax time.Duration

	// Logger receives session events (dial failures, replacements); nil
	// discards them.
	Logger *slog.Logger

	// KeepAlive is smux's KeepAliveInterval, with a KeepAliveTimeout three
	// times as long; 0 means smux's defaults.
	KeepAlive time.Duration

	// Mismatched, if not 0, is a slot (1 to Pool) whose sessions speak the
	// other smux version, or, when Protocol is Yamux, smux of Version: the
	// fault "mismatch". The service refuses their frames (smux: "invalid
	// protocol"; yamux ends the session), their requests fail, and the slot
	// redials with backoff while the other slots serve.
	Mismatched int
}

// Gateway is the HTTP face of the service: GET /rand opens a stream on one
// of its pooled smux sessions, sends "RAND" and answers the number as
// decimal text.
//
// The pool is a fixed slice of slots, each holding its current session
// under a mutex, picked round-robin through an atomic counter. Round-robin
// spreads streams evenly across the sessions, which is what makes healthy
// sessions look alike on muxtop's screen and lets a leaking or stalled one
// stand out. A checkout pool (a channel of sessions) would serialize the
// requests of each session for nothing: smux sessions are safe for
// concurrent OpenStream.
//
// A session that fails (OpenStream error, closed, any I/O error or timeout
// on one of its streams) is closed and replaced: its slot redials in the
// background, at most one dial per slot at a time, and the request that saw
// the failure answers 502 with a one-line reason.
type Gateway struct {
	upstream string
	mux      *muxConfig
	other    *muxConfig // the config of the Mismatched slot: the other smux version, or smux beside yamux
	mismatch int        // the index of the Mismatched slot, -1 if none
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout  time.Duration
	maxWait  time.Duration // RedialMax
	log      *slog.Logger

	slots []slot
	next  atomic.Uint64
	down  atomic.Bool // a slot is backing off; said once, until a session answers
	// recoveries counts the times a session answered while down: each
	// ended an outage.
	recoveries atomic.Uint64

	ctx    context.Context // cancelled by Close: aborts dials in flight
	cancel context.CancelFunc
	stop   func() bool // unregisters the close-on-ctx hook

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup // dials in flight

	closeOnce sync.Once
}

// slot is one place in the pool.
type slot struct {
	mu       sync.Mutex
	sess     muxSession    // nil while there is none
	answered bool          // sess has answered a request
	dialing  chan struct{} // non-nil while a dial waits or is in flight; closed when it ends
	err      error         // why the last session or dial failed
	failures int           // sessions and dials failed in a row, none answering
	retryAt  time.Time     // when the next dial may start
	dialedAt uint64        // the gateway's recoveries when the current session's, or dial's, dial began
}

// NewGateway returns a gateway for cfg and starts dialling its sessions in
// the background; it fails only on a bad config. Requests made before a
// session is up wait for its dial, within the request's timeout.
//
// The gateway belongs to ctx: when ctx is done it closes itself. Close does
// the same and waits for it.
func NewGateway(ctx context.Context, cfg GatewayConfig) (*Gateway, error) {
	if cfg.Upstream == "" {
		return nil, errors.New("demo: gateway needs the address of the service to connect to")
	}
	if cfg.Pool < 0 {
		return nil, fmt.Errorf("demo: pool size %d is negative (use 1 or more)", cfg.Pool)
	}
	mux, err := newMuxConfig(cfg.Protocol, cfg.Version, cfg.KeepAlive)
	if err != nil {
		return nil, err
	}
	n := cfg.Pool
	if n == 0 {
		n = DefaultPool
	}
	if cfg.Mismatched < 0 || cfg.Mismatched > n {
		return nil, fmt.Errorf("demo: mismatched slot %d is not one of the pool's 1 to %d", cfg.Mismatched, n)
	}
	other := mux
	if mux.smux != nil {
		o := *mux.smux
		o.Version = 3 - o.Version
		other = &muxConfig{proto: Smux, smux: &o}
	} else if other, err = newMuxConfig(Smux, cfg.Version, cfg.KeepAlive); err != nil {
		return nil, err
	}
	g := &Gateway{
		upstream: cfg.Upstream,
		mux:      mux,
		other:    other,
		mismatch: cfg.Mismatched - 1,
		dial:     cfg.Dial,
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		maxWait:  orDefault(cfg.RedialMax, DefaultRedialMax),
		log:      orDiscard(cfg.Logger),
		slots:    make([]slot, n),
	}
	if g.dial == nil {
		g.dial = (&net.Dialer{}).DialContext
	}
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	g.stop = context.AfterFunc(ctx, func() { g.Close() })
	for i := range g.slots {
		s := &g.slots[i]
		s.mu.Lock()
		g.startDialLocked(i)
		s.mu.Unlock()
	}
	return g, nil
}

// ServeHTTP answers GET /rand with one random number from the service, as
// decimal text and a newline. Any failure on the way answers 502 Bad
// Gateway with a one-line reason; other paths get 404, other methods 405.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/rand" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "demo: method "+r.Method+" not allowed (use GET)", http.StatusMethodNotAllowed)
		return
	}
	n, err := g.Rand(r.Context())
	if err != nil {
		http.Error(w, oneLine(err.Error()), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%d\n", n)
}

// Rand asks the service for one number over the next session of the pool.
// It returns within the gateway's timeout, or sooner if ctx ends.
func (g *Gateway) Rand(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()

	i := int((g.next.Add(1) - 1) % uint64(len(g.slots)))
	sess, err := g.session(ctx, i)
	if err != nil {
		return 0, err
	}
	n, err := g.exchange(ctx, sess)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) { // the caller gave up; the session is not to blame
			return 0, fmt.Errorf("demo: request abandoned: %w", err)
		}
		g.replace(i, sess, err)
		return 0, fmt.Errorf("demo: session %d of %d: %w; session replaced", i+1, len(g.slots), err)
	}
	g.answered(i, sess)
	return n, nil
}

// answered notes that sess, of slot i, answered a request: the slot's
// failures are over, and so is the gateway's backoff if it was the last.
func (g *Gateway) answered(i int, sess muxSession) {
	s := &g.slots[i]
	s.mu.Lock()
	if s.sess == sess && !s.answered {
		s.answered, s.failures, s.err = true, 0, nil
	}
	s.mu.Unlock()
	if g.down.CompareAndSwap(true, false) {
		g.recoveries.Add(1)
		g.log.Warn(fmt.Sprintf("demo: gateway reaches the service at %s again", g.upstream))
	}
}

// failedLocked counts a failure of slot i, a dial or a session that never
// answered, sets when it may dial again, and says once that the gateway
// backs off. A failure of a dial begun before the gateway last reached
// the service is left over from the outage: the slot may dial again at
// once, with its count reset. The slot's lock is held.
func (g *Gateway) failedLocked(i int, err error) {
	s := &g.slots[i]
	s.err = err
	if s.dialedAt != g.recoveries.Load() {
		s.failures, s.retryAt = 0, time.Now()
		return
	}
	s.failures++
	wait := min(g.maxWait, redialFirst<<min(s.failures-1, 30))
	wait = wait/2 + rand.N(wait/2+1)
	s.retryAt = time.Now().Add(wait)
	if g.ctx.Err() == nil && g.down.CompareAndSwap(false, true) {
		g.log.Warn(fmt.Sprintf("demo: gateway cannot keep a session to the service at %s; redialling with backoff, at most %v apart",
			g.upstream, g.maxWait), "err", oneLine(err.Error()))
	}
}

// exchange runs one request on a fresh stream of sess. On failure the
// stream is left to the session, which the caller closes, unless ctx was
// cancelled.
func (g *Gateway) exchange(ctx context.Context, sess muxSession) (uint64, error) {
	deadline, _ := ctx.Deadline()
	var st muxStream
	err := bounded(sess, deadline, func() (err error) {
		st, err = sess.OpenStream()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("open stream: %w", g.describe(err))
	}

	st.SetDeadline(deadline)
	// An abandoned request ends its stream's reads and writes now rather
	// than at the deadline.
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Unix(1, 0)) })
	n, err := ask(st)
	stop()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			bounded(sess, deadline, st.Close)
		}
		return 0, g.describe(err)
	}
	bounded(sess, deadline, st.Close)
	return n, nil
}

// ask writes the command on st and reads the answer.
func ask(st muxStream) (uint64, error) {
	if _, err := io.WriteString(st, Command); err != nil {
		return 0, fmt.Errorf("write %s: %w", Command, err)
	}
	var answer [8]byte
	if _, err := io.ReadFull(st, answer[:]); err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	return binary.BigEndian.Uint64(answer[:]), nil
}

// bounded runs f, closing sess if f has not returned by deadline. smux's
// OpenStream and Stream.Close take no deadline (they give up after 30 s);
// a session that cannot send a control frame in our time is stalled, and
// closing it both unblocks f and is the repair.
func bounded(sess muxSession, deadline time.Time, f func() error) error {
	watchdog := time.AfterFunc(time.Until(deadline), func() { sess.Close() })
	defer watchdog.Stop()
	return f()
}

// describe makes the errors of a step say what happened: smux reports a
// deadline as a bare "timeout" and a lost connection as a bare "EOF".
func (g *Gateway) describe(err error) error {
	switch {
	case isTimeout(err):
		return fmt.Errorf("%w after %v", err, g.timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w (closed by the service)", err)
	}
	return err
}

// session returns the live session of slot i, waiting for a dial in flight
// if there is one, within ctx. A slot that waits out its backoff answers
// at once with why its last session or dial failed.
func (g *Gateway) session(ctx context.Context, i int) (muxSession, error) {
	s := &g.slots[i]
	s.mu.Lock()
	if s.sess != nil && !s.sess.IsClosed() {
		sess := s.sess
		s.mu.Unlock()
		return sess, nil
	}
	if s.sess != nil { // closed under us, by keepalive or the other end
		g.log.Info("demo: gateway session closed, redialling", "slot", i+1)
		if !s.answered {
			g.failedLocked(i, fmt.Errorf("demo: session %d of %d to %s closed before it answered", i+1, len(g.slots), g.upstream))
		}
		s.sess = nil
	}
	wait := s.dialing
	if wait == nil {
		if wait = g.startDialLocked(i); wait == nil {
			s.mu.Unlock()
			return nil, errGatewayClosed
		}
	}
	if d := time.Until(s.retryAt); d > 0 && s.err != nil {
		err := fmt.Errorf("%w; redialling in %v", s.err, d.Round(time.Millisecond))
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Unlock()

	select {
	case <-wait:
	case <-ctx.Done():
		return nil, fmt.Errorf("demo: connect to service %s: no session ready in time (%v)", g.upstream, context.Cause(ctx))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.sess != nil:
		return s.sess, nil
	case s.err != nil:
		return nil, s.err
	default: // dialled and already broken by another request
		return nil, fmt.Errorf("demo: session %d of %d to %s broke while connecting", i+1, len(g.slots), g.upstream)
	}
}

var errGatewayClosed = errors.New("demo: gateway closed")

// startDialLocked starts a dial for slot i unless the gateway is closed,
// and returns the channel closed when it ends (nil if none was started).
// The caller holds the slot's lock and has checked that no dial is in
// flight.
func (g *Gateway) startDialLocked(i int) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	done := make(chan struct{})
	g.slots[i].dialing = done
	g.wg.Go(func() { g.redial(i, done) })
	return done
}

// redial waits until slot i may dial again, dials a new session for it
// and closes done when it is over.
func (g *Gateway) redial(i int, done chan struct{}) {
	s := &g.slots[i]
	s.mu.Lock()
	wait := time.Until(s.retryAt)
	s.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-g.ctx.Done():
			t.Stop()
		}
	}
	dialedAt := g.recoveries.Load()
	ctx, cancel := context.WithTimeout(g.ctx, g.timeout)
	var conn net.Conn
	err := ctx.Err()
	if err == nil {
		conn, err = g.dial(ctx, "tcp", g.upstream)
	}
	cancel()
	var sess muxSession
	if err == nil {
		m := g.mux
		if i == g.mismatch {
			m = g.other
		}
		sess, err = m.client(conn)
		if err != nil { // unreachable: the config was verified in NewGateway
			conn.Close()
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess, s.answered, s.dialing, s.dialedAt = sess, false, nil, dialedAt
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			err = &refusedError{g.upstream, err}
		} else {
			err = fmt.Errorf("demo: connect to service: %w", err)
		}
		g.failedLocked(i, err)
	}
	close(done)
}

// replace closes sess, which failed with cause, and redials its slot unless
// that has been done already: at once if sess had answered, after the
// slot's backoff if not.
func (g *Gateway) replace(i int, sess muxSession, cause error) {
	s := &g.slots[i]
	s.mu.Lock()
	if s.sess == sess {
		g.log.Info("demo: gateway session failed, replacing it", "slot", i+1, "err", cause)
		if !s.answered {
			g.failedLocked(i, cause)
		}
		s.sess = nil
		if s.dialing == nil {
			g.startDialLocked(i)
		}
	}
	s.mu.Unlock()
	sess.Close()
}

// Close stops the gateway: no more dials, every session closed. Requests in
// flight fail with 502. Close is safe to call more than once and from many
// goroutines; it returns when the gateway's goroutines have ended.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.stop()
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.cancel()
		g.wg.Wait()
		for i := range g.slots {
			s := &g.slots[i]
			s.mu.Lock()
			if s.sess != nil {
				s.sess.Close()
				s.sess = nil
			}
			s.err = errGatewayClosed
			s.mu.Unlock()
		}
	})
	return nil
}

// oneLine keeps an error on one line, whatever a custom Dial put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// refusedError is a dial of the service at addr that nothing listens at,
// said as what to do about it: the dial's own chain ("dial tcp
// 127.0.0.1:9000: connect: connection refused") says neither.
type refusedError struct {
	addr string
	err  error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("demo: no service listens at %s (connection refused): start muxtop demo server there, or give muxtop demo client --connect the service's address", e.addr)
}

func (e *refusedError) Unwrap() error { return e.err }
