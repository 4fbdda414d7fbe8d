package live_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestFirstBytesNotJoinedAcrossLoss: a capture loses bytes of the
// client's direction that may hold whole frames of a live stream, between
// its "GET /" and its "XYZ": the stream's first bytes stop at "GET /" and
// say they were cut, where what follows the loss was appended as if it
// followed ("GET /XYZ", not cut) before. The server's direction lost
// nothing, and its first bytes go on.
func TestFirstBytesNotJoinedAcrossLoss(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "GET /"), psh(s2c, 3, "ERR "))
	sc.s.Resynced(c2s, sec(0.001), 21+16, 0, 24, "capture lost 24 bytes at offset 37")
	sc.s.Resynced(c2s, sec(0.002), 21+40, 0, 0, "resumed at offset 61 after lost bytes, 0 bytes skipped")
	sc.feedAt(sec(0.003), psh(c2s, 3, "XYZ"), psh(s2c, 3, "bad"))
	st := sc.snap(t, reg).Stream(3)
	if h := st.Head[c2s]; string(h.Bytes()) != "GET /" || !h.Cut {
		t.Errorf("first client bytes %q, cut %v; want %q, cut: the loss may hold the stream's frames", h.Bytes(), h.Cut, "GET /")
	}
	if h := st.Head[s2c]; string(h.Bytes()) != "ERR bad" || h.Cut {
		t.Errorf("first server bytes %q, cut %v; want %q, not cut", h.Bytes(), h.Cut, "ERR bad")
	}
}

// TestFirstBytesJoinedMidStream: a capture that joins a connection
// mid-stream adopts stream 5 at a PSH that is a fragment of its request;
// its first bytes say they are joined (not the stream's first), and the
// LEAK that names it carries the mark. Before, nothing told "ad HTTP/1.1"
// from the request's first bytes.
func TestFirstBytesJoinedMidStream(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.s.Resynced(c2s, sec(0), 100, 7, 0, "joined mid-stream at offset 100, 7 bytes skipped")
	sc.s.Resynced(s2c, sec(0), 100, 0, 0, "joined mid-stream at offset 100, 0 bytes skipped")
	sc.feedAt(sec(0), psh(c2s, 5, "ad HTTP/1.1"), syn(c2s, 7), psh(c2s, 7, "GET /ok"))
	ss := sc.snap(t, reg)
	if h := ss.Stream(5).Head; string(h[c2s].Bytes()) != "ad HTTP/1.1" || !h[c2s].Joined || !h[s2c].Joined {
		t.Errorf("adopted stream 5's first bytes %q, joined %v %v; want %q, joined both ways", h[c2s].Bytes(), h[c2s].Joined, h[s2c].Joined, "ad HTTP/1.1")
	}
	if h := ss.Stream(7).Head; h[c2s].Joined || h[s2c].Joined {
		t.Errorf("stream 7, opened in sight: joined %v %v, want not", h[c2s].Joined, h[s2c].Joined)
	}
	for s := 1.0; s <= 12; s++ {
		sc.feedAt(sec(s), nop(c2s), nop(s2c))
	}
	reg.Evaluate(sec(12), live.FindingsConfig{LeakAfter: 10 * time.Second, UnansweredAfter: time.Hour, Churn: -1})
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeLeak && f.Stream == 5 {
			if f.First() == nil || !f.First()[c2s].Joined {
				t.Errorf("LEAK of stream 5: first %+v, want joined", f.First())
			}
			return
		}
	}
	t.Errorf("no LEAK of stream 5: %+v", reg.Snapshot().Findings)
}
