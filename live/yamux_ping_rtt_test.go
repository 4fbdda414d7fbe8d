package live_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxLeakHoldsAcrossAnsweredPing: a healthy hashicorp/yamux server
// that never closes a stream, tapped at the client 80 ms from the
// server, at yamux's and muxtop's defaults (pings every 30 s, --leak-after
// 30 s, evaluations every 100 ms). Its LEAK opens once and stays open
// across the client's pings, which the server answers a round trip later.
// Before, an evaluation inside the second ping's round trip took the
// server, whose last frame was the first ping's answer, for a side gone
// silent: LEAK resolved ("another condition explains them: a side gone
// silent (KEEPALIVE …)"), though no KEEPALIVE was or would be open, and
// opened again as a new finding 100 ms later.
func TestYamuxLeakHoldsAcrossAnsweredPing(t *testing.T) {
	rec, cli, srv := recordedYamux(t)             // its pings are sent below, at the test's moments
	closeOne(t, cli.OpenStream, srv.AcceptStream) // the stream below is no setup stream
	st := openWriting(t, cli, "x")
	acc, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(acc, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	settle()
	for p := 1; p <= 2; p++ { // the keepalive's pings, answered
		rec.set(func() { rec.phase = p })
		if _, err := cli.Ping(); err != nil {
			t.Fatal(err)
		}
		settle()
	}
	const rtt = 80 * time.Millisecond
	frames := rec.frames(t, []time.Time{sec(5), sec(30), sec(60)})
	for i := range frames {
		if h := frames[i].f.Header; h.Type() == yamux.Ping && h.Flags()&yamux.ACK != 0 {
			frames[i].at = frames[i].at.Add(rtt)
		}
	}
	reg := live.New(live.Config{})
	sess := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
	fcfg := live.FindingsConfig{Churn: -1}
	next := 0
	var leak *live.Finding
	for now := t0; now.Before(sec(70)); now = now.Add(100 * time.Millisecond) {
		for ; next < len(frames) && !frames[next].at.After(now); next++ {
			sess.RecordYamux(frames[next].dir, frames[next].at, frames[next].f)
		}
		found := openFindings(reg, now, fcfg)
		for code, f := range found {
			if code != live.CodeLeak {
				t.Fatalf("at %v: %v: %s", now.Sub(t0), code, f.Text)
			}
		}
		f := found[live.CodeLeak]
		switch {
		case f == nil && now.After(sec(36)):
			for _, r := range reg.Snapshot().Resolved {
				t.Logf("resolved %v at %v: %s", r.Code, r.Resolved.Sub(t0), r.Why)
			}
			t.Fatalf("at %v: no LEAK for the stream the server never closed", now.Sub(t0))
		case f == nil:
		case leak == nil:
			leak = f
		case f.ID != leak.ID:
			t.Fatalf("at %v: LEAK #%d opened again, #%d resolved: %s", now.Sub(t0), f.ID, leak.ID, reg.Snapshot().Resolved[0].Why)
		}
	}
	if leak == nil || leak.Opened.Before(sec(35)) || leak.Opened.After(sec(36)) {
		t.Fatalf("LEAK %+v, want one opened as the stream reached 30 s", leak)
	}
}
