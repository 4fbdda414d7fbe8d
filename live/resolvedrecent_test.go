package live_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// manyResolved makes a registry whose findings resolved in batches, a
// batch at each of at: n[i] sessions that spoke HTTP to the smux port
// (PROTOCOL, one finding each) end, and an evaluation at at[i] resolves
// their findings. It returns the registry and the time of the first.
func manyResolved(t *testing.T, at []time.Time, n []int) *live.Registry {
	t.Helper()
	reg := live.New(live.Config{History: 1000})
	cfg := live.FindingsConfig{Churn: -1}
	start := at[0].Add(-time.Minute)
	k := 0
	for i := range at {
		var ss []*live.Session
		for range n[i] {
			k++
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:" + strconv.Itoa(10000+k), Server: "127.0.0.1:9000", Tap: live.Server}, start)
			s.Violation(live.ClientToServer, start, &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header([]byte("GET / HT"))})
			ss = append(ss, s)
		}
		reg.Evaluate(start.Add(time.Second), cfg)
		for _, s := range ss {
			s.End(at[i].Add(-time.Millisecond), live.Reset, errors.New("reset"))
		}
		reg.Evaluate(at[i], cfg)
		start = at[i]
	}
	return reg
}

// TestResolvedRecentCounts: a snapshot counts the findings resolved
// within RecentResolved of its time exactly, beyond the MaxResolved its
// Resolved lists: 300 of them where the list holds 256; none of those
// resolved longer ago; and as time goes on, fewer. Before, only the list
// held them: a count of it said 256.
func TestResolvedRecentCounts(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	at := []time.Time{now.Add(-7 * time.Minute), now.Add(-4 * time.Minute), now.Add(-time.Minute), now.Add(-time.Minute)}
	reg := manyResolved(t, at, []int{100, 150, 100, 50})
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{now, 300},
		{at[1].Add(live.RecentResolved), 300}, // at the window's edge: still within
		{at[1].Add(live.RecentResolved + time.Nanosecond), 150}, // past it
		{at[0].Add(live.RecentResolved), 400},
		{now.Add(live.RecentResolved + time.Second), 0},
	} {
		snap := reg.SnapshotWith(live.SnapshotOptions{Now: tc.at})
		if snap.ResolvedRecent != tc.want {
			t.Errorf("at %v: ResolvedRecent %d, want %d", tc.at.Sub(now), snap.ResolvedRecent, tc.want)
		}
		if len(snap.Resolved) != live.MaxResolved {
			t.Errorf("Resolved lists %d, want the latest %d", len(snap.Resolved), live.MaxResolved)
		}
	}
}
