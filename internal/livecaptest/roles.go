package livecaptest

import (
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// Roles starts a session of m over loopback TCP whose ends run the roles
// asked: the end that dialed runs m's Client if dialerClient, else its
// Server, and the end that accepted its Client if acceptorClient, else its
// Server. A reverse agent dials out and runs the mux's server role, its
// far side the client role that opens the streams (dialerClient false,
// acceptorClient true); two Clients (both true) open streams of the same
// parity, which no correct pair does. wrap, if not nil, wraps the dialer's
// conn before its mux gets it: where a test taps. Each end echoes every
// stream it accepts, each in a goroutine of its own, until its peer
// closes it. Both sessions close when the test ends.
func Roles(t testing.TB, m Mux, wrap func(net.Conn) net.Conn, dialerClient, acceptorClient bool) (dialer, acceptor smuxtest.Session) {
	t.Helper()
	dc, ac := smuxtest.Conns(t)
	if wrap != nil {
		dc = wrap(dc)
	}
	start := func(c net.Conn, client bool) smuxtest.Session {
		t.Helper()
		start := m.M.Server
		if client {
			start = m.M.Client
		}
		s, err := start(c) // neither library waits for its peer here
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dialer, acceptor = start(dc, dialerClient), start(ac, acceptorClient)
	t.Cleanup(func() { dialer.Close(); acceptor.Close() })
	for _, s := range []smuxtest.Session{dialer, acceptor} {
		go func() { // ends with the session
			for {
				st, err := s.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					io.Copy(st, st)
					st.Close()
				}()
			}
		}()
	}
	return dialer, acceptor
}

// NoStreams waits until every session in ss has forgotten all its
// streams: both ends closed them, and the library removed them.
func NoStreams(t testing.TB, ss ...smuxtest.Session) {
	t.Helper()
	for i, s := range ss {
		n, ok := s.(interface{ NumStreams() int })
		if !ok {
			t.Fatalf("session %d (%T) has no NumStreams", i, s)
		}
		smuxtest.Eventually(t, fmt.Sprintf("session %d to forget its streams", i), func() bool { return n.NumStreams() == 0 })
	}
}

// ParityScenario is traffic on a session of Roles and the anomalies
// muxtop must name for it, each as Anomaly's words: "WRONG_PARITY ← 5".
type ParityScenario struct {
	Name                         string
	DialerClient, AcceptorClient bool
	Run                          func(t testing.TB, dialer, acceptor smuxtest.Session)
	Want                         func(m Mux) []string
	// Reversed: the session's first SYN comes from the acceptor's side
	// with an odd id, or from the dialer's with an even one
	// (SessionSnap.Reversed).
	Reversed bool
}

// ParityScenarios are the sessions whose stream ids muxtop judges: a
// reverse agent's (the dialer runs the mux's server role) whose acceptor
// opens every stream, and one where both sides open streams, either
// first, none of them an anomaly; and two Clients connected to each
// other, which both open odd ids: the one that opens second reuses the
// first one's id, closed both ways and forgotten by both libraries
// (REUSED_ID), then opens two more, each a WRONG_PARITY, whichever side
// opened first.
func ParityScenarios() []ParityScenario {
	none := func(Mux) []string { return nil }
	twoClients := func(dialerFirst bool) ParityScenario {
		name, second := "two clients, the acceptor first", live.ClientToServer
		if dialerFirst {
			name, second = "two clients, the dialer first", live.ServerToClient
		}
		return ParityScenario{name, true, true,
			func(t testing.TB, dialer, acceptor smuxtest.Session) {
				first, then := acceptor, dialer
				if dialerFirst {
					first, then = dialer, acceptor
				}
				// One round trip, then Close alone: a Close after
				// CloseWrite (Streams) may send smux's second FIN, which
				// could still be on its way as the other end reuses the
				// id, and end the new stream. Each end's last frame for
				// the stream comes before its removal (NoStreams).
				st, err := first.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				RoundTrip(t, st, "first")
				st.Close()
				NoStreams(t, dialer, acceptor)
				Streams(t, then, 3, "then")
			},
			func(m Mux) []string {
				id := uint32(3) // smux's client bumps its counter from 1 before use
				if m.M.Yamux() {
					id = 1
				}
				return []string{AnomalyWords(live.ReusedID, second, id),
					AnomalyWords(live.WrongParity, second, id+2), AnomalyWords(live.WrongParity, second, id+4)}
			}, !dialerFirst}
	}
	return []ParityScenario{
		{"reversed", false, true, func(t testing.TB, dialer, acceptor smuxtest.Session) {
			Streams(t, acceptor, 4, "ping")
		}, none, true},
		{"reversed, both open, the acceptor first", false, true, func(t testing.TB, dialer, acceptor smuxtest.Session) {
			Streams(t, acceptor, 2, "ping")
			Streams(t, dialer, 3, "pong")
			Streams(t, acceptor, 2, "ping")
		}, none, true},
		{"reversed, both open, the dialer first", false, true, func(t testing.TB, dialer, acceptor smuxtest.Session) {
			Streams(t, dialer, 2, "pong")
			Streams(t, acceptor, 3, "ping")
			Streams(t, dialer, 1, "pong")
		}, none, true},
		twoClients(false),
		twoClients(true),
	}
}

// AnomalyWords says an anomaly, its direction and its stream's id, as
// ParityScenario's Want does.
func AnomalyWords(a live.Anomaly, d live.Dir, sid uint32) string {
	return fmt.Sprintf("%v %v %d", a, d, sid)
}

// Anomalies says ss's anomalies as AnomalyWords does.
func Anomalies(ss *live.SessionSnap) []string {
	var got []string
	for _, a := range ss.Anomalies {
		sid := a.Header.StreamID()
		if a.Proto == live.Yamux {
			sid = a.YamuxHeader.StreamID()
		}
		got = append(got, AnomalyWords(a.Anomaly, a.Dir, sid))
	}
	return got
}

// Check checks the one session of snap, a registry's or a capture's read
// of sc run on m: exactly sc's anomalies, in order, and no framing
// violation.
func (sc ParityScenario) Check(t testing.TB, m Mux, snap *live.Snapshot) {
	t.Helper()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	ss := snap.Sessions[0]
	got, want := Anomalies(ss), sc.Want(m)
	if !slices.Equal(got, want) || ss.AnomalyCount != uint64(len(want)) {
		t.Errorf("anomalies %q (%d), want %q", got, ss.AnomalyCount, want)
	}
	if len(ss.Framing) != 0 {
		t.Errorf("violations: %+v", ss.Framing)
	}
	if ss.Reversed != sc.Reversed {
		t.Errorf("mux roles reversed %v, want %v", ss.Reversed, sc.Reversed)
	}
}
