package headless

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestSummaryLeakStreamsOneInstant: a LEAK open before the stop is listed
// with its count, oldest stream and streams all from the snapshot the
// leaks line counts; one that opened in the stop's last evaluation says
// it is not in that count. Before, the streams came from the resolution
// after the stop:
//
//	count grew in the stop:        "count":1,"sids":[3,5]
//	oldest closed in the stop:     "sid":3,"count":2,"sids":[5],"sids_more":1
//	opened in the stop: "#1 LEAK warning, session 1, open at the end
//	(muxtop stopped watching): … 2 half-closed …" beside "leaks 0 suspected"
func TestSummaryLeakStreamsOneInstant(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 30 * time.Second, Churn: -1, BlockedAfter: time.Hour}
	type rig struct {
		reg   *live.Registry
		s     *live.Session
		clock time.Time
		rec   func(dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string)
	}
	for _, tc := range []struct {
		name  string
		at    [2]time.Duration // streams 3's and 5's SYN
		eval  time.Duration    // the evaluation before the snapshot
		stop  func(r *rig)     // what the stop does, before the end
		plain []string
		count float64 // the JSON finding's count, sid, sids; 0: absent
		sid   float64
		sids  []any
		after bool // after_count
		leaks float64
	}{{
		name: "count grew", at: [2]time.Duration{0, 5 * time.Second}, eval: 34 * time.Second,
		stop:  func(r *rig) { r.clock = t0.Add(41 * time.Second); r.reg.Evaluate(r.clock, cfg) },
		plain: []string{"#1 LEAK warning, session 1, open at the end (muxtop stopped watching): the server never closes its streams: 1 half-closed by the client", "  leaks     1 suspected"},
		count: 1, sid: 3, sids: []any{3.0}, leaks: 1,
	}, {
		name: "oldest closed", at: [2]time.Duration{0, time.Second}, eval: 34 * time.Second,
		stop: func(r *rig) {
			r.rec(live.ServerToClient, 34*time.Second+300*time.Millisecond, decoder.FIN, 3, "")
			r.clock = t0.Add(34*time.Second + 300*time.Millisecond)
			r.reg.Evaluate(r.clock, cfg)
		},
		plain: []string{"#1 LEAK warning, session 1, open at the end (muxtop stopped watching): the server never closes its streams: 2 half-closed by the client", "  leaks     2 suspected"},
		count: 2, sid: 3, sids: []any{3.0, 5.0}, leaks: 2,
	}, {
		name: "opened in the stop", at: [2]time.Duration{0, time.Second}, eval: 20 * time.Second,
		stop:  func(r *rig) { r.clock = t0.Add(41 * time.Second); r.reg.Evaluate(r.clock, cfg) },
		plain: []string{"#1 LEAK warning, session 1, opened as muxtop stopped, after the leaks line's count, open at the end (muxtop stopped watching): the server never closes its streams: 2 half-closed by the client", "  leaks     0 suspected"},
		count: 2, sid: 3, sids: []any{3.0, 5.0}, after: true, leaks: 0,
	}} {
		for _, format := range []Format{Plain, JSON} {
			r := &rig{clock: t0.Add(tc.eval)}
			r.reg = live.New(live.Config{Clock: func() time.Time { return r.clock }})
			r.s = r.reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000", Label: "test"}, t0)
			var off [2]int64
			r.rec = func(dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string) {
				fr := decoder.Frame{Offset: off[dir], Header: decoder.MakeHeader(1, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
				off[dir] += decoder.HeaderSize + int64(len(payload))
				r.s.Record(dir, t0.Add(at), &fr)
			}
			for i, sid := range []uint32{3, 5} {
				at := tc.at[i]
				r.rec(live.ClientToServer, at, decoder.SYN, sid, "")
				r.rec(live.ClientToServer, at+time.Millisecond, decoder.PSH, sid, "RAND")
				r.rec(live.ServerToClient, at+2*time.Millisecond, decoder.PSH, sid, "12345678")
				r.rec(live.ClientToServer, at+3*time.Millisecond, decoder.FIN, sid, "")
			}
			r.reg.Evaluate(r.clock, cfg)
			var out bytes.Buffer
			_, err := Finish(&out, r.reg, Options{Format: format, LeakAfter: cfg.LeakAfter, Stop: func() {
				tc.stop(r)
				r.s.End(r.clock, live.Shutdown, nil)
				r.reg.ResolveEnded(r.clock.Add(time.Millisecond), r.clock)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if format == Plain {
				plainSummaryHas(t, out.String(), tc.plain...)
				continue
			}
			j := leaksJSON(t, out.Bytes())
			if len(j.Findings) != 1 {
				t.Fatalf("%s: JSON findings %v; want the LEAK", tc.name, j.Findings)
			}
			f := j.Findings[0]
			sids, _ := f["sids"].([]any)
			after, _ := f["after_count"].(bool)
			if f["count"] != tc.count || f["sid"] != tc.sid || !slices.Equal(sids, tc.sids) || f["sids_more"] != nil || after != tc.after || j.Leaks["count"] != tc.leaks {
				t.Errorf("%s: JSON finding %v, leaks %v; want count %v, sid %v, sids %v, after_count %v, leaks count %v", tc.name, f, j.Leaks, tc.count, tc.sid, tc.sids, tc.after, tc.leaks)
			}
		}
	}
}
