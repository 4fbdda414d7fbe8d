package tui

import (
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// Every read of the capture runs in a tea.Cmd: Update only applies what
// a read found.

// source is where the model reads the capture.
type source struct {
	reg *live.Registry
	// snapshot is the registry's SnapshotWith, or a fixed clock's in tests.
	snapshot func(live.SnapshotOptions) *live.Snapshot
	// status is Options.Status.
	status func() live.Status
	// idle is Options.Idle.
	idle func() time.Duration
	// waiting is Options.Waiting.
	waiting func() string
	// clock times a read; nil means time.Now. Tests fix it.
	clock func() time.Time
}

// readReq is what one read asks for.
type readReq struct {
	opts live.SnapshotOptions
	// freeze asks for the picture a paused view shows: every session's
	// streams, so that moving around it needs no other.
	freeze bool
	// paused says the view is paused: the read only sees what is new.
	paused bool
	// last says the capture is read whole (Options.Done) and the rates
	// are not yet its last second's: the read counts them (lastSecond).
	last   bool
	frames indexReq
}

// snapshotMsg is what one read found.
type snapshotMsg struct {
	snap   *live.Snapshot
	status live.Status
	freeze bool
	frames framesRead
	// rates are the frames per second of each session, filled in by the
	// root model for the panes.
	rates map[uint64]float64
	// idle is Options.Idle's answer; stale, filled in by the root model,
	// says the rates are those of the last packet (idle is not 0).
	idle time.Duration
	// waiting is Options.Waiting's answer: why no session has come yet.
	waiting string
	stale   bool
	// tail is the last second's frames, for a readReq.last.
	tail *tail
	// took is how long the read took, by the wall clock.
	took time.Duration
}

// read takes a snapshot and reads the frames pane's records.
func read(src source, req readReq) snapshotMsg {
	now := src.clock
	if now == nil {
		now = time.Now
	}
	start := now()
	snap := src.snapshot(req.opts)
	msg := snapshotMsg{snap: snap, freeze: req.freeze}
	if src.status != nil && !req.paused {
		msg.status = src.status()
	}
	if src.idle != nil {
		msg.idle = src.idle()
	}
	if src.waiting != nil {
		msg.waiting = src.waiting()
	}
	if req.last && src.reg != nil {
		msg.tail = lastSecond(src.reg, snap.At)
	}
	// The frames pane sees no record the snapshot's counts do not.
	if req.frames.upTo == 0 {
		req.frames.upTo = snap.History.Next
	}
	msg.frames = readIndex(src.reg, req.frames, snap.History.First, req.paused)
	msg.took = now().Sub(start)
	return msg
}

// searchReq asks for the next (or previous) history record after (or
// before) seq from that match selects, reading back no further than first;
// going back from 0 is from the newest record as the search runs.
type searchReq struct {
	match   func(*live.Record) bool
	from    uint64
	first   uint64
	forward bool
	why     searchWhy
	// opts is the snapshot to take with the answer: the one that holds the
	// found record's session's streams.
	opts live.SnapshotOptions
	// paused says to take no snapshot: the paused view keeps its own.
	paused bool
	// For a violation: go to its session and stream even if history no
	// longer holds the record.
	session uint64
	sid     uint32
	// tries counts the matches this search follows that history evicted
	// before the frames pane could show them; missed is the latest's place.
	tries  int
	missed gotoMsg
}

// searchWhy says what a search is for: n, N, a new filter that selects
// nothing where the user is (or a match it went to that history evicted
// before it showed), or an entry of the violations list.
type searchWhy uint8

const (
	searchNext searchWhy = iota
	searchPrev
	searchFirst
	searchViolation
)

var searchNames = [...]string{"next", "previous", "first", "violation"}

// String returns what the search is for.
func (w searchWhy) String() string {
	if int(w) < len(searchNames) {
		return searchNames[w]
	}
	return "search(" + strconv.Itoa(int(w)) + ")"
}

// matchMsg is a search's answer: the record found (a copy) and a snapshot
// with its session's streams.
type matchMsg struct {
	req   searchReq
	rec   live.Record
	found bool
	snap  *live.Snapshot
}

// searchCmd runs a search.
func searchCmd(src source, req searchReq) tea.Cmd {
	return func() tea.Msg {
		from := req.from
		if from == 0 && !req.forward {
			from = src.reg.History().Next
		}
		rec, found := search(src.reg, req.match, from, req.first, req.forward)
		msg := matchMsg{req: req, rec: rec, found: found}
		if !req.paused && (!found || rec.Session != 0) { // a record of no one session keeps the picture
			id := req.session
			if found {
				id = rec.Session
			}
			o := req.opts
			o.Streams = func(s uint64) bool { return s == id }
			msg.snap = src.snapshot(o)
		}
		return msg
	}
}

// searchChunk is how many records a backward search reads at a time.
const searchChunk = 8192

// search returns the first history record after seq from that match
// selects, or with !forward the last one before it, reading back no
// further than seq first.
func search(reg *live.Registry, match func(*live.Record) bool, from, first uint64, forward bool) (live.Record, bool) {
	if forward {
		recs, _ := reg.Frames(live.Query{From: from + 1, Max: 1, Scan: max(reg.Config().History, 1), Match: match}, nil)
		if len(recs) == 0 {
			return live.Record{}, false
		}
		return recs[0], true
	}
	var found live.Record
	ok := false
	end := from
	last := func(r *live.Record) bool {
		if r.Seq < end && match(r) {
			found, ok = *r, true
			found.Payload = append([]byte(nil), r.Payload...)
		}
		return false
	}
	first = max(first, 1)
	for end > first {
		lo := max(first, end-min(end, searchChunk))
		reg.Frames(live.Query{From: lo, Scan: int(end - lo), Match: last}, nil)
		if ok {
			return found, true
		}
		end = lo
	}
	return live.Record{}, false
}
