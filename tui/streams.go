package tui

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/muxtop/muxtop/live"
)

// streamSort is the order of the streams pane; s cycles through them.
type streamSort uint8

const (
	sortID    streamSort = iota // stream id, as smux allocates them
	sortAge                     // live streams first, oldest first: the suspected leaks lead
	sortIdle                    // longest idle first
	sortBytes                   // most payload bytes first
	sortState                   // open, half-closed, closed, ended; then by id
	numSorts
)

var sortNames = [numSorts]string{"id", "age", "idle", "bytes", "state"}

// String returns the sort's name as the pane title shows it.
func (s streamSort) String() string {
	if s < numSorts {
		return sortNames[s]
	}
	return "unknown"
}

// streamCursor selects a row of the streams pane: the first row stands for
// all the session's records, the others are its streams (order holds their
// indices into SessionSnap.Streams in sort order), selected by id so the
// selection survives re-sorting.
type streamCursor struct {
	all      bool // the first row: the whole session
	chosen   bool // the user picked the row; until then it rests on the first stream
	id       uint32
	idx, top int // idx 0 is the session row, idx i the stream order[i-1]
	sort     streamSort
	order    []int
	// The order is recomputed only when the session picture or the sort changes.
	of     *live.SessionSnap
	sorted streamSort
}

// rows returns the rows of the streams pane.
func (c *streamCursor) rows() int {
	if c.of == nil {
		return 0
	}
	return len(c.order) + 1
}

// syncStreams sorts the selected session's streams and finds the selected
// row.
func (m *Model) syncStreams() {
	ss := m.selectedSession()
	c := &m.strm
	if ss == nil {
		c.order, c.of, c.idx, c.top, c.id, c.all = c.order[:0], nil, 0, 0, 0, true
		return
	}
	fresh := c.of == nil || c.of.ID != ss.ID
	if fresh || c.of != ss || c.sorted != c.sort {
		c.order = sortStreams(ss.Streams, c.sort, c.order[:0])
		c.of, c.sorted = ss, c.sort
	}
	// Until the user picks a row of the streams pane, its cursor rests on
	// the first stream, so enter on a session leads to a stream even when
	// the session had none yet at that moment.
	if fresh {
		c.chosen = false
	}
	if fresh || m.focus == paneSessions || !c.chosen {
		c.idx, c.top, c.all = 0, 0, len(c.order) == 0
		if !c.all {
			c.id = ss.Streams[c.order[0]].ID
		}
	}
	if c.all {
		c.idx = 0
	} else {
		for i, k := range c.order {
			if ss.Streams[k].ID == c.id {
				c.idx = i + 1
				break
			}
		}
	}
	c.idx = max(0, min(c.idx, len(c.order)))
	c.all = c.idx == 0
	if !c.all {
		c.id = ss.Streams[c.order[c.idx-1]].ID
	}
}

// selectStream selects stream sid of the selected session.
func (m *Model) selectStream(sid uint32) {
	m.strm.all, m.strm.id, m.strm.chosen = false, sid, true
	m.syncStreams()
}

// sortStreams returns the indices of streams in the order by.
func sortStreams(streams []live.StreamSnap, by streamSort, dst []int) []int {
	for i := range streams {
		dst = append(dst, i)
	}
	if by == sortID {
		return dst // Streams are in id order already.
	}
	slices.SortStableFunc(dst, func(a, b int) int {
		x, y := &streams[a], &streams[b]
		switch by {
		case sortAge:
			if c := cmp.Compare(rankLive(x), rankLive(y)); c != 0 {
				return c
			}
			return x.First.Compare(y.First)
		case sortIdle:
			if c := cmp.Compare(rankLive(x), rankLive(y)); c != 0 {
				return c
			}
			return x.Last.Compare(y.Last)
		case sortBytes:
			return cmp.Compare(y.Bytes[0]+y.Bytes[1], x.Bytes[0]+x.Bytes[1])
		case sortState:
			return cmp.Compare(x.State, y.State)
		}
		return 0
	})
	return dst
}

// rankLive puts live (open or half-closed) streams before the others.
func rankLive(s *live.StreamSnap) int {
	if s.State.Live() {
		return 0
	}
	return 1
}

// selectedStream returns the selected stream, or nil.
func (m *Model) selectedStream() *live.StreamSnap {
	ss := m.selectedSession()
	if ss == nil || m.strm.all || m.strm.idx == 0 {
		return nil
	}
	return &ss.Streams[m.strm.order[m.strm.idx-1]]
}

// streamColumns are the streams pane's columns; like the sessions pane's,
// each is as wide as the longest value it can hold.
var streamColumns = []column{
	{title: "sid", w: 6, right: true, prio: 100},
	{title: "by", w: 2, prio: 55},
	{title: "state", w: 12, prio: 95},
	{title: "→fr", w: 5, right: true, prio: 45},
	{title: "←fr", w: 5, right: true, prio: 45},
	{title: "→bytes", w: 6, right: true, prio: 60},
	{title: "←bytes", w: 6, right: true, prio: 60},
	{title: "age", w: 6, right: true, prio: 90},
	{title: "idle", w: 5, right: true, prio: 70},
	{title: "reply", w: 5, right: true, prio: 50},
	{title: "in-flight/window", w: 21, prio: 85, flex: true},
}

// flowColumn is the index of the v2 flow-control column, dropped for v1 sessions.
const flowColumn = 10

// streamCols returns the streams pane's columns for the selected session:
// the flow column only in v2, the id column as wide as the largest id.
func (m *Model) streamCols() []column {
	ss := m.selectedSession()
	cols := streamColumns
	if ss == nil || ss.Version != 2 {
		cols = cols[:flowColumn]
	}
	if ss != nil && len(ss.Streams) > 0 {
		if n := digits(uint64(ss.Streams[len(ss.Streams)-1].ID)); n > cols[0].w {
			cols = slices.Clone(cols)
			cols[0].w = n
		}
	}
	return cols
}

// renderStreams draws the streams pane's body for the selected session.
func (m *Model) renderStreams(w, h int, focused bool) []string {
	if h <= 0 {
		return nil
	}
	st := &m.st
	ss := m.selectedSession()
	cols := m.streamCols()
	ws := layoutColumns(cols, w)
	out := []string{tableHeading(st, cols, ws, w)}
	if ss == nil {
		return out
	}
	rows := m.strm.rows()
	top := scroll(m.strm.top, m.strm.idx, rows, h-1)
	for i := top; i < rows && len(out) < h; i++ {
		var cells []cell
		if i == 0 {
			cells = m.sessionRowCells(ss)
		} else {
			cells = m.streamCells(&ss.Streams[m.strm.order[i-1]], ss.Ended)
		}
		out = append(out, tableRow(st, cols, ws, cells, w, i == m.strm.idx, focused))
	}
	return out
}

// sessionRowCells is the streams pane's first row: the whole session.
func (m *Model) sessionRowCells(ss *live.SessionSnap) []cell {
	c := &ss.Counts
	now := m.now()
	if ss.Ended {
		now = ss.End
	}
	return []cell{
		{"all", m.st.bold},
		{"", style{}},
		{"session " + strconv.FormatUint(ss.ID, 10), m.st.bold},
		{count(c.FramesDir(live.ClientToServer)), style{}},
		{count(c.FramesDir(live.ServerToClient)), style{}},
		{size(c.BytesDir(live.ClientToServer)), style{}},
		{size(c.BytesDir(live.ServerToClient)), style{}},
		{dur(now.Sub(ss.Start)), style{}},
		{dur(now.Sub(ss.Last)), style{}},
		{"", style{}},
		{"", style{}},
	}
}

func (m *Model) streamCells(s *live.StreamSnap, ended bool) []cell {
	st := &m.st
	base := style{}
	if !s.State.Live() {
		base = st.dim
	}
	now := m.now()
	if ended {
		now = s.Last
	}
	age := dur(now.Sub(s.First))
	as := base
	if !ended && m.leak(s) {
		age, as = age+"!", st.warn
	}
	reply := "-"
	if s.FirstReply > 0 {
		reply = dur(s.FirstReply)
	}
	cells := []cell{
		{strconv.FormatUint(uint64(s.ID), 10), base},
		{s.Opener.Letter(), base},
		{s.State.String(), base},
		{count(s.Frames[0]), base},
		{count(s.Frames[1]), base},
		{size(s.Bytes[0]), base},
		{size(s.Bytes[1]), base},
		{age, as},
		{dur(now.Sub(s.Last)), base},
		{reply, base},
	}
	// The flow column shows the direction nearest its window as plain
	// numbers, and STALLED only when its writer is held back.
	d := live.ClientToServer
	if f := s.Flow; fill(f[1]) > fill(f[0]) {
		d = live.ServerToClient
	}
	sd, stalled := s.Stalled(m.snap.At, m.snap.StallAfter)
	if stalled {
		d = sd
	}
	f := s.Flow[d]
	in := f.InFlight()
	flow := d.String() + " " + size(uint64(max(in, 0))) + "/" + size(uint64(f.Window()))
	fs := base
	switch {
	case in < 0:
		// smux's writer fails: never show a wrapped number.
		flow, fs = d.String()+" consumed>sent", st.bad
	case stalled:
		flow, fs = flow+" STALLED", st.bad
	}
	return append(cells, cell{flow, fs})
}

// fill is how much of its window a direction has in flight.
func fill(f live.Flow) float64 {
	if f.Window() == 0 {
		return 1
	}
	return float64(f.InFlight()) / float64(f.Window())
}

// streamsTitle is the streams pane's title.
func (m *Model) streamsTitle() string {
	ss := m.selectedSession()
	if ss == nil {
		return "Streams"
	}
	s := "Streams of session " + strconv.FormatUint(ss.ID, 10) + " · " + strconv.Itoa(ss.Open) + " open"
	if n := ss.Leaks; n > 0 {
		s += " · " + plural(uint64(n), "suspected leak")
	}
	s += " · sort " + m.strm.sort.String()
	if ss.Leaks > 0 && m.strm.sort == sortID {
		s += " (s: by age)"
	}
	if n := ss.Closed.Streams; n > 0 {
		s += " · " + grouped(n) + " closed folded"
	}
	return s
}
