package live_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// recordsOf returns the records of kind in reg's history.
func recordsOf(reg *live.Registry, kind live.Kind) []live.Record {
	var out []live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// oddIDs returns n stream ids from first, two apart: those one side
// opens in turn.
func oddIDs(first uint32, n int) []uint32 {
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = first + 2*uint32(i)
	}
	return ids
}

// TestFindingUpdatedLeak: a LEAK that grows is told again as it grows,
// with its count, its text and the streams it counts (the oldest
// MaxStreamIDs), at most once per UpdateEvery, at the first evaluation
// that may; a count that no longer changes is not told again, nor a
// LEAK whose count never changed. Before, only the opening told a count:
// "1 half-closed by the client" while 50 were.
func TestFindingUpdatedLeak(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Fifty streams, one each 100 ms, that the server answers and never
	// closes; between the first two, one neither side closes, which is
	// another LEAK's.
	for i := range 50 {
		sid := uint32(3 + 2*i)
		sc.feedAt(ms(100*i), syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"), fin(c2s, sid))
		if i == 0 {
			sc.feedAt(ms(50), syn(c2s, 1001), psh(s2c, 1001, "x"))
		}
	}
	cfg := live.FindingsConfig{LeakAfter: 5 * time.Second, Churn: -1}
	for at := 5000; at <= 16000; at += 100 {
		if at == 10500 {
			sc.feedAt(ms(at), fin(s2c, 3), fin(s2c, 5)) // two of them close
		}
		reg.Evaluate(ms(at), cfg)
	}
	opened := recordsOf(reg, live.FindingOpened)
	if len(opened) != 2 {
		t.Fatalf("%d findings opened, want the two LEAKs:%s", len(opened), describeRecords(opened))
	}
	server, both := opened[0].Finding, opened[1].Finding
	if !server.HasDir || server.Dir != s2c || server.Evidence.Count != 1 || !slices.Equal(server.StreamIDs, []uint32{3}) || !opened[0].At.Equal(ms(5000)) {
		t.Errorf("the server's LEAK opened as %+v at %v, want 1 stream, 3, at 5 s", server, opened[0].At)
	}
	if both.HasDir || both.Evidence.Count != 1 || !slices.Equal(both.StreamIDs, []uint32{1001}) {
		t.Errorf("the LEAK of no FIN opened as %+v, want 1 stream, 1001", both)
	}
	type told struct {
		at    int // ms
		count uint64
		ids   []uint32
	}
	want := []told{
		{6000, 11, oddIDs(3, 11)}, {7000, 21, oddIDs(3, 21)}, {8000, 31, oddIDs(3, 31)},
		{9000, 41, oddIDs(3, 32)}, {10000, 50, oddIDs(3, 32)},
		{11000, 48, oddIDs(7, 32)}, // 3 and 5 closed at 10.5 s: told a second after the last
	}
	var got []told
	updated := recordsOf(reg, live.FindingUpdated)
	for _, r := range updated {
		f := r.Finding
		if f.ID != server.ID || r.Session != sc.s.ID() || f.Opened != server.Opened || r.Seq < opened[0].Seq {
			t.Errorf("update %+v of another finding, or before its opening", f)
			continue
		}
		if w := fmt.Sprintf("the server never closes its streams: %d half-closed by the client", f.Evidence.Count); !strings.HasPrefix(f.Text, w) {
			t.Errorf("update at %v says %q, want it to begin %q", r.At, f.Text, w)
		}
		got = append(got, told{int(r.At.Sub(t0) / time.Millisecond), f.Evidence.Count, f.StreamIDs})
	}
	if !slices.EqualFunc(got, want, func(a, b told) bool { return a.at == b.at && a.count == b.count && slices.Equal(a.ids, b.ids) }) {
		t.Errorf("updates (ms, count, streams)\n got %v\nwant %v", got, want)
	}
	// A snapshot's finding names no streams: the records do.
	for _, f := range reg.Snapshot().Findings {
		if f.StreamIDs != nil {
			t.Errorf("snapshot finding %d has stream ids %v", f.ID, f.StreamIDs)
		}
	}
	// The session ends: both resolve, and nothing is told again.
	sc.s.End(ms(16500), live.EOF, nil)
	reg.Evaluate(ms(17600), cfg)
	if n := len(recordsOf(reg, live.FindingResolved)); n != 2 {
		t.Errorf("%d resolved, want 2", n)
	}
	if n := len(recordsOf(reg, live.FindingUpdated)); n != len(updated) {
		t.Errorf("%d updates after the end, want %d", n, len(updated))
	}
}

// TestFindingUpdatedChurn: CHURN, a finding of no session, is told again
// as its count grows, once a second at most.
func TestFindingUpdatedChurn(t *testing.T) {
	reg := live.New(live.Config{})
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	cfg := live.FindingsConfig{Churn: 3}
	for at := 0; at < 9000; at += 100 {
		if at < 3000 {
			s := reg.Open(live.SessionInfo{Client: "c", Server: "s"}, ms(at))
			s.End(ms(at+10), live.EOF, nil)
		}
		reg.Evaluate(ms(at+50), cfg)
	}
	opened := recordsOf(reg, live.FindingOpened)
	if len(opened) != 1 || opened[0].Finding.Code != live.CodeChurn || opened[0].Finding.Evidence.Count != 3 || !opened[0].At.Equal(ms(250)) {
		t.Fatalf("opened:%s, want CHURN of 3 at 250 ms", describeRecords(opened))
	}
	var got []string
	for _, r := range recordsOf(reg, live.FindingUpdated) {
		if r.Session != 0 || r.Finding.ID != opened[0].Finding.ID || r.Finding.StreamIDs != nil {
			t.Errorf("update %+v", r.Finding)
		}
		got = append(got, fmt.Sprintf("%v:%d", r.At.Sub(t0), r.Finding.Evidence.Count))
	}
	if want := []string{"1.25s:13", "2.25s:23", "3.25s:30"}; !slices.Equal(got, want) {
		t.Errorf("updates %v, want %v", got, want)
	}
}

// TestFindingUpdatedCapped: a LEAK of more streams than MaxStreamIDs
// names its oldest MaxStreamIDs, and no update comes while its count
// holds.
func TestFindingUpdatedCapped(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	for i := range 100 {
		sid := uint32(2 + 2*i) // the server opens them, and never closes
		sc.feedAt(sec(0), syn(s2c, sid), psh(c2s, sid, "x"), fin(c2s, sid))
	}
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for at := 1.0; at < 5; at += 0.5 {
		reg.Evaluate(sec(at), cfg)
	}
	opened := recordsOf(reg, live.FindingOpened)
	if len(opened) != 1 {
		t.Fatalf("opened:%s", describeRecords(opened))
	}
	if f := opened[0].Finding; f.Evidence.Count != 100 || !slices.Equal(f.StreamIDs, oddIDs(2, live.MaxStreamIDs)) {
		t.Errorf("opened with %d streams, ids %v; want 100, the first %d", f.Evidence.Count, f.StreamIDs, live.MaxStreamIDs)
	}
	if u := recordsOf(reg, live.FindingUpdated); len(u) != 0 {
		t.Errorf("updates of a count that held:%s", describeRecords(u))
	}
}

// TestFindingUpdatedExcused: a LEAK's records name the streams it counts,
// not an older one another finding explains (a writer a full window
// holds, WINDOW_STALL's); once that stream counts too, the update names
// it, the oldest first. The UPD that opens its window is a frame on it:
// it counts once idle --leak-after since (before the leak clock, at once).
func TestFindingUpdatedExcused(t *testing.T) {
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.worked(sec(0)) // streams 3 and 5 are no setup streams
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), upd(c2s, 3, 0, 1000), psh(s2c, 3, strings.Repeat("x", 1000)))
	sc.feedAt(sec(1), syn(c2s, 5), psh(c2s, 5, "IDLE"), psh(s2c, 5, "ok"))
	for _, at := range []float64{2.1, 10, 30.5, 31.5} {
		sc.feedAt(sec(at-0.05), nop(c2s), nop(s2c))
		reg.Evaluate(sec(at), cfg)
	}
	opened := recordsOf(reg, live.FindingOpened)
	if len(opened) != 2 || opened[1].Finding.Code != live.CodeLeak || !slices.Equal(opened[1].Finding.StreamIDs, []uint32{5}) {
		t.Fatalf("opened:%s; want the LEAK to name stream 5 alone", describeRecords(opened))
	}
	sc.feedAt(sec(40), upd(c2s, 3, 1000, 1000))
	reg.Evaluate(sec(40.1), cfg)
	if u := recordsOf(reg, live.FindingUpdated); len(u) != 0 {
		t.Errorf("updated as the UPD came:%s; stream 3 is in use", describeRecords(u))
	}
	for _, at := range []float64{50, 60, 70.05} {
		sc.feedAt(sec(at-0.05), nop(c2s), nop(s2c))
		reg.Evaluate(sec(at), cfg)
	}
	u := recordsOf(reg, live.FindingUpdated)
	if len(u) != 1 || u[0].Finding.ID != opened[1].Finding.ID || u[0].Finding.Evidence.Count != 2 || !slices.Equal(u[0].Finding.StreamIDs, []uint32{3, 5}) {
		t.Errorf("updated:%s; want the LEAK of 2 streams, 3 and 5", describeRecords(u))
	}
}
