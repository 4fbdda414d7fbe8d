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
	"time"

	"github.com/xtaci/smux"
)

// Command is the only request the service understands: the 4 bytes a
// client writes on a fresh stream to get one random number back.
const Command = "RAND"

// DefaultTimeout is the Timeout of a config that leaves it at zero. The
// gateway gives each dial this long, and each request as a whole (waiting
// for a session, opening the stream, writing, reading); the service gives
// each stream this long to send its command and take the answer.
const DefaultTimeout = 2 * time.Second

// ServiceConfig configures the random-number service run by Serve.
// The zero value is ready to use.
type ServiceConfig struct {
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

	// Logger receives warnings (unknown commands, timeouts) and session
	// events; nil discards them. The service never writes to stdout.
	Logger *slog.Logger
}

// Serve runs the random-number service on ln: each accepted connection
// becomes an smux server session, each stream of it one request.
//
// ln may be any listener, which is how muxtop taps the service: wrap the
// listener and every session's bytes pass through the wrapper.
//
// Serve returns when ctx is done (nil) or when ln fails (the error). Either
// way it first closes ln and every session and waits for all of its
// goroutines.
func Serve(ctx context.Context, ln net.Listener, cfg ServiceConfig) error {
	smuxCfg, err := smuxConfig(cfg.Version)
	if err != nil {
		ln.Close()
		return err
	}
	s := &service{
		cfg:      cfg,
		smux:     smuxCfg,
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		rand:     cfg.Rand,
		log:      orDiscard(cfg.Logger),
		sessions: make(map[*smux.Session]struct{}),
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
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("demo: service on %s stopped: %w", ln.Addr(), err)
		}
		sess, err := smux.Server(conn, s.smux)
		if err != nil { // unreachable: the config was verified above
			conn.Close()
			continue
		}
		s.track(sess)
		s.wg.Go(func() { s.serveSession(sess) })
	}
}

// service is the state of one Serve call.
type service struct {
	cfg     ServiceConfig
	smux    *smux.Config
	timeout time.Duration
	rand    func() uint64
	log     *slog.Logger

	wg       sync.WaitGroup // session loops and stream handlers
	mu       sync.Mutex
	sessions map[*smux.Session]struct{}
}

func (s *service) track(sess *smux.Session) {
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
}

func (s *service) untrack(sess *smux.Session) {
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
func (s *service) serveSession(sess *smux.Session) {
	defer s.untrack(sess)
	defer sess.Close()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			switch {
			case sess.IsClosed(): // closed by us: Serve is stopping
			case errors.Is(err, smux.ErrInvalidProtocol):
				s.log.Warn("demo: service session ended: the client does not speak this smux version",
					"remote", addrString(sess.RemoteAddr()), "version", s.smux.Version, "err", err)
			default:
				s.log.Info("demo: service session ended", "remote", addrString(sess.RemoteAddr()), "err", err)
			}
			return
		}
		s.wg.Go(func() { s.handle(st) })
	}
}

// handle answers one stream.
func (s *service) handle(st *smux.Stream) {
	st.SetDeadline(time.Now().Add(s.timeout))

	var cmd [len(Command)]byte
	if _, err := io.ReadFull(st, cmd[:]); err != nil {
		if errors.Is(err, smux.ErrTimeout) {
			s.log.Warn("demo: service: no command in time, stream closed", "sid", st.ID(), "timeout", s.timeout)
		} else if err != io.ErrClosedPipe { // ErrClosedPipe: the session is going away
			s.log.Warn("demo: service: read command failed, stream closed", "sid", st.ID(), "err", err)
		}
		st.Close()
		return
	}
	if string(cmd[:]) != Command {
		s.log.Warn("demo: service: unknown command, stream closed", "sid", st.ID(), "cmd", fmt.Sprintf("%q", cmd[:]))
		st.Close()
		return
	}

	var answer [8]byte
	binary.BigEndian.PutUint64(answer[:], s.rand())
	if _, err := st.Write(answer[:]); err != nil {
		s.log.Warn("demo: service: write answer failed, stream closed", "sid", st.ID(), "err", err)
		st.Close()
		return
	}
	if s.cfg.Leak {
		return // the leak on purpose: no FIN from this side, ever
	}
	st.Close()
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
