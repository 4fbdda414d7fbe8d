package tui

import (
	"time"

	"github.com/muxtop/muxtop/live"
)

// rates are frames per second, measured between snapshots at least a
// second apart, like top's: steady enough to read at 10 Hz.
type rates struct {
	base    *live.Snapshot
	total   float64
	session map[uint64]float64
}

// rateWindow is the shortest interval rates are measured over.
const rateWindow = time.Second

func (r *rates) update(snap *live.Snapshot) {
	if r.base == nil {
		r.base = snap
		return
	}
	dt := snap.At.Sub(r.base.At).Seconds()
	if dt < rateWindow.Seconds() {
		return
	}
	r.total = float64(snap.Totals.Total()-min(snap.Totals.Total(), r.base.Totals.Total())) / dt
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
	r.session = per
	r.base = snap
}
