package live_test

import (
	"testing"

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
