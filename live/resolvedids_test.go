package live_test

import (
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestLeakResolvedNamesLatestStreams: a LEAK's resolution names the
// streams it counted at the last evaluation, not those of its latest
// record, which may be older (a change is told at most once per
// UpdateEvery). A LEAK opens on streams 3 and 5; 0.3 s later the server
// closes 3; the session ends. Before, the record read "count 1" with
// "sids [3 5]": stream 3, closed properly, listed as leaking.
func TestLeakResolvedNamesLatestStreams(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 30 * time.Second, Churn: -1, BlockedAfter: time.Hour}
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000", Label: "test"}, t0)
	var off [2]int64
	rec := func(dir live.Dir, at time.Duration, cmd decoder.Cmd, sid uint32, payload string) {
		fr := decoder.Frame{Offset: off[dir], Header: decoder.MakeHeader(1, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
		off[dir] += decoder.HeaderSize + int64(len(payload))
		s.Record(dir, t0.Add(at), &fr)
	}
	for i, sid := range []uint32{3, 5} {
		at := time.Duration(i) * time.Second
		rec(live.ClientToServer, at, decoder.SYN, sid, "")
		rec(live.ClientToServer, at+time.Millisecond, decoder.PSH, sid, "RAND")
		rec(live.ServerToClient, at+2*time.Millisecond, decoder.PSH, sid, "12345678")
		rec(live.ClientToServer, at+3*time.Millisecond, decoder.FIN, sid, "")
	}
	reg.Evaluate(t0.Add(34*time.Second), cfg)
	opened := recordsOf(reg, live.FindingOpened)
	if len(opened) != 1 || opened[0].Finding.Evidence.Count != 2 || !slices.Equal(opened[0].Finding.StreamIDs, []uint32{3, 5}) {
		t.Fatalf("opened:%s; want a LEAK of streams 3 and 5", describeRecords(opened))
	}
	rec(live.ServerToClient, 34*time.Second+300*time.Millisecond, decoder.FIN, 3, "")
	reg.Evaluate(t0.Add(34*time.Second+300*time.Millisecond), cfg) // count 1, not told yet
	end := t0.Add(34*time.Second + 400*time.Millisecond)
	s.End(end, live.Shutdown, nil)
	reg.ResolveEnded(end.Add(time.Millisecond), end)
	res := recordsOf(reg, live.FindingResolved)
	if len(res) != 1 {
		t.Fatalf("resolved:%s; want the LEAK", describeRecords(res))
	}
	if f := res[0].Finding; f.Stream != 5 || f.Evidence.Count != 1 || !slices.Equal(f.StreamIDs, []uint32{5}) || len(f.Heads) != 1 || string(f.Heads[0][live.ClientToServer].Bytes()) != "RAND" {
		t.Errorf("resolved LEAK: stream %d, count %d, sids %v, heads %d; want stream 5, count 1, sids [5], its head", f.Stream, f.Evidence.Count, f.StreamIDs, len(f.Heads))
	}
}
