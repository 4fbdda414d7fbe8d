package tui

import (
	"slices"
	"sort"

	"github.com/muxtop/muxtop/live"
)

// The frames pane keeps no records of its own beyond the rows on screen:
// it keeps the seqs of the history records its view selects (8 bytes a
// record, at most history's size), and reads the visible rows' records
// from live's history on each read.

// scope is what the frames pane lists: a session's records, or one stream's frames.
type scope struct {
	session uint64
	sid     uint32
	stream  bool
}

// viewKey identifies what a frames view selects.
type viewKey struct {
	scope  scope
	filter string
}

// matcher returns the predicate of a frames view. It runs under a lock of
// live's history: it only compares.
func matcher(sc scope, f *filter) func(*live.Record) bool {
	return func(r *live.Record) bool {
		if r.Session != sc.session || sc.session == 0 {
			return false
		}
		if sc.stream && (r.Kind != live.FrameRecord || r.StreamID() != sc.sid) {
			return false
		}
		return f == nil || f.match(r)
	}
}

// frameIndex is the seqs of the records one view selects, oldest first:
// history order, which the taps keep causal.
type frameIndex struct {
	key   viewKey
	built bool
	seqs  []uint64
	start int    // seqs[start:] are the entries; the ones before were evicted
	next  uint64 // the seq to scan from
	// lapped: history had evicted records at the latest read, so a view
	// with no entries may have had some.
	lapped bool
	// dropped counts the entries trimmed as history evicted their records.
	dropped int
}

func (x *frameIndex) len() int { return len(x.seqs) - x.start }

func (x *frameIndex) at(i int) uint64 { return x.seqs[x.start+i] }

// find returns the index of seq, and whether the index holds it.
func (x *frameIndex) find(seq uint64) (int, bool) {
	live := x.seqs[x.start:]
	i := sort.Search(len(live), func(i int) bool { return live[i] >= seq })
	return i, i < len(live) && live[i] == seq
}

// tail returns a copy of the last n entries.
func (x *frameIndex) tail(n int) []uint64 {
	return slices.Clone(x.seqs[max(x.start, len(x.seqs)-n):])
}

// trim drops the entries older than first, the oldest seq history holds,
// and returns how many.
func (x *frameIndex) trim(first uint64) int {
	n, _ := x.find(first)
	x.start += n
	x.dropped += n
	if x.start > 1024 && x.start > len(x.seqs)/2 {
		// A new slice: models are values, and an older copy may still be drawn.
		x.seqs = slices.Clone(x.seqs[x.start:])
		x.start = 0
	}
	return n
}

// indexReq is what the frames pane asks of one read of the registry.
type indexReq struct {
	key   viewKey
	match func(*live.Record) bool
	// rebuild scans history from its oldest record; else from is where the
	// last scan stopped, and scan says whether to scan at all (not while
	// paused).
	rebuild bool
	from    uint64
	scan    bool
	// upTo, if not 0, bounds a scan: a paused view selects nothing newer.
	upTo uint64
	// The records to fetch: the last tail entries of the index after the
	// scan (tailSeqs are the index's last ones before it), or the first
	// head entries of a rebuilt index, or seqs.
	tail     int
	tailSeqs []uint64
	head     int
	seqs     []uint64
}

// framesRead is what one read found for the frames pane.
type framesRead struct {
	key     viewKey
	rebuilt bool
	from    uint64
	seqs    []uint64 // the entries found from from on (all of them when rebuilt)
	next    uint64
	// first is the oldest seq history held; trim says to drop older
	// entries (not while paused: the paused view keeps its rows).
	first uint64
	trim  bool
	rows  []row
}

// row is a fetched record of the frames pane; rec is nil when history no
// longer held it.
type row struct {
	seq uint64
	rec *live.Record
}

// readIndex scans history for req and fetches the records it asks for.
func readIndex(reg *live.Registry, req indexReq, first uint64, paused bool) framesRead {
	out := framesRead{key: req.key, rebuilt: req.rebuild, from: req.from, next: req.from, first: first, trim: !paused}
	if req.match == nil {
		return out
	}
	if req.rebuild || req.scan {
		from := req.from
		if req.rebuild {
			from = 0
		}
		out.seqs, out.next = scanIndex(reg, req.match, from, req.upTo)
	}
	want := req.seqs
	switch {
	case req.tail > 0:
		all := append(req.tailSeqs, out.seqs...)
		if req.rebuild {
			all = out.seqs
		}
		want = all[max(0, len(all)-req.tail):]
	case req.head > 0:
		want = out.seqs[:min(req.head, len(out.seqs))]
	}
	out.rows = fetchRows(reg, want)
	return out
}

// scanIndex returns the seqs of the history records from seq from (below
// upTo, if not 0) that match selects, and the seq to continue from. It
// copies no record. One read covers the whole ring.
func scanIndex(reg *live.Registry, match func(*live.Record) bool, from, upTo uint64) ([]uint64, uint64) {
	var seqs []uint64
	collect := func(r *live.Record) bool {
		if (upTo == 0 || r.Seq < upTo) && match(r) {
			seqs = append(seqs, r.Seq)
		}
		return false
	}
	q := live.Query{From: from, Scan: max(reg.Config().History, 1), Match: collect}
	if upTo > 0 {
		if from >= upTo {
			return nil, from
		}
		q.Scan = int(min(uint64(q.Scan), upTo-min(from, upTo)))
	}
	_, next := reg.Frames(q, nil)
	if upTo > 0 {
		next = min(next, upTo)
	}
	return seqs, max(next, from)
}

// fetchRows copies the history records with the given seqs, in seq order;
// a row's rec is nil when history no longer holds it. Runs of consecutive
// seqs take one read each, and payloads share one buffer.
func fetchRows(reg *live.Registry, seqs []uint64) []row {
	if len(seqs) == 0 {
		return nil
	}
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	recs := make([]live.Record, 0, len(seqs))
	var buf []byte
	var lo, hi uint64 // the run being read
	copyRec := func(r *live.Record) bool {
		if r.Seq < lo || r.Seq >= hi {
			return false
		}
		c := *r
		if len(r.Payload) > 0 {
			start := len(buf)
			buf = append(buf, r.Payload...)
			c.Payload = buf[start:len(buf):len(buf)]
		}
		recs = append(recs, c)
		return false
	}
	for i := 0; i < len(seqs); {
		j := i + 1
		for j < len(seqs) && seqs[j] == seqs[j-1]+1 {
			j++
		}
		lo, hi = seqs[i], seqs[j-1]+1
		reg.Frames(live.Query{From: lo, Scan: j - i, Match: copyRec}, nil)
		i = j
	}
	rows := make([]row, len(seqs))
	k := 0
	for i, s := range seqs {
		rows[i].seq = s
		for k < len(recs) && recs[k].Seq < s {
			k++
		}
		if k < len(recs) && recs[k].Seq == s {
			rows[i].rec = &recs[k]
		}
	}
	return rows
}
