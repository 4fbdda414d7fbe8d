package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestParityUnseenAndAdopted: where the first SYN settled that the end
// that dialed opens even ids (it runs the mux's server role), the odd ids
// are the acceptor's. In a capture that holds nothing of the acceptor's
// direction, the dialer's frames for an odd stream it never SYN'd name one
// the acceptor opened unseen: no UNKNOWN_STREAM (before, the dialer was
// taken for the opener of odd ids and each was one). In a capture that
// lost bytes, a stream adopted from the dialer's frames is the acceptor's
// if its id is odd (before, the client's: the dialer's).
func TestParityUnseenAndAdopted(t *testing.T) {
	t.Run("unseen", func(t *testing.T) {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.s.Unseen(s2c, true)
		sc.feed(syn(c2s, 2), psh(c2s, 2, "hello"), psh(c2s, 5, "answer"), fin(c2s, 5))
		ss := sc.snap(t, reg)
		if ss.AnomalyCount != 0 {
			t.Errorf("anomalies %d %+v, want none: stream 5 is the unseen acceptor's", ss.AnomalyCount, ss.Anomalies)
		}
		// The dialer's own parity is still checked: an even id it never
		// opened is unknown.
		sc.feed(psh(c2s, 8, "lost"))
		if ss := sc.snap(t, reg); ss.AnomalyCount != 1 || ss.Anomalies[0].Anomaly != live.UnknownStream {
			t.Errorf("anomalies %+v, want UNKNOWN_STREAM for stream 8", ss.Anomalies)
		}
	})
	// Before any SYN, the TCP roles tell nothing: a one-way capture of a
	// reverse agent's dialer (it runs the mux's server role), which
	// answers on the acceptor's odd streams and opens none, names none
	// unknown (before, UNKNOWN_STREAM for each: the dialer was taken for
	// the opener of odd ids).
	t.Run("unseen before any SYN", func(t *testing.T) {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.s.Unseen(s2c, true)
		sc.feed(psh(c2s, 1, "answer"), fin(c2s, 1), psh(c2s, 3, "answer"))
		if ss := sc.snap(t, reg); ss.AnomalyCount != 0 {
			t.Errorf("anomalies %d %+v, want none: streams 1 and 3 are the unseen acceptor's", ss.AnomalyCount, ss.Anomalies)
		}
	})
	t.Run("adopted", func(t *testing.T) {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feed(syn(s2c, 3), psh(s2c, 3, "hi"), psh(c2s, 3, "ho"))
		sc.s.Resynced(c2s, at(sc.n), sc.off[c2s], 0, 100, "lost")
		sc.feed(psh(c2s, 7, "late"), psh(c2s, 4, "mine"))
		ss := sc.snap(t, reg)
		for sid, want := range map[uint32]live.Side{3: live.Server, 7: live.Server, 4: live.Client} {
			if st := ss.Stream(sid); st == nil || st.Opener != want {
				t.Errorf("stream %d: %+v, want opened by the %v", sid, st, want)
			}
		}
		if ss.AnomalyCount != 0 {
			t.Errorf("anomalies %d %+v, want none", ss.AnomalyCount, ss.Anomalies)
		}
	})
}
