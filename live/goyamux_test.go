package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// The frames below are those github.com/libp2p/go-yamux/v5 v5.1.0 sends,
// built by hand (muxtop's tests do not import it); each cites its source.

// goYamux records hand-written yamux frames at given times.
type goYamux struct {
	s   *live.Session
	off [2]int64
}

func (y *goYamux) rec(at time.Time, dir live.Dir, t yamux.Type, flags yamux.Flags, sid, length uint32) {
	f := &yamux.Frame{Offset: y.off[dir], Header: yamux.MakeHeader(t, flags, sid, length)}
	y.off[dir] += f.Size()
	y.s.RecordYamux(dir, at, f)
}

// pings records a ping of each side at at, answered a millisecond later.
func (y *goYamux) pings(at time.Time, id uint32) {
	ms := time.Millisecond
	y.rec(at, c2s, yamux.Ping, yamux.SYN, 0, id)
	y.rec(at, s2c, yamux.Ping, yamux.SYN, 0, id)
	y.rec(at.Add(ms), s2c, yamux.Ping, yamux.ACK, 0, id)
	y.rec(at.Add(ms), c2s, yamux.Ping, yamux.ACK, 0, id)
}

// TestGoYamuxStartPing: go-yamux pings at once when a session starts, to
// measure the round trip (session.go:162 starts startMeasureRTT, whose
// first measureRTT pings before its ticker, session.go:368), then every
// MeasureRTTInterval (30 s) and on KeepAliveInterval (30 s) of receiving
// nothing (session.go:449, extendKeepalive at session.go:734). That first
// ping is no keepalive cadence: a session idle after it is healthy until
// the next pings are due, and is silent only 1.5 intervals after the
// pings have shown their cadence.
func TestGoYamuxStartPing(t *testing.T) {
	reg := live.New(live.Config{})
	y := &goYamux{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	y.pings(sec(0.0005), 0) // both sides' RTT ping, within the first millisecond
	for _, at := range []float64{2, 10, 29} {
		for _, f := range openFindings(reg, sec(at), live.FindingsConfig{}) {
			t.Errorf("idle %v s after go-yamux's start ping: %s %v: %s", at, f.Code, f.Dir, f.Text)
		}
	}
	y.pings(sec(30), 1) // the next, MeasureRTTInterval later
	for _, f := range openFindings(reg, sec(60), live.FindingsConfig{}) {
		t.Errorf("idle 30 s after the second ping, cadence 30 s: %s %v: %s", f.Code, f.Dir, f.Text)
	}
	// Only the client pings on: the server is silent for 1.5 intervals.
	y.rec(sec(60), c2s, yamux.Ping, yamux.SYN, 0, 2)
	y.rec(sec(60.001), s2c, yamux.Ping, yamux.ACK, 0, 2)
	y.rec(sec(90), c2s, yamux.Ping, yamux.SYN, 0, 3)
	y.rec(sec(90.001), s2c, yamux.Ping, yamux.ACK, 0, 3)
	y.rec(sec(120), c2s, yamux.Ping, yamux.SYN, 0, 4)
	y.rec(sec(120.001), s2c, yamux.Ping, yamux.ACK, 0, 4)
	fs := openFindings(reg, sec(135.5), live.FindingsConfig{})
	if f := fs[live.CodeKeepalive]; f != nil {
		t.Errorf("the server answers every ping: %s %v: %s", f.Code, f.Dir, f.Text)
	}
	y.rec(sec(150), c2s, yamux.Ping, yamux.SYN, 0, 5) // unanswered: the server froze after 120.001
	fs = openFindings(reg, sec(165.1), live.FindingsConfig{})
	if f := fs[live.CodeKeepalive]; f == nil || f.Dir != s2c {
		t.Errorf("server silent 45 s after a 30 s cadence: no KEEPALIVE for s2c: %+v", fs)
	}
}

// TestYamuxFirstPingUnanswered: a side frozen from the session's start
// never answers the other's first ping. The time to that ping stands for
// the cadence: an interval in for hashicorp's keepalive, at once for
// go-yamux's round-trip ping (session.go:368), and the frozen side is
// KEEPALIVE after 1.5 times it, and 1 s more at the least; the pinging
// side, waiting for the answer, is not.
func TestYamuxFirstPingUnanswered(t *testing.T) {
	for _, first := range []float64{0.0005, 1} {
		reg := live.New(live.Config{})
		y := &goYamux{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
		y.rec(sec(first), c2s, yamux.Ping, yamux.SYN, 0, 0)
		limit := live.SilenceLimit(time.Duration(first * float64(time.Second)))
		fs := openFindings(reg, sec(0).Add(limit-50*time.Millisecond), live.FindingsConfig{})
		if len(fs) != 0 {
			t.Errorf("first ping at %v s: before the limit: %v", first, fs)
		}
		fs = openFindings(reg, sec(0).Add(limit+50*time.Millisecond), live.FindingsConfig{})
		if f := fs[live.CodeKeepalive]; f == nil || f.Dir != s2c || len(fs) != 1 {
			t.Errorf("first ping at %v s, unanswered: want KEEPALIVE for s2c alone, got %v", first, fs)
		}
	}
}

// TestGoYamuxResetCode: go-yamux's ResetWithError sends its error code in
// the length of a WINDOW_UPDATE with RST (stream.go:257; the receiver
// reads it as the code, stream.go:436-437). It is no window delta: the
// stream's flows keep what its data and updates made them.
func TestGoYamuxResetCode(t *testing.T) {
	reg := live.New(live.Config{})
	y := &goYamux{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	y.rec(t0, c2s, yamux.WindowUpdate, yamux.SYN, 1, 0) // OpenStream: stream.go:243, delta 0 at the default window
	y.rec(t0, c2s, yamux.Data, 0, 1, 4)
	y.rec(t0, s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)  // AcceptStream: session.go:269
	y.rec(t0, s2c, yamux.WindowUpdate, yamux.RST, 1, 42) // ResetWithError(42)
	y.rec(t0, c2s, yamux.WindowUpdate, yamux.SYN, 3, 0)
	y.rec(t0, s2c, yamux.WindowUpdate, yamux.ACK, 3, 0)
	y.rec(t0, s2c, yamux.Data, 0, 3, 8)
	y.rec(t0, c2s, yamux.WindowUpdate, yamux.RST, 3, 7) // the opener's ResetWithError(7)
	ss := reg.Snapshot().Sessions[0]
	for _, c := range []struct {
		sid      uint32
		dir      live.Dir
		inFlight int64
	}{{1, c2s, 4}, {1, s2c, 0}, {3, c2s, 0}, {3, s2c, 8}} {
		st := ss.Stream(c.sid)
		if st.State != live.StreamReset {
			t.Errorf("stream %d: %v, want reset", c.sid, st.State)
		}
		if fl := st.Flow[c.dir]; fl.InFlight() != c.inFlight || fl.Window() != yamux.InitialWindow {
			t.Errorf("stream %d %v: %d/%d in flight, want %d/%d: the RST's code is no delta", c.sid, c.dir, fl.InFlight(), fl.Window(), c.inFlight, yamux.InitialWindow)
		}
	}
	if ss.AnomalyCount != 0 {
		t.Errorf("anomalies %v", ss.Anomalies)
	}
}

// TestGoYamuxWindowGrowth: go-yamux grows a stream's receive window past
// its start, up to MaxStreamWindowSize (16 MiB), on an ordinary update
// (stream.go:226-240: a reader that reads within 4 round trips doubles
// it), so a delta can return more than was ever written. The excess is
// window growth: in-flight never shows negative ("consumed>sent", which
// no yamux has), and the writer's free window stays exact.
func TestGoYamuxWindowGrowth(t *testing.T) {
	reg := live.New(live.Config{})
	y := &goYamux{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	const frame = 64*1024 - 12 // MaxMessageSize − headerSize: stream.go:181
	y.rec(t0, c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
	y.rec(t0, s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
	for range 3 {
		y.rec(t0, c2s, yamux.Data, 0, 1, frame)
	}
	// The reader has read 128 KiB of the 196 572 bytes received; the
	// window doubles to 512 KiB: GrowTo (util.go:95) returns 512 KiB less
	// the 64 KiB free and the 64 KiB buffered (cap+len).
	const delta = 512*1024 - (256*1024 - 3*frame) - (3*frame - 128*1024)
	y.rec(t0, s2c, yamux.WindowUpdate, 0, 1, delta)
	fl := reg.Snapshot().Sessions[0].Stream(1).Flow[c2s]
	free := int64(fl.Window()) - fl.InFlight()
	if fl.InFlight() < 0 || free != 256*1024+delta-3*frame || fl.Window() > 512*1024 {
		t.Errorf("after a growing update: %d/%d in flight, %d free; want in flight ≥ 0, window ≤ 512 KiB, free %d",
			fl.InFlight(), fl.Window(), free, 256*1024+delta-3*frame)
	}
	// The writer uses the whole window: no WINDOW_EXCEEDED.
	for range free / frame {
		y.rec(t0, c2s, yamux.Data, 0, 1, frame)
	}
	y.rec(t0, c2s, yamux.Data, 0, 1, uint32(free%frame))
	if ss := reg.Snapshot().Sessions[0]; ss.AnomalyCount != 0 {
		t.Errorf("anomalies %v", ss.Anomalies)
	}
}

// TestGoYamuxGoAwayNormal: libp2p's go-yamux ends its session when it
// receives a GoAway, normal or not (session.go:832-833 returns
// ErrRemoteGoAway from the receive loop, which closes the session; its
// OpenStream then fails with "remote sent go away, code: 0"), where
// hashicorp's goes on refusing new streams. A GO_AWAY finding seen before
// such a session ends says so, not only what hashicorp does.
func TestGoYamuxGoAwayNormal(t *testing.T) {
	reg := live.New(live.Config{})
	y := &goYamux{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	y.pings(sec(0.0005), 0)
	y.rec(sec(0.2), s2c, yamux.GoAway, 0, 0, yamux.GoAwayNormal) // Session.GoAway: session.go:345
	f := openFindings(reg, sec(0.25), live.FindingsConfig{})[live.CodeGoAway]
	if f == nil || !strings.Contains(f.Text, "go-yamux, it ends the session") {
		t.Errorf("GO_AWAY (normal) does not say that go-yamux ends the session: %+v", f)
	}
	y.s.End(sec(0.2006), live.EOF, nil) // the client's go-yamux closed the connection
	if fs := openFindings(reg, sec(0.3), live.FindingsConfig{}); len(fs) != 0 {
		t.Errorf("open after the session ended: %v", fs)
	}
}

// TestGoYamuxReactions: where libp2p's go-yamux does otherwise than
// hashicorp's with an anomaly, the reaction says so. A SYN of the wrong
// parity ends its session (session.go:846-848: "both yamux endpoints are
// clients", which hashicorp accepts); a FIN repeated is ignored
// (stream.go:415-431 acts only on a half still open, where hashicorp
// fails with "unexpected flag").
func TestGoYamuxReactions(t *testing.T) {
	for a, want := range map[live.Anomaly]string{
		live.WrongParity: `go-yamux ends the session ("both yamux endpoints are clients")`,
		live.RepeatedFIN: "libp2p's go-yamux ignores it",
	} {
		if got := a.YamuxReaction(); !strings.Contains(got, want) {
			t.Errorf("%v: %q does not say %q", a, got, want)
		}
	}
}

// TestGoYamuxGoAwayCode: libp2p's go-yamux closes a session with the
// application's code in a GoAway (Session.CloseWithError, session.go:293-
// 322; libp2p passes its connection error codes): not one of yamux's own
// three, and no yamux error behind it, so the finding says so rather than
// send the reader to the sender's log for an "[ERR] yamux" line that go-
// yamux never writes there (only the receiver logs it, session.go:839).
func TestGoYamuxGoAwayCode(t *testing.T) {
	reg := live.New(live.Config{})
	y := &goYamux{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	y.pings(sec(0.0005), 0)
	y.rec(sec(0.2), s2c, yamux.GoAway, 0, 0, 4242)
	f := openFindings(reg, sec(0.25), live.FindingsConfig{})[live.CodeGoAway]
	if f == nil || !strings.Contains(f.Text, "code 4242, not one of yamux's own") || strings.Contains(f.Advice, "[ERR]") {
		t.Errorf("GO_AWAY with an application's code: %+v", f)
	}
}
