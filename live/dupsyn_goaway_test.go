package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxDuplicateSYNAfterGoAwayPayload: the server has sent GoAway,
// and the client sends a DATA|SYN of 5 bytes for stream 1, still open.
// hashicorp/yamux v0.1.2's incomingStream answers the SYN with an RST
// and returns no error, and handleStreamMessage then reads the payload
// into the stream it has (readData): the 5 bytes are the stream's, and
// count against its window. Taking the frame back (a tapped write that
// failed) takes them off again. Before, the payload counted nowhere:
// "bytes 0, written 0; want 5, 5". Without the GoAway the server's yamux
// ends the session on the frame and reads none of it: 0 bytes, as before.
func TestYamuxDuplicateSYNAfterGoAwayPayload(t *testing.T) {
	for _, goAway := range []bool{true, false} {
		name := "after the server's GoAway"
		if !goAway {
			name = "no GoAway"
		}
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
			y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
			y.rec(s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
			if goAway {
				y.rec(s2c, yamux.GoAway, 0, 0, yamux.GoAwayNormal)
			}
			dup := &yamux.Frame{Offset: y.off[c2s], Header: yamux.MakeHeader(yamux.Data, yamux.SYN, 1, 5), Payload: []byte("hello")}
			ref := y.s.RecordYamuxRef(c2s, t0, dup)
			want := uint64(0)
			if goAway {
				want = 5
			}
			check := func(when string, want uint64) {
				t.Helper()
				ss := reg.Snapshot().Sessions[0]
				st := ss.Stream(1)
				if st == nil {
					t.Fatalf("%s: no stream 1", when)
				}
				if st.Bytes[c2s] != want || uint64(st.Flow[c2s].Written) != want {
					t.Errorf("%s: bytes %d, written %d; want %d, %d", when, st.Bytes[c2s], st.Flow[c2s].Written, want, want)
				}
				if ss.AnomaliesBy[live.DuplicateSYN] != 1 {
					t.Errorf("%s: DUPLICATE_SYN %d, want 1", when, ss.AnomaliesBy[live.DuplicateSYN])
				}
			}
			check("recorded", want)
			y.s.RetractYamux(c2s, dup.Header, ref)
			st := reg.Snapshot().Sessions[0].Stream(1)
			if st.Bytes[c2s] != 0 || st.Flow[c2s].Written != 0 {
				t.Errorf("retracted: bytes %d, written %d; want 0, 0", st.Bytes[c2s], st.Flow[c2s].Written)
			}
		})
	}
}
