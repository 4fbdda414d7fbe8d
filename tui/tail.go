package tui

import (
	"time"

	"github.com/muxtop/muxtop/live"
)

// tail is the frames of the last second of a capture read whole, by
// session, counted from history by their capture time: what the rates
// are once the reading ends. A capture read at once is, to the screen,
// one interval between two reads, and a rate measured over it is the
// whole capture's average, however quiet its end.
type tail struct {
	per map[uint64]uint64
	// span is the time they are counted over: rateWindow, or less where
	// history no longer holds the start of that second (more frames in
	// it than --history keeps): from the oldest record it holds.
	span time.Duration
}

// lastSecond counts history's frames of the second of capture time up
// to end, (end-rateWindow, end], by session, reading back from the
// newest record until one at or before the second's start. nil where
// history holds no record.
func lastSecond(reg *live.Registry, end time.Time) *tail {
	st := reg.History()
	if st.Len() == 0 {
		return nil
	}
	from := end.Add(-rateWindow)
	t := &tail{per: make(map[uint64]uint64), span: rateWindow}
	whole := false // a record at or before from was seen: history holds the whole second
	var oldest time.Time
	count := func(r *live.Record) bool {
		switch {
		case !r.At.After(from):
			whole = true
		case r.At.After(end):
		default:
			if oldest.IsZero() || r.At.Before(oldest) {
				oldest = r.At
			}
			if r.Kind == live.FrameRecord {
				t.per[r.Session]++
			}
		}
		return false
	}
	for hi := st.Next; hi > st.First && !whole; {
		lo := max(st.First, hi-min(hi, searchChunk))
		reg.Frames(live.Query{From: lo, Scan: int(hi - lo), Match: count}, nil)
		hi = lo
	}
	if !whole && st.First > 1 && !oldest.IsZero() && end.After(oldest) {
		t.span = end.Sub(oldest)
	}
	return t
}
