package tui

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/muxtop/muxtop/live"
)

// leakTrend measures how fast the suspected leaks grow, as a user would
// by timing the header: it samples the snapshot's count of suspected
// leaks and each open LEAK finding's count, at most once a second, and
// keeps the samples of the last minute and the one before them. The
// growths are remade with each sample, never changed after: panes may
// keep them.
type leakTrend struct {
	samples []leakSample
	total   growth
	by      map[uint64]growth // by LEAK finding ID
}

// leakSample is the leak counts of one snapshot.
type leakSample struct {
	at    time.Time
	total int
	by    []idCount // the open LEAK findings' counts, by ID
}

type idCount struct {
	id uint64
	n  int
}

// growth is how a count went from from to to over span.
type growth struct {
	from, to int
	span     time.Duration
}

const (
	// trendWindow is how far back a growth is measured.
	trendWindow = time.Minute
	// trendEvery is how often the counts are sampled.
	trendEvery = time.Second
	// trendMin is the shortest span a growth is told over: a rate of the
	// first seconds says little.
	trendMin = 10 * time.Second
)

// update samples snap, once its findings have been evaluated, a second
// or more after the latest sample; a clock that went back starts over.
func (t *leakTrend) update(snap *live.Snapshot) {
	if snap == nil || snap.Evaluated.IsZero() {
		return
	}
	if n := len(t.samples); n > 0 {
		if d := snap.At.Sub(t.samples[n-1].at); d < 0 {
			*t = leakTrend{}
		} else if d < trendEvery {
			return
		}
	}
	s := leakSample{at: snap.At, total: snap.Leaks}
	for _, f := range snap.Findings {
		if f.Code == live.CodeLeak {
			s.by = append(s.by, idCount{f.ID, int(f.Evidence.Count)})
		}
	}
	slices.SortFunc(s.by, func(a, b idCount) int { return cmp.Compare(a.id, b.id) })
	i := 0
	for i+1 < len(t.samples) && !t.samples[i+1].at.After(s.at.Add(-trendWindow)) {
		i++ // the sample after it is as old as the window: measure from that one
	}
	// A new slice: models are values, and an older copy may still be drawn.
	t.samples = append(slices.Clip(t.samples[i:]), s)
	first := t.samples[0]
	t.total = growth{from: first.total, to: s.total, span: s.at.Sub(first.at)}
	t.by = make(map[uint64]growth, len(s.by))
	for _, c := range s.by {
		// From the finding's first sample in the window: it may have
		// opened since its start.
		for _, o := range t.samples {
			if j, ok := slices.BinarySearchFunc(o.by, c.id, func(e idCount, id uint64) int { return cmp.Compare(e.id, id) }); ok {
				t.by[c.id] = growth{from: o.by[j].n, to: c.n, span: s.at.Sub(o.at)}
				break
			}
		}
	}
}

// told reports whether the growth spans long enough to be told.
func (g growth) told() bool { return g.span >= trendMin }

// over names the growth's span: "the last minute", or "the last 20s".
func (g growth) over() string {
	if g.span >= trendWindow-trendEvery/2 {
		return "the last minute"
	}
	return "the last " + wholeSeconds(g.span)
}

// perTime is the growth's rate, signed: "+3.3/s", or per minute below a
// tenth a second, "+1.2/min"; "" for none.
func (g growth) perTime() string {
	d := g.to - g.from
	if d == 0 || g.span <= 0 {
		return ""
	}
	r := float64(d) / g.span.Seconds()
	unit := "/s"
	if math.Abs(r) < 0.05 {
		r, unit = r*60, "/min"
	}
	sign := "+"
	if r < 0 {
		sign, r = "-", -r
	}
	return sign + rate(r) + unit
}

// words says a LEAK's growth in its detail: "growing: +180 streams in the
// last minute, +3.0/s", "shrinking: …", or "steady: no net change in the
// last minute". A count that came back to where it was is no net change,
// not "no new streams": as many may have opened as closed.
func (g growth) words() string {
	d := g.to - g.from
	switch {
	case d > 0:
		return "growing: +" + plural(uint64(d), "stream") + " in " + g.over() + ", " + g.perTime()
	case d < 0:
		return "shrinking: -" + plural(uint64(-d), "stream") + " in " + g.over() + ", " + g.perTime()
	}
	return "steady: no net change in " + g.over()
}

// String is the growth's rate and span, for tests and logs.
func (g growth) String() string {
	return strconv.Itoa(g.from) + "→" + strconv.Itoa(g.to) + " in " + g.span.String()
}
