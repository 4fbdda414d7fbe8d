package live_test

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestDataAfterCloseInFlightRecordedOutOfOrder: a tap stamps a frame as
// its Read or Write returns and records it under the session's lock, so a
// FIN it wrote can be recorded after frames it read that it stamped
// later. The writer's bursts so stamped after the FIN showed it streaming
// up to the FIN and past it; the in-flight rule took their latest, 14 ms
// after the FIN, for one 2^26 ms before it (an unsigned difference
// wrapped), and counted the writer's next frames, 25 ms after the FIN:
// TestHealthyMorePushClosedByReader's client tap, on two loaded cores,
// "the server wrote 4 frames (2 KiB) to stream 13 after the client had
// sent FIN". Here, in smux v1 and v2, the server pushes every
// millisecond; the client's FIN, stamped at 60 ms, is recorded after the
// pushes stamped up to 74 ms; pushes at 75 to 85 ms are in flight. A
// writer idle since 300 ms before the FIN, then writing after it, still
// counts.
func TestDataAfterCloseInFlightRecordedOutOfOrder(t *testing.T) {
	for _, ver := range []uint8{1, 2} {
		for _, idle := range []bool{false, true} {
			cfg := live.FindingsConfig{Churn: -1}
			reg := live.New(live.Config{})
			sc := openSession(reg, ver)
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "TAIL"))
			last := 74
			if idle {
				last = 50
			}
			for ms := 1; ms <= last; ms++ {
				sc.feedAt(sec(float64(ms)/1000), psh(s2c, 3, "line"))
			}
			finMs := 60
			if idle {
				finMs = 350
			}
			sc.feedAt(sec(float64(finMs)/1000), fin(c2s, 3))
			for ms := finMs + 15; ms <= finMs+25; ms++ {
				sc.feedAt(sec(float64(ms)/1000), psh(s2c, 3, "line"))
			}
			reg.Evaluate(sec(2), cfg)
			got := codes(reg)
			if want := ""; !idle && got != want {
				t.Errorf("v%d: %q, want %q: pushes stamped after the FIN and recorded before it are a stream up to it:%s", ver, got, want, describeRecords(findingRecords(reg)))
			}
			if idle && !strings.Contains(got, "+DATA_AFTER_CLOSE") {
				t.Errorf("v%d idle 300 ms before the FIN: %q, want DATA_AFTER_CLOSE", ver, got)
			}
		}
	}
}
