package headless

import (
	"bytes"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestSummaryLeaksOneInstant: the summary's LEAK finding and its leaks
// line count the same streams. Live, the evaluator runs on between the
// snapshot the leaks line is read from and the watched system's stop:
// here that evaluation (in Stop) finds a second stream idle past
// --leak-after. Before, the finding's line came from the later
// evaluation: "#1 LEAK warning, … 2 half-closed by the client …" beside
// "leaks 1 suspected" (a 40 s smux run said 29 beside 28).
func TestSummaryLeaksOneInstant(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 30 * time.Second, Churn: -1, BlockedAfter: time.Hour}
	for _, format := range []Format{Plain, JSON} {
		clock := t0.Add(34 * time.Second)
		reg := live.New(live.Config{Clock: func() time.Time { return clock }})
		s := reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000", Label: "test"}, t0)
		var off [2]int64
		rec := func(dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string) {
			fr := decoder.Frame{Offset: off[dir], Header: decoder.MakeHeader(1, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
			off[dir] += decoder.HeaderSize + int64(len(payload))
			s.Record(dir, t0.Add(at), &fr)
		}
		// Two requests answered, half-closed by the client, never closed
		// by the server: 3 idle from t0, 5 from 5 s on.
		for i, sid := range []uint32{3, 5} {
			at := time.Duration(i) * 5 * time.Second
			rec(live.ClientToServer, at, decoder.SYN, sid, "")
			rec(live.ClientToServer, at+time.Millisecond, decoder.PSH, sid, "RAND")
			rec(live.ServerToClient, at+2*time.Millisecond, decoder.PSH, sid, "12345678")
			rec(live.ClientToServer, at+3*time.Millisecond, decoder.FIN, sid, "")
		}
		reg.Evaluate(clock, cfg)
		if fs := reg.Snapshot().Findings; len(fs) != 1 || fs[0].Evidence.Count != 1 {
			for _, f := range fs { // what it found instead
				t.Logf("%s %d: %s", f.Code, f.Evidence.Count, f.Text)
			}
			t.Fatalf("want a LEAK of stream 3 alone")
		}
		var out bytes.Buffer
		_, err := Finish(&out, reg, Options{Format: format, LeakAfter: cfg.LeakAfter, Stop: func() {
			clock = t0.Add(34*time.Second + 100*time.Millisecond)
			reg.Evaluate(clock, cfg) // the evaluator's next tick, still running
			clock = t0.Add(41 * time.Second)
			reg.Evaluate(clock, cfg) // stream 5 idle 36 s: the LEAK counts 2
			s.End(clock, live.Shutdown, nil)
			reg.ResolveEnded(clock.Add(time.Millisecond), clock)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if format == Plain {
			plainSummaryHas(t, out.String(),
				"    #1 LEAK warning, session 1, open at the end (muxtop stopped watching): the server never closes its streams: 1 half-closed by the client",
				"  leaks     1 suspected",
			)
			continue
		}
		j := leaksJSON(t, out.Bytes())
		if len(j.Findings) != 1 || j.Findings[0]["count"] != 1.0 || j.Leaks["count"] != 1.0 {
			t.Errorf("JSON findings %v, leaks %v; want one LEAK of count 1, leaks count 1", j.Findings, j.Leaks)
		}
	}
}
