package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// runToEnd runs the real binary with args and --output json until it
// exits by itself (--duration), within the time given, and returns every
// record, the last of which must be the summary.
func runToEnd(t *testing.T, within time.Duration, args ...string) []map[string]any {
	t.Helper()
	r := startRun(t, args...)
	select {
	case err := <-r.exited:
		if err != nil {
			t.Fatalf("muxtop: %v; stderr: %s", err, r.stderr.String())
		}
	case <-time.After(within):
		t.Fatalf("muxtop did not end within %v", within)
	}
	recs := r.records()
	if len(recs) == 0 || recs[len(recs)-1]["type"] != "summary" {
		t.Fatalf("no summary at the end")
	}
	return recs
}

// TestLeakGrowsInJSON: the demo's server forgets Close on every stream;
// the JSON output follows each LEAK as it grows. finding-opened gives the
// count at opening and the streams it counts; finding-updated lines then
// give it again as it grows: the same finding, a count that only grows,
// its text and streams with it, at most one a second per finding. Before,
// the opening's count was the last until the summary.
func TestLeakGrowsInJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	for _, proto := range []string{"smux", "yamux"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			// The demo runs until each LEAK opened has been updated twice,
			// then stops (a fixed --duration 4500ms ended before where a
			// loaded machine started the load late).
			r := startRun(t, "demo", "--protocol", proto, "--fault", "leak", "--rate", "5", "--pool", "1", "--leak-after", "1s")
			r.waitFor("two updates of each LEAK", 2*time.Minute, func(recs []map[string]any) bool {
				n := leakUpdates(recs)
				for _, u := range n {
					if u < 2 {
						return false
					}
				}
				return len(n) > 0
			})
			recs := r.stop()
			type state struct {
				count float64
				at    time.Time
				seq   float64
			}
			leaks := map[float64]*state{}
			for _, m := range recs {
				typ, _ := m["type"].(string)
				if m["code"] != "LEAK" || typ != "finding-opened" && typ != "finding-updated" {
					if typ == "finding-updated" && m["code"] != "LEAK" {
						t.Errorf("an update of another finding: %v", m)
					}
					continue
				}
				id, _ := m["finding"].(float64)
				count, _ := m["count"].(float64)
				at, seq := timeOf(t, m, "time"), m["seq"].(float64)
				checkLeakStreams(t, m, proto)
				if !strings.Contains(m["text"].(string), fmt.Sprintf(" %d half-closed by the client", int(count))) {
					t.Errorf("%s of %v says %q", typ, count, m["text"])
				}
				s := leaks[id]
				if typ == "finding-opened" {
					if s != nil || count < 1 {
						t.Errorf("finding %v opened twice, or with count %v", id, count)
					}
					leaks[id] = &state{count: count, at: at, seq: seq}
					continue
				}
				switch {
				case s == nil:
					t.Errorf("finding %v updated before it opened", id)
					continue
				case count <= s.count:
					t.Errorf("finding %v updated from %v to %v: the leak only grows", id, s.count, count)
				case at.Sub(s.at) < time.Second:
					t.Errorf("finding %v updated %v after its previous record: at most one a second", id, at.Sub(s.at))
				case seq <= s.seq:
					t.Errorf("finding %v updated at seq %v, before its previous record (%v)", id, seq, s.seq)
				}
				*s = state{count: count, at: at, seq: seq}
			}
			if len(leaks) == 0 {
				t.Fatalf("no LEAK opened:%s", findingLines(recs))
			}
			// Each LEAK's 2 updates or more (of a leak growing 5 streams a
			// second) are waitFor's: 2 updates within its deadline, or it
			// failed the test.
		})
	}
}

// leakUpdates counts, for each LEAK finding opened in recs, its
// finding-updated records.
func leakUpdates(recs []map[string]any) map[float64]int {
	n := map[float64]int{}
	for _, m := range recs {
		if m["code"] != "LEAK" {
			continue
		}
		id, _ := m["finding"].(float64)
		switch m["type"] {
		case "finding-opened":
			n[id] += 0
		case "finding-updated":
			if _, ok := n[id]; ok {
				n[id]++
			}
		}
	}
	return n
}

// checkLeakStreams checks a LEAK record's sids: the oldest streams it
// counts, at most 32, in the order the client opened them, and
// sids_more the rest of its count.
func checkLeakStreams(t *testing.T, m map[string]any, proto string) {
	t.Helper()
	count, _ := m["count"].(float64)
	l, _ := m["sids"].([]any)
	var ids []float64
	for _, v := range l {
		ids = append(ids, v.(float64))
	}
	more, _ := m["sids_more"].(float64)
	if len(ids) != min(int(count), 32) || float64(len(ids))+more != count || !slices.IsSorted(ids) {
		t.Errorf("%v %v of %v streams: sids %v, sids_more %v", m["type"], m["finding"], count, ids, more)
	}
	for _, id := range ids {
		if int(id)%2 != 1 { // the client opens odd ids, in smux as in yamux
			t.Errorf("%v %v names stream %v, not the client's", m["type"], m["finding"], id)
		}
	}
	if sid, _ := m["sid"].(float64); len(ids) > 0 && ids[0] != sid {
		t.Errorf("%v %v: sids begin at %v, its oldest stream is %v (%s)", m["type"], m["finding"], ids[0], sid, proto)
	}
}

// TestHealthyNoUpdates: a healthy run has no finding-updated line.
func TestHealthyNoUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	recs := runToEnd(t, time.Minute, "demo", "--rate", "50", "--pool", "2", "--leak-after", "1s", "--duration", "2500ms")
	if u := ofType(recs, "finding-updated"); len(u) != 0 {
		t.Errorf("a healthy run has %d finding-updated lines:%s", len(u), findingLines(recs))
	}
	if n := len(ofType(recs, "frame")); n < 100 {
		t.Errorf("%d frames: the run did nothing", n)
	}
}
