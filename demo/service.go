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
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"
)

// Command is the request the service exists for: the 4 bytes a client
// writes on a fresh stream to get one random number back.
const Command = "RAND"

// The commands the faults use (see Faults): each makes the service
// misbehave in one way, on the stream or the session that asks.
const (
	// CommandBulk asks for BulkSize bytes; the service writes them with no
	// deadline, so a client that does not read holds its writer.
	CommandBulk = "BULK"
	// CommandSink makes the service read nothing more of the stream, and
	// never close it: whatever the client sends fills the session's
	// receive buffer.
	CommandSink = "SINK"
	// CommandClose makes the service close the stream at once, unanswered.
	CommandClose = "CLOS"
	// CommandHold is answered like RAND, after which the service accepts no
	// more streams on the session.
	CommandHold = "HOLD"
	// CommandFreeze freezes the session: the service stops reading and
	// writing its connection without closing it.
	CommandFreeze = "FRZE"
	// CommandGoAway makes the service send yamux's GoAway on the session
	// (it accepts no more streams there) and close the stream; the session
	// goes on. An smux service has no GoAway: it closes the stream.
	CommandGoAway = "GOAW"
	// CommandCloseWait is answered like RAND, after which the service
	// closes the stream and holds the session's connection as an smux
	// server with keepalive off, whose accept loop returns without Close,
	// does: it writes nothing more on it (no keepalive NOP) and does not
	// close it when the client leaves, until Serve stops.
	CommandCloseWait = "CWAI"
)

// BulkSize is how many bytes CommandBulk sends.
const BulkSize = 8 << 20

// DefaultTimeout is the Timeout of a config that leaves it at zero. The
// gateway gives each dial this long, and each request as a whole (waiting
// for a session, opening the stream, writing, reading); the service gives
// each stream this long to send its command and take the answer.
const DefaultTimeout = 2 * time.Second

// ServiceConfig configures the random-number service run by Serve.
// The zero value is ready to use.
type ServiceConfig struct {
	// Protocol is what the sessions speak: Smux (the zero value) or Yamux.
	Protocol Protocol

	// Version is the smux protocol version, 1 or 2; 0 means 1.
	Version int

	// Leak keeps the behaviour of the article the example comes from: after
	// answering, the service never closes its side of the stream, so every
	// request leaves a half-closed stream behind in the server's session.
	// Streams that fail (bad command, timeout) are closed all the same.
	Leak bool

	// Timeout is how long a stream may take to send its command and to take
	// the answer; 0 means DefaultTimeout. It keeps a silent client from
	// pinning a goroutine.
	Timeout time.Duration

	// Rand returns the number sent for each request; nil means
	// math/rand/v2's Uint64. It is called from many goroutines at once.
	Rand func() uint64

	// KeepAlive is smux's KeepAliveInterval, with a KeepAliveTimeout three
	// times as long; 0 means smux's defaults, 10 s and 30 s.
	KeepAlive time.Duration

	// Logger receives warnings (unknown commands, timeouts) and session
	// events; nil discards them. The service never writes to stdout.
	Logger *slog.Logger
}

// Serve runs the random-number service on ln: each accepted connection
// becomes an smux (or yamux) server session, each stream of it one request.
//
// ln may be any listener, which is how muxtop taps the service: wrap the
// listener and every session's bytes pass through the wrapper.
//
// Serve returns when ctx is done (nil) or when ln fails (the error). Either
// way it first closes ln and every session and waits for all of its
// goroutines.
func Serve(ctx context.Context, ln net.Listener, cfg ServiceConfig) error {
	mux, err := newMuxConfig(cfg.Protocol, cfg.Version, cfg.KeepAlive)
	if err != nil {
		ln.Close()
		return err
	}
	s := &service{
		cfg:      cfg,
		mux:      mux,
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		rand:     cfg.Rand,
		log:      orDiscard(cfg.Logger),
		sessions: make(map[muxSession]struct{}),
	}
	if s.rand == nil {
		s.rand = rand.Uint64
	}

	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	for {
		conn, err := ln.Accept()
		if err != nil {
			ln.Close()
			s.closeSessions()
			s.wg.Wait()
			s.mu.Lock()
			for _, fc := range s.held {
				fc.Conn.Close() // what the session's Close left open
			}
			s.mu.Unlock()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("demo: service on %s stopped: %w", ln.Addr(), err)
		}
		fc := newFreezeConn(conn)
		sess, err := s.mux.server(fc)
		if err != nil { // unreachable: the config was verified above
			conn.Close()
			continue
		}
		s.track(sess)
		s.wg.Go(func() { s.serveSession(sess, fc) })
	}
}

// service is the state of one Serve call.
type service struct {
	cfg     ServiceConfig
	mux     *muxConfig
	timeout time.Duration
	rand    func() uint64
	log     *slog.Logger

	wg       sync.WaitGroup // session loops and stream handlers
	mu       sync.Mutex
	sessions map[muxSession]struct{}
	held     []*freezeConn // CommandCloseWait's: closed when Serve stops
}

func (s *service) track(sess muxSession) {
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
}

func (s *service) untrack(sess muxSession) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// closeSessions closes every live session; their accept loops and stream
// handlers then return on their own.
func (s *service) closeSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		sess.Close()
	}
}

// serveSession accepts the streams of one session until it ends.
func (s *service) serveSession(sess muxSession, fc *freezeConn) {
	defer s.untrack(sess)
	defer sess.Close()
	// CommandHold cancels hold: the session accepts no more streams.
	hold, stopAccepting := context.WithCancel(context.Background())
	defer stopAccepting()
	for {
		if hold.Err() != nil {
			// CommandHold came while this loop was away (a loaded machine
			// ran the stream's handler, its answer and the client's next
			// SYN first): yamux's accept, finding both the stop and a
			// stream waiting, picks either at random, and would ACK it.
			<-sess.CloseChan()
			return
		}
		st, err := sess.acceptUntil(hold)
		if err != nil {
			switch {
			case errors.Is(err, yamux.ErrInvalidVersion), errors.Is(err, yamux.ErrInvalidMsgType):
				// yamux ended the session at the first frame it could not
				// read (and so it is closed: this comes first).
				s.log.Warn("demo: service session ended: the client does not speak yamux",
					"remote", addrString(sess.RemoteAddr()), "err", err)
			case sess.IsClosed(): // closed by us: Serve is stopping
			case hold.Err() != nil: // CommandHold: yamux's accept gave up before it sent an ACK
				<-sess.CloseChan()
			case errors.Is(err, smux.ErrInvalidProtocol):
				// smux reads nothing more of the session and leaves it to
				// keepalive, which closes it in 1-2 KeepAliveTimeouts (30-60 s by default); so does the
				// service, as most smux servers do, and muxtop shows it.
				s.log.Warn("demo: service session dead: the client does not speak "+s.mux.describe()+"; smux's keepalive will close it",
					"remote", addrString(sess.RemoteAddr()), "err", err)
				<-sess.CloseChan()
			default:
				s.log.Info("demo: service session ended", "remote", addrString(sess.RemoteAddr()), "err", err)
			}
			return
		}
		if hold.Err() != nil {
			// CommandHold: accept no more streams; the one smux just
			// accepted is left as if never accepted (smux's accept sends
			// nothing).
			<-sess.CloseChan()
			return
		}
		s.wg.Go(func() { s.handle(sess, st, fc, stopAccepting) })
	}
}

// handle answers one stream st of session sess, on fc; hold stops the
// session's accepting (CommandHold).
func (s *service) handle(sess muxSession, st muxStream, fc *freezeConn, hold context.CancelFunc) {
	st.SetDeadline(time.Now().Add(s.timeout))

	var cmd [len(Command)]byte
	if _, err := io.ReadFull(st, cmd[:]); err != nil {
		if isTimeout(err) {
			s.log.Warn("demo: service: no command in time, stream closed", "sid", st.ID(), "timeout", s.timeout)
		} else if err != io.ErrClosedPipe { // ErrClosedPipe: the session is going away
			s.log.Warn("demo: service: read command failed, stream closed", "sid", st.ID(), "err", err)
		}
		st.Close()
		return
	}
	switch string(cmd[:]) {
	case Command:
	case CommandHold:
		hold() // before the answer, which the client waits for
	case CommandBulk:
		st.SetDeadline(time.Time{}) // a reader that does not read holds this writer: that is the point
		chunk := make([]byte, 32<<10)
		for sent := 0; sent < BulkSize; sent += len(chunk) {
			if _, err := st.Write(chunk); err != nil {
				break // the session ended
			}
		}
		st.Close()
		return
	case CommandSink:
		<-st.dead() // read nothing more, close nothing: until the session ends
		return
	case CommandClose:
		st.Close()
		return
	case CommandGoAway:
		if err := sess.goAway(); err != nil {
			s.log.Warn("demo: service: GoAway failed", "remote", addrString(sess.RemoteAddr()), "err", err)
		} else {
			s.log.Warn("demo: service: sent GoAway on request (fault goaway): no more streams on this session", "remote", addrString(sess.RemoteAddr()))
		}
		st.Close()
		return
	case CommandCloseWait:
		fc.keepOpen() // before the answer: the client leaves once it has it
		s.mu.Lock()
		s.held = append(s.held, fc)
		s.mu.Unlock()
		var answer [8]byte
		binary.BigEndian.PutUint64(answer[:], s.rand())
		st.Write(answer[:])
		st.Close()
		fc.mute() // no keepalive NOP from now on, as with keepalive off
		s.log.Warn("demo: service: holding the session's connection on request (fault closewait): it will not close it when the client leaves", "remote", addrString(fc.RemoteAddr()))
		return
	case CommandFreeze:
		// The keepalive and blocked faults both ask for it.
		s.log.Warn("demo: service: freezing the session on request (fault keepalive or blocked)", "remote", addrString(fc.RemoteAddr()))
		fc.freeze()
		return
	default:
		s.log.Warn("demo: service: unknown command, stream closed", "sid", st.ID(), "cmd", fmt.Sprintf("%q", cmd[:]))
		st.Close()
		return
	}

	var answer [8]byte
	binary.BigEndian.PutUint64(answer[:], s.rand())
	if _, err := st.Write(answer[:]); err != nil {
		// smux's Write reports io.ErrClosedPipe when the session closes
		// before it confirms the write, though the frame went out: the
		// churn fault's client reads its answer and closes at once, and
		// each was a notice that the answer "failed", beside the record
		// of the answer read. The recording shows what went out.
		if !errors.Is(err, io.ErrClosedPipe) {
			s.log.Warn("demo: service: write answer failed, stream closed", "sid", st.ID(), "err", err)
		}
		st.Close()
		return
	}
	if s.cfg.Leak {
		return // the leak on purpose: no FIN from this side, ever
	}
	st.Close()
}

// withKeepAlive sets c's keepalive interval to d and its timeout to three
// times d, smux's ratio; d <= 0 leaves smux's defaults.
func withKeepAlive(c *smux.Config, d time.Duration) {
	if d > 0 {
		c.KeepAliveInterval, c.KeepAliveTimeout = d, 3*d
	}
}

// freezeConn is a conn the service can freeze: from then on every Read
// and Write waits until the conn is closed, as if the process had hung,
// while the connection stays open.
//
// It can also be held (CommandCloseWait): keepOpen makes its Close leave
// the connection open, and mute makes its Writes go nowhere, so that its
// session's Close and keepalive do what an smux session with keepalive
// off, whose owner never closes it, does on the wire: nothing.
type freezeConn struct {
	net.Conn
	frozen    chan struct{}
	closed    chan struct{}
	freezeOne sync.Once
	closeOne  sync.Once
	held      atomic.Bool
	muted     atomic.Bool
}

func (c *freezeConn) keepOpen() { c.held.Store(true) }
func (c *freezeConn) mute()     { c.muted.Store(true) }

func newFreezeConn(c net.Conn) *freezeConn {
	return &freezeConn{Conn: c, frozen: make(chan struct{}), closed: make(chan struct{})}
}

func (c *freezeConn) freeze() { c.freezeOne.Do(func() { close(c.frozen) }) }

// hang waits, if the conn is frozen, until it is closed, and reports
// whether it was frozen.
func (c *freezeConn) hang() bool {
	select {
	case <-c.frozen:
		<-c.closed
		return true
	default:
		return false
	}
}

func (c *freezeConn) Read(p []byte) (int, error) {
	if c.hang() {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(p)
	if c.hang() { // frozen while reading: what came is never seen
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *freezeConn) Write(p []byte) (int, error) {
	if c.hang() {
		return 0, net.ErrClosed
	}
	if c.muted.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *freezeConn) Close() error {
	c.closeOne.Do(func() { close(c.closed) })
	if c.held.Load() {
		return nil // Serve closes it as it stops
	}
	return c.Conn.Close()
}

// smuxConfig returns smux's default configuration for protocol version v
// (0 meaning 1).
func smuxConfig(v int) (*smux.Config, error) {
	if v == 0 {
		v = 1
	}
	if v != 1 && v != 2 {
		return nil, fmt.Errorf("demo: smux version %d is not supported (use 1 or 2)", v)
	}
	c := smux.DefaultConfig()
	c.Version = v
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
