package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// idleUntil feeds a NOP each way every second from from to to (seconds),
// evaluating after each.
func idleUntil(reg *live.Registry, sc *script, cfg live.FindingsConfig, from, to float64) {
	for s := from; s <= to; s++ {
		sc.feedAt(sec(s), nop(c2s), nop(s2c))
		reg.Evaluate(sec(s+0.05), cfg)
	}
}

// TestUnansweredWaitsFromTheRequest: in smux a stream asks for an answer
// only once its opener sends a request on it, so the wait counts from that
// request, not the SYN. A v2 stream opened at 0 s, idle (NOPs both ways),
// whose "GET /" came at 30.9 s, was at 31 s a critical UNANSWERED, "no
// answer for 10 s or more (the oldest, stream 3, 31 s ago)": its request
// had waited 0.1 s. Unanswered, it opens 10 s after the request, saying
// so.
func TestUnansweredWaitsFromTheRequest(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 10 * time.Second, LeakAfter: time.Hour, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3))
	idleUntil(reg, sc, cfg, 1, 30)
	sc.feedAt(sec(30.9), psh(c2s, 3, "GET /"))
	reg.Evaluate(sec(31), cfg)
	expect(t, reg) // the request waited 0.1 s
	idleUntil(reg, sc, cfg, 31, 40)
	expect(t, reg) // 9.15 s
	idleUntil(reg, sc, cfg, 41, 41)
	recs := expect(t, reg, "+UNANSWERED")
	f := recs[0].Finding
	if f.Stream != 3 || !f.Since.Equal(sec(30.9)) || f.Evidence.Age != sec(41.05).Sub(sec(30.9)) ||
		!strings.Contains(f.Text, "got no answer for 10 s or more (the oldest, stream 3, 10 s ago)") {
		t.Errorf("unanswered: stream %d since %v age %v: %s", f.Stream, f.Since.Sub(t0), f.Evidence.Age, f.Text)
	}
}

// TestUnansweredNamesTheLongestWait: the wait list is in SYN order, but
// a stream's wait counts from its request: stream 3, opened first and
// asked last, is behind stream 5, which asked at 12 s; the finding opens
// for stream 5 at 22 s and names it as the oldest when both wait.
func TestUnansweredNamesTheLongestWait(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 10 * time.Second, LeakAfter: time.Hour, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3))
	idleUntil(reg, sc, cfg, 1, 9)
	sc.feedAt(sec(10), syn(c2s, 5))
	idleUntil(reg, sc, cfg, 10, 11)
	sc.feedAt(sec(12), psh(c2s, 5, "GET /five"))
	idleUntil(reg, sc, cfg, 12, 20)
	sc.feedAt(sec(21), psh(c2s, 3, "GET /three"))
	idleUntil(reg, sc, cfg, 21, 21)
	expect(t, reg)
	idleUntil(reg, sc, cfg, 22, 22)
	recs := expect(t, reg, "+UNANSWERED")
	if f := recs[0].Finding; f.Stream != 5 || f.Evidence.Count != 1 || !f.Since.Equal(sec(12)) {
		t.Errorf("unanswered: stream %d, %d streams, since %v; want stream 5, 1 stream, since 12 s", f.Stream, f.Evidence.Count, f.Since.Sub(t0))
	}
	idleUntil(reg, sc, cfg, 23, 32)
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeUnanswered && (f.Stream != 5 || f.Evidence.Count != 2) {
			t.Errorf("unanswered at 32 s: stream %d, %d streams; want stream 5, 2 streams", f.Stream, f.Evidence.Count)
		}
	}
}

// TestNoUnansweredForALateRequestAnswered: a v2 stream opened at 0 s whose
// request comes at 30.9 s and is read (UPD) and answered 0.2 s later is
// healthy: no finding. Before, UNANSWERED opened at 31.05 s, as the
// server's NOP showed it alive.
func TestNoUnansweredForALateRequestAnswered(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 10 * time.Second, LeakAfter: time.Hour, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3))
	idleUntil(reg, sc, cfg, 1, 30)
	sc.feedAt(sec(30.9), psh(c2s, 3, "GET /"))
	idleUntil(reg, sc, cfg, 31, 31) // the server's NOP at 31 s: alive, and not reading yet
	sc.feedAt(sec(31.1), upd(s2c, 3, 5, 262144), psh(s2c, 3, "200 OK"))
	idleUntil(reg, sc, cfg, 32, 45)
	expect(t, reg)
}

// TestUnansweredRequestLost: a capture loses the 40 bytes of the client's
// direction that follow stream 3's SYN, its request among them maybe; the
// server sends only NOPs after. The loss keeps the stream waiting (its
// answer was not lost) and takes it off LEAK (its FIN may have been): it
// is UNANSWERED's, waiting from the loss. Before, with no payload seen it
// asked nothing, and nothing counted it.
func TestUnansweredRequestLost(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 5 * time.Second, LeakAfter: 10 * time.Second, Churn: -1}
	for _, ver := range []uint8{1, 2} {
		reg := live.New(live.Config{})
		sc := openSession(reg, ver)
		sc.feedAt(sec(0), syn(c2s, 3))
		sc.s.Resynced(c2s, sec(0.001), sc.off[c2s], 0, 40, "capture lost 40 bytes at offset 8")
		sc.off[c2s] += 40
		sc.s.Resynced(c2s, sec(0.002), sc.off[c2s], 0, 0, "resumed at offset 48 after lost bytes, 0 bytes skipped")
		idleUntil(reg, sc, cfg, 1, 15)
		recs := expect(t, reg, "+UNANSWERED")
		if f := recs[0].Finding; f.Stream != 3 || !f.Since.Equal(sec(0.001)) {
			t.Errorf("v%d: unanswered stream %d since %v; want stream 3 since the loss", ver, f.Stream, f.Since.Sub(t0))
		}
	}
}
