package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"
)

// Protocol is the multiplexer the demo's sessions speak.
type Protocol uint8

// The protocols. The zero value is smux, the demo's first.
const (
	Smux  Protocol = iota // github.com/xtaci/smux, of Config.Version
	Yamux                 // github.com/hashicorp/yamux
)

// String returns "smux" or "yamux".
func (p Protocol) String() string {
	if p == Yamux {
		return "yamux"
	}
	return "smux"
}

// ParseProtocol parses "smux" or "yamux".
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "smux":
		return Smux, nil
	case "yamux":
		return Yamux, nil
	}
	return 0, fmt.Errorf("demo: protocol %q: use smux or yamux", s)
}

// muxSession is what the demo uses of an smux or a yamux session.
type muxSession interface {
	OpenStream() (muxStream, error)
	AcceptStream() (muxStream, error)
	// acceptUntil is AcceptStream, giving up when stop is done: yamux's
	// AcceptStream sends the stream's ACK, which a session that stopped
	// accepting must not. smux's sends nothing and ignores stop.
	acceptUntil(stop context.Context) (muxStream, error)
	// goAway tells the peer that no more streams are accepted: yamux's
	// GoAway; smux has none.
	goAway() error
	Close() error
	IsClosed() bool
	CloseChan() <-chan struct{}
	RemoteAddr() net.Addr
}

// muxStream is what the demo uses of a stream: a net.Conn with an id, and
// a channel closed when the stream is gone.
type muxStream interface {
	net.Conn
	ID() uint32
	dead() <-chan struct{}
}

// muxConfig makes the sessions of one protocol: smux of a version, or
// yamux, with keepalive every KeepAlive when it is positive.
type muxConfig struct {
	proto Protocol
	smux  *smux.Config
	yamux *yamux.Config
}

// newMuxConfig returns the config of protocol p; version is smux's (0 means 1).
func newMuxConfig(p Protocol, version int, keepAlive time.Duration) (*muxConfig, error) {
	switch p {
	case Smux:
		c, err := smuxConfig(version)
		if err != nil {
			return nil, err
		}
		withKeepAlive(c, keepAlive)
		return &muxConfig{proto: p, smux: c}, nil
	case Yamux:
		c := yamux.DefaultConfig()
		c.LogOutput = io.Discard // yamux logs to stderr by default: never over the UI
		if keepAlive > 0 {
			c.KeepAliveInterval = keepAlive
		}
		return &muxConfig{proto: p, yamux: c}, nil
	}
	return nil, fmt.Errorf("demo: protocol %d is not supported (use smux or yamux)", p)
}

// client starts a client session on c.
func (m *muxConfig) client(c net.Conn) (muxSession, error) {
	if m.proto == Yamux {
		s, err := yamux.Client(c, m.yamux)
		if err != nil {
			return nil, err
		}
		return yamuxSession{s}, nil
	}
	s, err := smux.Client(c, m.smux)
	if err != nil {
		return nil, err
	}
	return smuxSession{s}, nil
}

// server starts a server session on c.
func (m *muxConfig) server(c net.Conn) (muxSession, error) {
	if m.proto == Yamux {
		s, err := yamux.Server(c, m.yamux)
		if err != nil {
			return nil, err
		}
		return yamuxSession{s}, nil
	}
	s, err := smux.Server(c, m.smux)
	if err != nil {
		return nil, err
	}
	return smuxSession{s}, nil
}

// describe names the protocol as the service's messages say it: "smux
// version 2", "yamux".
func (m *muxConfig) describe() string {
	if m.proto == Yamux {
		return "yamux"
	}
	return fmt.Sprintf("smux version %d", m.smux.Version)
}

type smuxSession struct{ *smux.Session }

func (s smuxSession) OpenStream() (muxStream, error) {
	st, err := s.Session.OpenStream()
	if err != nil {
		return nil, err
	}
	return smuxStream{st}, nil
}

func (s smuxSession) AcceptStream() (muxStream, error) {
	st, err := s.Session.AcceptStream()
	if err != nil {
		return nil, err
	}
	return smuxStream{st}, nil
}

func (s smuxSession) acceptUntil(context.Context) (muxStream, error) { return s.AcceptStream() }

func (s smuxSession) goAway() error { return errors.New("demo: smux has no GoAway") }

type smuxStream struct{ *smux.Stream }

func (s smuxStream) dead() <-chan struct{} { return s.GetDieCh() }

type yamuxSession struct{ *yamux.Session }

func (s yamuxSession) OpenStream() (muxStream, error) {
	st, err := s.Session.OpenStream()
	if err != nil {
		return nil, err
	}
	return yamuxStream{st, s.Session}, nil
}

func (s yamuxSession) AcceptStream() (muxStream, error) {
	st, err := s.Session.AcceptStream()
	if err != nil {
		return nil, err
	}
	return yamuxStream{st, s.Session}, nil
}

func (s yamuxSession) acceptUntil(stop context.Context) (muxStream, error) {
	st, err := s.Session.AcceptStreamWithContext(stop)
	if err != nil {
		return nil, err
	}
	return yamuxStream{st, s.Session}, nil
}

func (s yamuxSession) goAway() error { return s.Session.GoAway() }

type yamuxStream struct {
	*yamux.Stream
	sess *yamux.Session
}

func (s yamuxStream) ID() uint32 { return s.StreamID() }

// dead is the session's end: a yamux stream has no channel of its own.
func (s yamuxStream) dead() <-chan struct{} { return s.sess.CloseChan() }

// isTimeout reports whether err is a stream deadline that passed, in
// either library's words.
func isTimeout(err error) bool {
	if errors.Is(err, smux.ErrTimeout) || errors.Is(err, yamux.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
