package tap_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// raceConn is a conn whose peer's EOF comes while this end's CloseWrite
// is under way: Read returns io.EOF once eof is closed; CloseWrite says
// it entered, waits for release, then returns fail.
type raceConn struct {
	net.Conn
	eof, entered, release chan struct{}
	fail                  error
}

func newRaceConn(fail error) *raceConn {
	return &raceConn{eof: make(chan struct{}), entered: make(chan struct{}), release: make(chan struct{}), fail: fail}
}

func (f *raceConn) Read(p []byte) (int, error)  { <-f.eof; return 0, io.EOF }
func (f *raceConn) Write(p []byte) (int, error) { return len(p), nil }
func (f *raceConn) Close() error                { return nil }
func (f *raceConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *raceConn) RemoteAddr() net.Addr        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (f *raceConn) CloseWrite() error {
	close(f.entered)
	<-f.release
	return f.fail
}

// closeWriteRacingEOF runs a tapped client end's CloseWrite, its peer's
// EOF read while the call is under way, and returns the registry and
// the call's error.
func closeWriteRacingEOF(t *testing.T, fail error) (*live.Registry, error) {
	f := newRaceConn(fail)
	reg := live.New(live.Config{})
	c := tap.Wrap(f, live.Client, reg, "")
	errc := make(chan error)
	go func() { errc <- c.CloseWrite() }()
	<-f.entered
	close(f.eof)
	if _, err := c.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("read: %v, want EOF", err)
	}
	close(f.release)
	return reg, <-errc
}

// A CloseWrite that fails sent no FIN: a peer's EOF read while it was
// under way half-closes the session, the peer's side closed, and does not
// end it as if both had (a review found "the client … closed first").
func TestCloseWriteFailsWhilePeerCloses(t *testing.T) {
	reg, err := closeWriteRacingEOF(t, errors.New("shutdown: transport endpoint is not connected"))
	if err == nil {
		t.Fatal("CloseWrite did not fail")
	}
	s := reg.Snapshot().Sessions[0]
	if s.Ended {
		t.Errorf("CloseWrite failed (no FIN went out), yet the session ended %v: %q", s.Reason, s.Err)
	}
	recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.SessionHalfClosed }}, nil)
	if len(recs) != 1 || recs[0].Dir != live.ServerToClient {
		t.Errorf("half-close records %v, want one: the server's side closed", recs)
	}
}

// The peer answers this end's FIN with its own before CloseWrite
// returns: the records do not say the client's side is still open, and
// the session ends by EOF, the first being the side whose close came
// first by the times the tap took (here the server's, read before the
// call returned). Before, the peer's half-close said "the client's side
// is still open" beside the end's "the client … closed first" (a review
// found it).
func TestCloseWriteRacingPeerFINRecords(t *testing.T) {
	reg, err := closeWriteRacingEOF(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool {
		return r.Kind == live.SessionHalfClosed || r.Kind == live.SessionEnded
	}}, nil)
	for _, r := range recs {
		if strings.Contains(r.Detail, "still open") {
			t.Errorf("%v %q beside this end's own FIN", r.Kind, r.Detail)
		}
	}
	s := reg.Snapshot().Sessions[0]
	if !s.Ended || s.Reason != live.EOF || s.Err != "the server 127.0.0.1:2 closed first" {
		t.Errorf("ended %v %v %q, want EOF, the server closed first", s.Ended, s.Reason, s.Err)
	}
}
