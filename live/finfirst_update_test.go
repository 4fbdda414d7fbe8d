package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestFinFirstUpdates: an open yamux UNANSWERED whose stream the opener
// half-closes is worded again at the next evaluation, saying the acceptor
// may have accepted it after the FIN, not only once its age reaches its
// next step (30 s apart past a minute, 5 min past ten).
func TestFinFirstUpdates(t *testing.T) {
	reg := live.New(live.Config{})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
	at := func(s float64, dir live.Dir, typ yamux.Type, flags yamux.Flags, sid, length uint32) {
		y.recAt(sec(s), dir, typ, flags, sid, length)
	}
	cfg := live.FindingsConfig{LeakAfter: time.Hour, UnansweredAfter: 5 * time.Second, Churn: -1}
	unanswered := func() *live.Finding {
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeUnanswered {
				return f
			}
		}
		return nil
	}
	at(1, c2s, yamux.WindowUpdate, yamux.SYN, 3, 0) // never ACKed
	for s := 2.0; s < 70; s++ {
		at(s, c2s, yamux.Ping, yamux.SYN, 0, uint32(s))
		at(s, s2c, yamux.Ping, yamux.ACK, 0, uint32(s))
		if s == 62 {
			at(s+0.5, c2s, yamux.WindowUpdate, yamux.FIN, 3, 0) // the client's FIN
		}
		reg.Evaluate(sec(s+0.6), cfg)
		if s == 61 {
			if f := unanswered(); f == nil || strings.Contains(f.Text, "FIN") {
				t.Fatalf("at 61.6 s, before the FIN: UNANSWERED %+v", f)
			}
		}
	}
	const want = "or accepted it only after the client's FIN (it was half-closed before any ACK)"
	if f := unanswered(); f == nil || !strings.Contains(f.Text, want) {
		t.Errorf("at 69.6 s, 7 s after the client's FIN: UNANSWERED %+v\nwant its text to say %q", f, want)
	}
}
