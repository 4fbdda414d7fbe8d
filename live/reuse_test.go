package live_test

import (
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// reuseCheck counts the pictures a registry's snapshots took and fails t
// where one differs from the same picture built anew.
type reuseCheck struct {
	checked atomic.Int64
}

func checkReuse(t *testing.T, reg *live.Registry) *reuseCheck {
	c := new(reuseCheck)
	live.CheckSnapshots(reg, func(got, fresh *live.SessionSnap) {
		c.checked.Add(1)
		if !reflect.DeepEqual(got, fresh) {
			t.Errorf("session %d: the snapshot's picture differs from one built anew\n got %+v\nfresh %+v", got.ID, got, fresh)
		}
	})
	return c
}

// TestSnapshotReuseFollowsTheClock: an idle session's picture is reused
// from one snapshot to the next (the same pointer) while nothing it shows
// changes, the counts a snapshot's time and options choose included; it
// is new where they change with the clock alone (a stream crosses
// LeakAfter, a writer held at its window crosses StallAfter), where an
// evaluation's leaks change, and where a frame arrives. Each picture
// equals one built anew.
func TestSnapshotReuseFollowsTheClock(t *testing.T) {
	reg := live.New(live.Config{})
	c := checkReuse(t, reg)
	sc := openSession(reg, 2)
	sc.worked(t0)
	sc.feedAt(sec(15), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"))
	// Stream 5's writer fills smux's 256 KiB window: held at it from 20 s.
	chunk := strings.Repeat("x", 65535)
	sc.feedAt(sec(20), syn(c2s, 5), psh(c2s, 5, chunk), psh(c2s, 5, chunk), psh(c2s, 5, chunk), psh(c2s, 5, chunk), psh(c2s, 5, "xxxx"))
	id := sc.s.ID()
	evaluate := func(at time.Time) {
		reg.Evaluate(at, live.FindingsConfig{LeakAfter: 10 * time.Second, StallAfter: time.Second, Churn: -1})
	}

	type step struct {
		name    string
		now     time.Time
		streams bool
		// same says the picture is the previous step's.
		same                bool
		aged, stalls, leaks int
		do                  func()
	}
	steps := []step{
		{name: "young", now: sec(20.5)},
		{name: "a moment later", now: sec(20.7), same: true},
		{name: "stream 5 stalled", now: sec(22), stalls: 1},
		{name: "still stalled", now: sec(23), same: true, stalls: 1},
		{name: "stream 3 aged", now: sec(26), aged: 1, stalls: 1},
		{name: "idle", now: sec(27), same: true, aged: 1, stalls: 1},
		{name: "with streams", now: sec(27), streams: true, aged: 1, stalls: 1},
		{name: "with streams, idle", now: sec(27.5), streams: true, same: true, aged: 1, stalls: 1},
		{name: "evaluated: stream 3 leaks", now: sec(28), streams: true, aged: 1, stalls: 1, leaks: 1, do: func() { evaluate(sec(28)) }},
		{name: "evaluated, idle", now: sec(29), streams: true, same: true, aged: 1, stalls: 1, leaks: 1},
		{name: "without streams", now: sec(29), aged: 1, stalls: 1, leaks: 1},
		// Aged is counted at the evaluation's time: stream 5 is not
		// among them though it is 10 s old.
		{name: "a frame", now: sec(30.5), aged: 1, stalls: 1, leaks: 1, do: func() { sc.feedAt(sec(30), nop(c2s)) }},
		{name: "after the frame", now: sec(31), same: true, aged: 1, stalls: 1, leaks: 1},
		{name: "stream 3 closed", now: sec(32), aged: 1, stalls: 1, do: func() {
			sc.feedAt(sec(32), fin(c2s, 3), fin(s2c, 3))
			evaluate(sec(32))
		}},
		{name: "ended", now: sec(34), do: func() { sc.s.End(sec(33), live.LocalClose, nil) }},
		{name: "ended, idle", now: sec(35), same: true},
	}
	var prev *live.SessionSnap
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		o := live.SnapshotOptions{Now: st.now, LeakAfter: 10 * time.Second, StallAfter: time.Second}
		if !st.streams {
			o.Streams = func(uint64) bool { return false }
		}
		ss := reg.SnapshotWith(o).Session(id)
		if ss.Aged != st.aged || ss.Stalls != st.stalls || ss.Leaks != st.leaks {
			t.Errorf("%s: Aged %d, Stalls %d, Leaks %d; want %d, %d, %d", st.name, ss.Aged, ss.Stalls, ss.Leaks, st.aged, st.stalls, st.leaks)
		}
		if same := ss == prev; same != st.same {
			t.Errorf("%s: the previous picture reused: %v, want %v", st.name, same, st.same)
		}
		prev = ss
	}
	if n := c.checked.Load(); n != int64(len(steps)) {
		t.Errorf("%d pictures checked, want %d", n, len(steps))
	}
}
