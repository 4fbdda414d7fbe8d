package live_test

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestProtocolMidStreamNotAfterResync: a violation after frames is said
// to be the sender's framing breaking mid-stream only where muxtop saw the
// direction from its first byte. A capture that joined mid-stream (or
// lost bytes) framed what its resync found, which may be payload: a mux
// carried inside a PSH of the outer one looks like frames until it
// overruns the PSH. A reviewer's capture joined inside such a PSH said
// *the client's framing broke after 7 frames smux accepts: … the client
// speaks smux, so its address and protocol are right*, of a client whose
// real smux server read every frame.
func TestProtocolMidStreamNotAfterResync(t *testing.T) {
	for _, joined := range []bool{false, true} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		if joined {
			sc.s.Resynced(c2s, sec(0), 0, 0, 0, "joined mid-stream at offset 0, 0 bytes skipped")
		}
		sc.feedAt(sec(0.1), syn(c2s, 3), psh(c2s, 3, "one"))
		bad := decoder.MakeHeader(1, decoder.UPD, 0, 3)
		sc.s.Violation(c2s, sec(0.2), &decoder.Violation{Code: decoder.UPDInV1, Offset: 19, Header: bad})
		reg.Evaluate(sec(0.3), live.FindingsConfig{Churn: -1})
		var text string
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeProtocol {
				text = f.Text
			}
		}
		if mid := strings.Contains(text, "framing broke after 2 frames"); mid == joined || text == "" {
			t.Errorf("joined %v: PROTOCOL %q; want the mid-stream words only where the direction was seen from its start", joined, text)
		}
	}
}
