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

// growth is how a count went from from to to over span; still is how
// long, up to the latest sample, the count has not changed.
type growth struct {
	from, to int
	span     time.Duration
	still    time.Duration
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
	t.total = growth{from: first.total, to: s.total, span: s.at.Sub(first.at),
		still: t.stillFor(func(o leakSample) (int, bool) { return o.total, true })}
	t.by = make(map[uint64]growth, len(s.by))
	for _, c := range s.by {
		countOf := func(o leakSample) (int, bool) {
			j, ok := slices.BinarySearchFunc(o.by, c.id, func(e idCount, id uint64) int { return cmp.Compare(e.id, id) })
			if !ok {
				return 0, false
			}
			return o.by[j].n, true
		}
		// From the finding's first sample in the window: it may have
		// opened since its start.
		for _, o := range t.samples {
			if n, ok := countOf(o); ok {
				t.by[c.id] = growth{from: n, to: c.n, span: s.at.Sub(o.at), still: t.stillFor(countOf)}
				break
			}
		}
	}
}

// stillFor is how long, up to the latest sample, the count that countOf
// reads from a sample (ok false where the sample has none) has been what
// it is at the latest: from the earliest sample of the run of equal
// counts that ends the window.
func (t *leakTrend) stillFor(countOf func(leakSample) (int, bool)) time.Duration {
	last := t.samples[len(t.samples)-1]
	now, _ := countOf(last)
	since := last.at
	for i := len(t.samples) - 2; i >= 0; i-- {
		if n, ok := countOf(t.samples[i]); !ok || n != now {
			break
		}
		since = t.samples[i].at
	}
	return last.at.Sub(since)
}

// told reports whether the growth spans long enough to be told.
func (g growth) told() bool { return g.span >= trendMin }

// steady reports whether the count has not changed for trendMin or
// more, and for at least as long as the span changed it before: a growth
// that came all at once, a burst of leaks long over, is then told as
// over, not as a rate that averages it across the span, which reads as a
// leak still growing ("+12/s over the last 41s" of a count unchanged for
// 35 s); a slow leak, a stream every 20 s, is still a rate between its
// steps.
// (As long to within a sample's interval: the samples' times are the
// snapshots', a little off the second.)
func (g growth) steady() bool {
	return g.still >= trendMin && g.still >= g.span-g.still-trendEvery/2
}

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
// last minute, +3.0/s", "shrinking: …", "steady: no net change in the
// last minute", or, for a count that changed and then held for trendMin,
// "steady: unchanged for the last 35s, after +492 streams in the 6s
// before". A count that came back to where it was is no net change, not
// "no new streams": as many may have opened as closed.
func (g growth) words() string {
	d := g.to - g.from
	if d != 0 && g.steady() {
		change := "+" + plural(uint64(d), "stream")
		if d < 0 {
			change = "-" + plural(uint64(-d), "stream")
		}
		return "steady: unchanged for the last " + wholeSeconds(g.still) + ", after " + change + " in the " + wholeSeconds(g.span-g.still) + " before"
	}
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
