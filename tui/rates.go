package tui

import (
	"time"

	"github.com/muxtop/muxtop/live"
)

// rates are frames per second, measured between snapshots at least a
// second apart, like top's: steady enough to read at 10 Hz. A session's
// is 0 once it ended; total counts every frame of the interval, those of
// sessions that ended in it too. Once a capture is read whole they are
// its last second's, by capture time (tail), and total is the sessions'
// summed.
type rates struct {
	base    *live.Snapshot
	total   float64
	session map[uint64]float64
	// final says they are a capture's last second's: nothing changes
	// them any more.
	final bool
}

// rateWindow is the shortest interval rates are measured over.
const rateWindow = time.Second

// update measures the rates at snap. last says the capture is read
// whole; t, where given, is its last second's frames.
func (r *rates) update(snap *live.Snapshot, last bool, t *tail) {
	if r.final {
		return
	}
	if last && t != nil {
		// A capture read faster than its time passes is measured over
		// what the screen saw between two reads, which for a file read
		// at once is all of it: its whole average (2520 frames over 10 s,
		// 251 frames/s, where its last 5 s held only keepalives). The
		// rates of its end are those of its last second.
		per := make(map[uint64]float64, len(t.per))
		r.total = 0
		for _, ss := range snap.Sessions {
			if n := t.per[ss.ID]; n > 0 && !ss.Ended {
				per[ss.ID] = float64(n) / t.span.Seconds()
				r.total += per[ss.ID]
			}
		}
		r.session, r.base, r.final = per, snap, true
		return
	}
	if r.base == nil {
		r.base = snap
		return
	}
	dt := snap.At.Sub(r.base.At).Seconds()
	if dt < rateWindow.Seconds() {
		return
	}
	per := make(map[uint64]float64, len(snap.Sessions))
	old := r.base.Sessions
	j := 0
	for _, ss := range snap.Sessions {
		for j < len(old) && old[j].ID < ss.ID {
			j++
		}
		var before uint64
		if j < len(old) && old[j].ID == ss.ID {
			before = old[j].Counts.Total()
		}
		if n := ss.Counts.Total() - min(before, ss.Counts.Total()); n > 0 && !ss.Ended {
			per[ss.ID] = float64(n) / dt
		}
	}
	// The header's rate counts every frame that crossed in the interval:
	// a tap whose sessions each live under a second carries frames that
	// no row, its session ended, shows. At the last read, nothing more
	// comes: it is the rows' summed, the frames of the sessions still
	// live. Counted from all the frames, a capture read at once, one
	// interval of its time, showed its whole average when every row said
	// 0, its sessions ended.
	if last {
		r.total = 0
		for _, v := range per {
			r.total += v
		}
	} else {
		r.total = float64(snap.Totals.Total()-min(snap.Totals.Total(), r.base.Totals.Total())) / dt
	}
	r.session = per
	r.base = snap
}
