package live

import (
	"slices"
	"sort"
	"time"
)

// RecentResolved is how long a resolved finding counts as recent: the
// UI lists the findings resolved within it of a snapshot's time, and
// Snapshot.ResolvedRecent counts them.
const RecentResolved = 5 * time.Minute

// maxResolvedTimes bounds resolvedTimes: the instants findings resolved
// at within RecentResolved (and a minute's margin) of the latest. Findings
// resolve at an evaluation's instant, every 100 ms of the watch's clock,
// or at the stop: 3,600 instants in 6 minutes. Past the bound the oldest
// instants are dropped, and the count may miss theirs.
const maxResolvedTimes = 8192

// resolvedAt is an instant findings resolved at, Unix ns, and how many
// had resolved by its end, since the start.
type resolvedAt struct {
	ns    int64
	total uint64
}

// resolvedTimes counts the findings resolved recently, exactly, as the
// resolved list, MaxResolved long, cannot: one entry per instant findings
// resolved at, in time order. It only appends, and drops from the front:
// an entry a published view holds is never written again. engine.mu
// guards it.
type resolvedTimes struct {
	at     []resolvedAt
	start  int    // at[start:] are the entries; the ones before were dropped
	shared int    // at[:shared] may be in a published view
	total  uint64 // resolved since the start
}

// add counts a finding resolved at ns.
func (t *resolvedTimes) add(ns int64) {
	t.total++
	if n := len(t.at); n > t.start && n > t.shared && t.at[n-1].ns == ns {
		t.at[n-1].total = t.total
		return
	}
	t.at = append(t.at, resolvedAt{ns: ns, total: t.total})
	keep := ns - int64(RecentResolved+time.Minute)
	for t.start < len(t.at)-1 && (t.at[t.start].ns < keep || len(t.at)-t.start > maxResolvedTimes) {
		t.start++
	}
	if t.start > 1024 && t.start > len(t.at)/2 {
		// A new array: a published view may still read the old one.
		t.at, t.start, t.shared = slices.Clone(t.at[t.start:]), 0, 0
	}
}

// view returns what a snapshot counts from, until the next add.
func (t *resolvedTimes) view() recentView {
	t.shared = len(t.at)
	v := recentView{at: t.at[t.start:len(t.at):len(t.at)]}
	if t.start > 0 {
		v.before = t.at[t.start-1].total
	}
	return v
}

// recentView is a resolvedTimes as published, immutable.
type recentView struct {
	at     []resolvedAt
	before uint64 // resolved before at[0]
}

// count returns how many findings resolved within RecentResolved of now,
// or later.
func (v recentView) count(now time.Time) int {
	if len(v.at) == 0 {
		return 0
	}
	from := now.Add(-RecentResolved).UnixNano()
	i := sort.Search(len(v.at), func(i int) bool { return v.at[i].ns >= from })
	prior := v.before
	if i > 0 {
		prior = v.at[i-1].total
	}
	return int(v.at[len(v.at)-1].total - prior)
}
