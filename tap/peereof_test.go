package tap

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// wireFINs counts, apart from the tap, the FIN frames in what an end
// wrote: smux frames (8-byte header, cmd 1 = FIN) or yamux ones (12-byte
// header, FIN flag 0x4 on a DATA or WINDOW_UPDATE frame).
func wireFINs(t *testing.T, b []byte, yam bool) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		if yam {
			if len(b) < 12 {
				t.Fatalf("%d bytes left, not a yamux header", len(b))
			}
			typ, flags, length := b[1], binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[8:])
			if flags&0x4 != 0 {
				n++
			}
			b = b[12:]
			if typ == 0 { // DATA carries its length; the others carry none
				b = b[length:]
			}
			continue
		}
		if len(b) < 8 {
			t.Fatalf("%d bytes left, not an smux header", len(b))
		}
		if b[1] == byte(decoder.FIN) {
			n++
		}
		b = b[8+int(binary.LittleEndian.Uint16(b[2:])):]
	}
	return n
}

// An smux client that closes its stream and at once its session (its
// conn's side), as the churn audit's client does: the tapped server reads the
// FIN, then EOF. smux's Session does not close its conn on EOF, and its
// stream's Close still writes a FIN, which goes out. The tap records the
// peer's EOF as a half-close and keeps the session live, so that FIN
// closes the stream both ways (closed, not ended with the session), and
// the session ends when the server closes it, saying the client had
// closed its side before. The recorded FINs are the ones on the wire.
func TestTapPeerEOFIsHalfClose(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run("smux v"+string(rune('0'+v)), func(t *testing.T) { peerLeaves(t, v) })
	}
}

func peerLeaves(t *testing.T, version int) {
	const n = 3
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(version)
	for i := range n {
		cc, sc := smuxtest.Conns(t)
		wire := &smuxtest.RecordingConn{Conn: sc} // what the server wrote, under the tap
		tc := Wrap(wire, live.Server, reg, "svc")
		srv, err := smux.Server(tc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := smux.Client(leaving{cc}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		sst, err := srv.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Close()  // FIN
		cli.Close() // and its conn, at once
		if _, err := io.ReadAll(sst); err != nil {
			t.Fatal(err)
		}
		id := tc.sess.ID()
		// Awaited by its half-close record, the last thing the tap's Read
		// does with the EOF: the direction's end is in the snapshot
		// before it, and a Close in between ends the session first, with
		// no half-close record and nothing of the peer's close.
		smuxtest.Eventually(t, "the client's EOF at the tap", func() bool {
			return recordKinds(reg, id) == "H"
		})
		if ss := sessionSnap(reg, id); ss.Ended {
			t.Fatalf("session %d: ended (%v %q) at the client's EOF, while the server's side is open", i, ss.Reason, ss.Err)
		}
		if err := sst.Close(); err != nil { // the server's FIN, after the client left
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the server's FIN recorded", func() bool {
			return sessionSnap(reg, id).Counts.Frames[live.ServerToClient][decoder.FIN] == 1
		})
		srv.Close() // the application closes it: the session ends here
		ss := sessionSnap(reg, id)
		if !ss.Ended || ss.Reason != live.LocalClose {
			t.Fatalf("session %d: ended %v reason %v, want closed locally", i, ss.Ended, ss.Reason)
		}
		want := "the client " + cc.LocalAddr().String() + " had closed its side of the connection "
		if !strings.HasPrefix(ss.Err, want) || !strings.HasSuffix(ss.Err, " before") {
			t.Errorf("session %d: end's detail %q, want %q... before", i, ss.Err, want)
		}
		if got, fins := ss.Counts.Frames[live.ServerToClient][decoder.FIN], wireFINs(t, wire.Bytes(), false); got != uint64(fins) {
			t.Errorf("session %d: %d server FINs recorded, %d on the wire", i, got, fins)
		}
		kinds := recordKinds(reg, id)
		if h, e := strings.Index(kinds, "H"), strings.Index(kinds, "E"); h < 0 || e < h {
			t.Errorf("session %d: records %q, want a half-close (H) before the end (E)", i, kinds)
		}
	}
	snap := reg.Snapshot()
	var ended uint64
	for _, ss := range snap.Sessions {
		ended += ss.StreamsEnded
	}
	if closed := snap.StreamsTotal - uint64(snap.OpenStreams) - ended; closed != n || ended != 0 {
		t.Errorf("streams closed %d, ended with session %d; want %d, 0: each closed by both FINs", closed, ended, n)
	}
}

// yamux closes its session, and its conn, when its read fails: a tapped
// yamux end whose peer left still ends at once, closed locally, after
// the half-close record, and its end says the peer had closed its side.
// A stream is closed both ways exactly when the server's FIN is on the
// wire.
func TestTapPeerEOFYamuxEndsPromptly(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	wire := &smuxtest.RecordingConn{Conn: sc}
	tc := Wrap(wire, live.Server, reg, "svc")
	cli, srv := smuxtest.YamuxPair(t, leaving{cc}, tc, smuxtest.YamuxConfig(), smuxtest.YamuxConfig())
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	sst, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	cli.Close()
	io.ReadAll(sst)
	sst.Close()
	id := tc.sess.ID()
	smuxtest.Eventually(t, "the yamux server's session to end", func() bool { return sessionSnap(reg, id).Ended })
	ss := sessionSnap(reg, id)
	want := "the client " + cc.LocalAddr().String() + " had closed its side of the connection "
	if ss.Reason != live.LocalClose || !strings.HasPrefix(ss.Err, want) {
		t.Errorf("ended %v %q, want closed locally, %q...", ss.Reason, ss.Err, want)
	}
	if !srv.IsClosed() {
		t.Error("yamux's session is not closed")
	}
	kinds := recordKinds(reg, id)
	if h, e := strings.Index(kinds, "H"), strings.Index(kinds, "E"); h < 0 || e < h {
		t.Errorf("records %q, want a half-close (H) before the end (E)", kinds)
	}
	closed := uint64(0)
	for _, s := range ss.Streams {
		if s.State == live.Closed {
			closed++
		}
	}
	closed += ss.Closed.Streams - ss.Closed.Ended
	if fins := wireFINs(t, wire.Bytes(), true); closed != uint64(fins) {
		t.Errorf("%d streams closed both ways, %d server FINs on the wire", closed, fins)
	}
}

// Both sides closing theirs ends the session by EOF, naming who closed
// first: the peer's EOF, then this end's CloseWrite.
func TestTapPeerEOFThenCloseWrite(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	tc := Wrap(sc, live.Server, reg, "svc")
	cc.(*net.TCPConn).CloseWrite()
	if _, err := tc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %v, want EOF", err)
	}
	id := tc.sess.ID()
	if ss := sessionSnap(reg, id); ss.Ended {
		t.Fatalf("ended (%v %q) at the peer's EOF", ss.Reason, ss.Err)
	}
	time.Sleep(time.Millisecond)
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	ss := sessionSnap(reg, id)
	if want := "the client " + cc.LocalAddr().String() + " closed first"; !ss.Ended || ss.Reason != live.EOF || ss.Err != want {
		t.Errorf("ended %v %v %q, want EOF %q", ss.Ended, ss.Reason, ss.Err, want)
	}
	// One half-close, the peer's: this end's CloseWrite after it ends the
	// session and is no half-close of its own.
	if got := recordKinds(reg, id); got != "HE" {
		t.Errorf("records %q, want the peer's half-close, then the end (HE)", got)
	}
}

// leaving is a client's conn whose Close sends its FIN and no more: the
// client's process goes, its kernel still takes what the server sends
// (a conn closed outright would reset the server's writes after the
// first, which is another test's truth: TestProxyUpstreamWritesToClientThatLeft).
type leaving struct{ net.Conn }

func (c leaving) Close() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// sessionSnap returns the snapshot of session id.
func sessionSnap(reg *live.Registry, id uint64) live.SessionSnap {
	for _, ss := range reg.Snapshot().Sessions {
		if ss.ID == id {
			return *ss
		}
	}
	return live.SessionSnap{}
}

// recordKinds returns session id's half-close (H) and end (E) records, in order.
func recordKinds(reg *live.Registry, id uint64) string {
	recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Session == id }}, nil)
	var b strings.Builder
	for _, r := range recs {
		switch r.Kind {
		case live.SessionHalfClosed:
			b.WriteByte('H')
		case live.SessionEnded:
			b.WriteByte('E')
		}
	}
	return b.String()
}

// This end's CloseWrite first is a half-close too, and the peer's EOF
// after it ends the session, naming this end as the first to close.
func TestTapCloseWriteThenPeerEOF(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	tc := Wrap(sc, live.Server, reg, "svc")
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	id := tc.sess.ID()
	if ss := sessionSnap(reg, id); ss.Ended {
		t.Fatalf("ended (%v %q) at this end's CloseWrite", ss.Reason, ss.Err)
	}
	cc.(*net.TCPConn).CloseWrite()
	if _, err := tc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %v, want EOF", err)
	}
	ss := sessionSnap(reg, id)
	if want := "the server " + sc.LocalAddr().String() + " closed first"; !ss.Ended || ss.Reason != live.EOF || ss.Err != want {
		t.Errorf("ended %v %v %q, want EOF %q", ss.Ended, ss.Reason, ss.Err, want)
	}
	if kinds := recordKinds(reg, id); kinds != "HE" {
		t.Errorf("records %q, want this end's half-close (H), then the end (E)", kinds)
	}
}
