package live_test

import (
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestForgottenFindingsResolveInOrder: the open findings of sessions
// forgotten between two evaluations resolve in the order they opened, as
// ResolveEnded resolves those of ended sessions, run after run. They
// resolved in a map's order: 20 runs gave 20 orders.
func TestForgottenFindingsResolveInOrder(t *testing.T) {
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	cfg := live.FindingsConfig{LeakAfter: 3 * time.Second}
	for run := range 10 {
		reg := live.New(live.Config{EndedSessions: -1})
		var ss []*live.Session
		for range 8 {
			s := reg.Open(live.SessionInfo{Client: "c", Server: "s"}, at)
			s.Record(live.ClientToServer, at, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.SYN, 0, 3)})
			s.Record(live.ClientToServer, at, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 4, 3), Payload: []byte("RAND")})
			ss = append(ss, s)
		}
		now := at
		for range 100 {
			now = now.Add(100 * time.Millisecond)
			for _, s := range ss {
				s.Record(live.ServerToClient, now, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.NOP, 0, 0)})
			}
			reg.Evaluate(now, cfg)
		}
		if n := len(reg.Snapshot().Findings); n != 8 {
			t.Fatalf("run %d: %d findings open, want a LEAK for each of 8 sessions", run, n)
		}
		for _, s := range ss {
			s.End(now, live.Shutdown, nil)
		}
		now = now.Add(100 * time.Millisecond)
		reg.Evaluate(now, cfg)
		var ids []uint64
		for _, f := range reg.Snapshot().Resolved {
			ids = append(ids, f.ID)
		}
		if len(ids) != 8 || !slices.IsSorted(ids) {
			t.Fatalf("run %d: resolved %v, want the 8 findings in the order they opened", run, ids)
		}
	}
}
