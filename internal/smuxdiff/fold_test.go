package smuxdiff

import (
	"fmt"
	"io"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// TestLateFramesOfFoldedStream: correct smux programs send frames for a
// stream after both of its FINs. A Close after CloseWrite sends a second
// FIN when the peer's FIN is on its way but not yet read, and a v2 reader
// that reads after both FINs sends UPDs. Once muxtop has folded the stream
// into the summary (Config.ClosedStreams), such frames name no tracked
// stream, and smux at the other end discards them: they are not an
// anomaly. The test makes the second FIN come after the fold
// deterministically: the client's session buffer is kept full, so that its
// smux does not read the server's FIN before the client's Close.
func TestLateFramesOfFoldedStream(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, place := range placements {
		for _, v := range []byte{1, 2} {
			t.Run(fmt.Sprintf("%s/v%d", place, v), func(t *testing.T) { lateFrames(t, place, v) })
		}
	}
}

func lateFrames(t *testing.T, place placement, v byte) {
	e := newEnv(t, place, envConfig{live: live.Config{ClosedStreams: 1}, ver: [2]byte{v, v}, healthy: true})
	const buffer = 16384
	var cfg [2]*smux.Config
	for s := range 2 {
		cfg[s] = smuxtest.Config(int(v))
		cfg[s].KeepAliveDisabled = true
	}
	cfg[0].MaxReceiveBuffer, cfg[0].MaxStreamBuffer = buffer, buffer
	sess := e.startSmux(cfg)
	cli, srv := sess[0], sess[1]
	open := func(opener *smux.Session) (*smux.Stream, *smux.Stream) {
		st, err := opener.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		other := srv
		if opener == srv {
			other = cli
		}
		as, err := other.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		return st, as
	}
	c1, s1 := open(cli)
	c2, s2 := open(cli)
	s0, c0 := open(srv)

	// The client half-closes stream 1; the server reads its EOF.
	e.closeStream(c1, c2s, true)
	if b, err := readAll(s1); err != nil || len(b) != 0 {
		t.Fatalf("the server's stream 1: %q %v", b, err)
	}
	// The server fills the client's session buffer on stream 0: the
	// client's smux stops reading the connection.
	if _, err := e.write(s0, s2c, make([]byte, buffer+1000)); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the client to read stream 0's data", func() bool {
		m := e.endModel(0).streams[s0.ID()]
		return m != nil && m.bytes[s2c] == buffer+1000
	})
	// The server closes stream 1 its way too (smux removes it there), and
	// both sides close stream 2: muxtop folds stream 1.
	e.closeStream(s1, s2c, true)
	e.closeStream(c2, c2s, true)
	smuxtest.Eventually(t, "the client's FIN of stream 2 at the server", func() bool {
		m := e.endModel(1).streams[c2.ID()]
		return m != nil && m.fin[c2s] > 0
	})
	e.closeStream(s2, s2c, true)
	smuxtest.Eventually(t, "the server's FINs at the client's socket", func() bool {
		m := e.endModel(1).streams[s1.ID()]
		m2 := e.endModel(1).streams[s2.ID()]
		return m != nil && m.fin[s2c] > 0 && m2 != nil && m2.fin[s2c] > 0
	})
	if place != atClient { // the client's tap sees the server's FINs only when its smux reads them
		smuxtest.Eventually(t, "muxtop to fold stream 1", func() bool { return e.session(e.snapshot()).Stream(c1.ID()) == nil })
	}
	// The client, not having read the server's FIN, closes stream 1: a
	// second FIN.
	e.closeStream(c1, c2s, false)
	smuxtest.Eventually(t, "the client's second FIN of stream 1 at the server", func() bool {
		m := e.endModel(1).streams[c1.ID()]
		return m != nil && m.fin[c2s] == 2
	})
	// The client reads stream 0 again: its smux reads the FINs, and in v2
	// sends UPDs.
	if b, err := io.ReadAll(io.LimitReader(c0, buffer+1000)); err != nil || len(b) != buffer+1000 {
		t.Fatalf("the client's stream 0: %d bytes, %v", len(b), err)
	}
	ss, o := e.settle("late frames", func(ss *live.SessionSnap, o *model, v view) bool { return v.delivered() })
	errs(t, "counts", countDiffs(ss, o))
	errs(t, "streams", streamDiffs(ss, o, 1))
	if m := o.streams[c1.ID()]; m == nil || m.fin[c2s] != 2 || !m.closed() {
		t.Errorf("the wire: stream 1 %+v, want two FINs from the client and one from the server", m)
	}
	if ss.AnomalyCount != 0 {
		t.Errorf("anomalies %v for a correct smux program (stream 1 folded: %v)", ss.Anomalies, ss.Stream(c1.ID()) == nil)
	}
}
