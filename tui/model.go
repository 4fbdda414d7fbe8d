// Package tui is muxtop's interactive screen: sessions, their streams, the
// frames of a stream or session and the bytes of one frame, live.
//
// The screen is one root Model over one sub-model per pane, each in its
// own file with its own Update and a View that is a function of its state
// alone: sessions.go, streams.go, frames.go, detail.go, violations.go,
// help.go and input.go (the filter). Selection flows down as messages
// (messages.go). The root reads the capture in commands (read.go), about
// ten times a second and never one message per frame, routes keys to the
// focused pane, and places the panes (layout.go) when the size, the focus
// or an overlay changes.
//
// The frames pane keeps no copy of the history: an index of the seqs its
// view selects, and the records of the rows on screen (index.go).
package tui

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// Options configure the screen.
type Options struct {
	// Title names the mode and addresses in the header, such as
	// "demo · gateway http://127.0.0.1:8080/rand".
	Title string
	// LeakAfter is how long a stream must stay open or half-closed, and
	// idle since its latest frame, before it counts as a suspected leak
	// (LEAK); 0 means DefaultLeakAfter.
	LeakAfter time.Duration
	// StallAfter is how long a v2 writer must be held at a full window to
	// show STALLED; 0 means live.DefaultStallAfter.
	StallAfter time.Duration
	// Mouse turns on wheel scrolling and click-to-select. It is off by
	// default because it takes the terminal's own text selection away.
	Mouse bool
	// Status, if set, returns the watched system's figures, such as the
	// demo's load generator's, for a status line of their own. It is
	// called once per tick, from a command's goroutine, and must not block.
	Status func() live.Status
	// NoColor draws without colour; the NO_COLOR environment variable does too.
	NoColor bool
	// Done, if set, reports that what is watched has no more to give, as a
	// capture file read to its end: the model reads the registry once
	// more, then no longer ticks, and the header says [read] instead of
	// [live]. It is called from Update and must not block.
	Done func() bool
	// Idle, if set, says for how long, by the wall clock, what is watched
	// has given nothing, once that is long enough to say (0 otherwise):
	// a capture read from a pipe that stalled, whose own clock, packet
	// time, stands still. The header then says "no input for …", and the
	// rates, which the capture's clock measures, are shown as those of
	// the last packet, not as current. It is called once per tick, from a
	// command's goroutine, and must not block.
	Idle func() time.Duration
	// Waiting, if set, says why no session has come yet while there is
	// a reason to say (and "" otherwise), such as sniff's "no packets on
	// lo in 5s": the empty sessions pane says it where it would say
	// "waiting for sessions…". It is called once per tick, from a
	// command's goroutine, and must not block.
	Waiting func() string
}

// DefaultLeakAfter is Options.LeakAfter's default.
const DefaultLeakAfter = live.DefaultLeakAfter

// tickEvery is how often the model reads the registry.
const tickEvery = 100 * time.Millisecond

// readShare bounds the share of the time the ticks' reads take: after a
// read that took d, by the wall clock (waiting for a CPU included), no
// tick reads for readShare × d. A read of thousands of sessions costs
// milliseconds of CPU, and on a loaded machine over 100 ms of wall time:
// the ticks' reads then ran back to back, each tick during a read asking
// for another as it ended, and the UI took what CPU the proxy it runs
// beside could get (8 000 tapped sessions: request p50 from under 1 ms
// to 12-118 ms). Bounded, the screen refreshes less often as reads grow
// dear, the proxy keeps the rest.
const readShare = 10

// maxRest caps the rest after a read (readShare): a read that spanned a
// pause of the process (SIGSTOP, a VM or laptop suspended), which the
// wall clock counts, would else keep the screen still for ten times the
// pause.
const maxRest = 2 * time.Second

// pane is one of the screen's panes, in drill-down order.
type pane int

const (
	paneSessions pane = iota
	paneStreams
	paneFrames
	paneDetail
	numPanes
)

var paneNames = [numPanes]string{"sessions", "streams", "frames", "detail"}

// String returns the pane's name.
func (p pane) String() string {
	if p >= 0 && p < numPanes {
		return paneNames[p]
	}
	return "pane(" + strconv.Itoa(int(p)) + ")"
}

// Model is the Bubble Tea model of the screen.
type Model struct {
	src   source
	opts  Options
	keys  *keyMap
	th    *theme
	every time.Duration // how often to read the registry; 0: only when asked (tests)

	width, height int
	lay           screen
	focus         pane
	overlay       overlay

	snap    *live.Snapshot    // the picture shown; frozen while paused
	hist    live.HistoryStats // history as the latest read saw it, paused or not
	latest  time.Time         // the time of the latest read, paused or not
	rates   rates
	trend   leakTrend // how fast the suspected leaks grow
	status  live.Status
	idle    time.Duration // Options.Idle at the latest read
	paused  bool
	done    bool   // Options.Done said so: no more ticks
	frozen  bool   // the paused picture has arrived
	behind  uint64 // records captured since the pause
	filter  *filter
	flash   string // a one-line answer to a key, such as y's
	flashAt time.Time
	// resolved is snap's recently resolved findings (resolvedCount), and
	// halfClosed its half-closed suspected leaks (halfClosedLeaks),
	// counted as it came (show), not at each draw: what the header says.
	resolved, halfClosed int
	// A search's latest match was a record of no one session (a CHURN
	// finding's), which the frames pane cannot show: its seq, and the
	// frames pane's cursor then. While that cursor has not moved, n and N
	// go on from the match, not from the cursor.
	offSeq, offCursor uint64
	// sought is the latest match of the filter a search went to: its seq,
	// where it is, and how many matches before it history evicted before
	// the frames pane showed them.
	sought sought
	// A read is in flight; again asks for another as soon as it is done.
	reading, again bool
	// lastTick is the latest tick's time; rest, the first tick time at
	// which a tick reads again (readShare).
	lastTick, rest time.Time

	sessions sessionsPane
	streams  streamsPane
	frames   framesPane
	detail   detailPane
	viol     violationsPane
	find     findingsPane
	help     helpPane
	input    filterInput
}

// New returns the screen's model for reg. It reads the registry once, so
// that the first screen drawn is complete. A nil reg panics.
func New(reg *live.Registry, opts Options) Model {
	if reg == nil {
		panic("tui.New: nil *live.Registry")
	}
	return newModel(reg, opts, reg.SnapshotWith, time.Local, tickEvery)
}

func newModel(reg *live.Registry, opts Options, snapshot func(live.SnapshotOptions) *live.Snapshot, loc *time.Location, every time.Duration) Model {
	if opts.LeakAfter <= 0 {
		opts.LeakAfter = DefaultLeakAfter
	}
	if os.Getenv("NO_COLOR") != "" {
		opts.NoColor = true
	}
	opts.Title = printable.Text(opts.Title)
	keys := newKeyMap()
	m := Model{
		src:      source{reg: reg, snapshot: snapshot, status: opts.Status, idle: opts.Idle, waiting: opts.Waiting},
		opts:     opts,
		keys:     &keys,
		th:       &theme{styles: newStyles(opts.NoColor), loc: loc},
		every:    every,
		sessions: newSessionsPane(&keys),
		streams:  newStreamsPane(&keys, opts.LeakAfter),
		frames:   newFramesPane(&keys),
		detail:   newDetailPane(&keys),
		viol:     newViolationsPane(&keys),
		find:     newFindingsPane(&keys),
		help:     newHelpPane(&keys, opts.LeakAfter, reg.Config(), opts.Mouse),
	}
	m.relayout()
	return settle(m, m.read())
}

// settle runs cmd and the commands that follow from it, delivering their
// messages, until none is left. New uses it to start complete. The
// commands the model returns outside a tick never wait.
func settle(m Model, cmd tea.Cmd) Model {
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0 && n < 1000; n++ {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			next, cmd := m.Update(msg)
			m = next.(Model)
			queue = append(queue, cmd)
		}
	}
	return m
}

// Init starts the tick.
func (m Model) Init() tea.Cmd { return m.tick() }

// tick returns the command that asks for the next read.
func (m *Model) tick() tea.Cmd {
	if m.every <= 0 {
		return nil
	}
	return tea.Tick(m.every, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update handles a message. It never blocks: reads of the registry run
// in commands, and it applies what they found.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tickMsg:
		m.lastTick = time.Time(msg)
		if m.opts.Done != nil && m.opts.Done() {
			m.done = true // this read is the last: nothing changes after it
			m.again = true
		} else {
			cmd = m.tick()
			if !m.resting() {
				m.again = true
			}
		}
	case snapshotMsg:
		cmd = m.applyRead(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		cmd = m.key(msg)
	case tea.PasteMsg:
		if m.input.open {
			m.input, cmd = m.input.Update(msg)
		}
	case tea.MouseWheelMsg:
		if m.opts.Mouse {
			cmd = m.wheel(msg.Mouse())
		}
	case tea.MouseClickMsg:
		if m.opts.Mouse {
			cmd = m.click(msg.Mouse())
		}

	// Selection, down the panes. A message that no longer matches the
	// pane above (it moved on meanwhile) is dropped.
	case sessionSelectedMsg:
		if msg.id == m.sessions.id {
			m.streams, cmd = m.streams.Update(msg)
		}
	case sessionHiddenMsg:
		if msg.now == m.sessions.id {
			m.setFlash(hiddenFlash(msg))
		}
	case streamSelectedMsg:
		s := &m.streams
		if msg.session == s.session && msg.all == s.all && (s.all || msg.sid == s.id) {
			m.frames, cmd = m.frames.Update(msg)
		}
	case frameSelectedMsg:
		if (msg.rec == nil && m.frames.shown == 0) || (msg.rec != nil && msg.rec.Seq == m.frames.shown) {
			m.detail, cmd = m.detail.Update(msg)
		}
	case drillMsg:
		cmd = tea.Batch(m.setFocus(msg.to), m.updatePane(msg.to, msg))

	case filterMsg:
		m.filter = msg.f
		m.frames, cmd = m.frames.Update(msg)
	case noMatchHereMsg:
		cmd = m.search(searchFirst)
	case landMissedMsg:
		cmd = m.missed(msg.seq)
	case matchMsg:
		cmd = m.arrive(msg)
	case violationChosenMsg:
		cmd = m.gotoViolation(msg.v)
	case findingChosenMsg:
		cmd = m.gotoFinding(msg.f)
	case findingGotoMsg:
		cmd = m.arriveFinding(msg)
	}
	cmd = tea.Batch(cmd, m.relayout())
	if m.again || m.needRead() {
		cmd = tea.Batch(cmd, m.read())
	}
	return m, cmd
}

// resting reports whether the latest tick reads nothing: a read is in
// flight (the next tick's reads once it is done), or the latest took long
// enough that reading again now would take more than 1/readShare of the
// time. Only a ticking model rests (tests tick by hand).
func (m *Model) resting() bool {
	return m.every > 0 && (m.reading || m.lastTick.Before(m.rest))
}

// read returns the command that reads the registry, unless a read is in
// flight: then another follows it.
func (m *Model) read() tea.Cmd {
	if m.reading {
		m.again = true
		return nil
	}
	m.reading, m.again = true, false
	src, req := m.src, m.request()
	return func() tea.Msg { return read(src, req) }
}

// request says what the next read copies: the streams of the selected
// session only (of every session when the view pauses), and what the
// frames pane needs.
func (m *Model) request() readReq {
	o := live.SnapshotOptions{LeakAfter: m.opts.LeakAfter, StallAfter: m.opts.StallAfter}
	freeze := m.paused && !m.frozen
	if !freeze {
		id := m.sessions.id
		o.Streams = func(s uint64) bool { return s == id }
	}
	paused := m.paused && m.frozen
	var upTo uint64
	if paused {
		upTo = m.snap.History.Next
	}
	return readReq{opts: o, freeze: freeze, paused: paused, last: m.done && !m.rates.final, frames: m.frames.request(paused, upTo)}
}

// needRead reports whether the screen lacks something only a read brings:
// the picture a pause freezes, the selected session's streams, the frames
// pane's index or rows.
func (m *Model) needRead() bool {
	if m.paused && !m.frozen {
		return true
	}
	if !m.paused && m.snap != nil {
		if ss := m.snap.Session(m.sessions.id); ss != nil && ss.StreamsOmitted {
			return true
		}
	}
	return m.frames.needsRead()
}

// applyRead takes in a read. While paused only the clock, the count of
// what the pause is missing and the frames pane's rows change.
func (m *Model) applyRead(msg snapshotMsg) tea.Cmd {
	m.reading = false
	m.rest = m.lastTick.Add(min(readShare*msg.took, maxRest))
	m.latest, m.hist = msg.snap.At, msg.snap.History
	m.idle = msg.idle
	if m.flash != "" && m.latest.Sub(m.flashAt) >= flashFor {
		m.flash = ""
	}
	if m.paused && m.frozen && !msg.freeze {
		m.behind = msg.snap.History.Next - min(msg.snap.History.Next, m.snap.History.Next)
		var cmd tea.Cmd
		m.frames, cmd = m.frames.Update(msg.frames)
		return cmd
	}
	if msg.freeze {
		m.frozen, m.behind = true, 0
	}
	m.status = msg.status
	m.rates.update(msg.snap, m.done, msg.tail)
	m.trend.update(msg.snap)
	m.find.trend = m.trend.by
	m.show(msg.snap)
	msg.rates = m.rates.session
	msg.stale = m.idle > 0
	if m.done {
		m.sessions.over = nothingFound(m.status)
	}
	var c1, c2, c3 tea.Cmd
	m.sessions, c1 = m.sessions.Update(msg)
	m.streams, c2 = m.streams.Update(msg)
	switch m.overlay {
	case overlayViolations:
		m.viol, _ = m.viol.Update(msg)
	case overlayFindings:
		m.find, _ = m.find.Update(msg)
	}
	m.frames, c3 = m.frames.Update(msg.frames)
	return tea.Batch(c1, c2, c3)
}

// key handles a key: the filter input takes every key while open; the
// help, the keys that close it; the view's keys work from any pane; the
// rest go to the focused pane (or the violations list).
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	if m.input.open {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return cmd
	}
	k := m.keys
	// A message answers the key that made it: the next key is another
	// action, which says its own or nothing. In a capture read whole the
	// clock stands still, and flashFor alone would keep the message for
	// good, under actions it says nothing of.
	m.flash = ""
	if m.overlay == overlayHelp {
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help, k.Back):
			m.overlay, m.help.top = overlayNone, 0
		default:
			m.help, _ = m.help.Update(msg)
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.overlay = overlayHelp
	case key.Matches(msg, k.Back):
		return m.back()
	case key.Matches(msg, k.Filter):
		current := ""
		if m.filter != nil {
			current = m.filter.text
		}
		m.input = m.input.start(current)
	case key.Matches(msg, k.Pause):
		// Pausing asks for a picture with every session's streams;
		// resuming, for the present at once.
		m.paused, m.frozen, m.behind = !m.paused, false, 0
		m.again = !m.paused
	case key.Matches(msg, k.Follow):
		on := !m.frames.follow
		var cmd tea.Cmd
		if on && m.focus < paneFrames {
			cmd = m.setFocus(paneFrames)
		}
		var c2 tea.Cmd
		m.frames, c2 = m.frames.Update(followMsg{on: on})
		return tea.Batch(cmd, c2)
	case key.Matches(msg, k.Violations):
		if m.overlay == overlayViolations {
			m.overlay = overlayNone
		} else {
			m.overlay = overlayViolations
			m.viol, _ = m.viol.Update(snapshotMsg{snap: m.snap})
		}
	case key.Matches(msg, k.Findings):
		if m.overlay == overlayFindings {
			m.overlay = overlayNone
		} else {
			m.overlay = overlayFindings
			left := m.find.id
			m.find, _ = m.find.Update(snapshotMsg{snap: m.snap})
			m.find.reopen(left)
		}
	case key.Matches(msg, k.Sort):
		// A new order is for its first rows: show them, from the sessions
		// pane too (where, on a narrow screen, the streams are not in sight).
		// Of the session the sessions pane shows selected: its announcement
		// may not have come yet (a key right after j), and when it comes it
		// would make the streams pane start over, on the all row.
		var c0, c1, c2 tea.Cmd
		if m.streams.session != m.sessions.id {
			m.streams, c0 = m.streams.Update(sessionSelectedMsg{id: m.sessions.id})
		}
		m.streams, c1 = m.streams.Update(sortMsg{first: m.focus <= paneStreams})
		if m.focus == paneSessions && m.sessions.id != 0 {
			c2 = m.setFocus(paneStreams)
		}
		return tea.Batch(c0, c1, c2)
	case key.Matches(msg, k.SortSessions):
		var cmd tea.Cmd
		m.sessions, cmd = m.sessions.Update(sessionOrderMsg{})
		return cmd
	case key.Matches(msg, k.HideEnded):
		var cmd tea.Cmd
		m.sessions, cmd = m.sessions.Update(hideEndedMsg{})
		return cmd
	case key.Matches(msg, k.Copy):
		return m.copyPayload()
	case key.Matches(msg, k.NextMatch):
		return m.search(searchNext)
	case key.Matches(msg, k.PrevMatch):
		return m.search(searchPrev)
	case key.Matches(msg, k.NextPane):
		return m.setFocus((m.focus + 1) % numPanes)
	case key.Matches(msg, k.PrevPane):
		return m.setFocus((m.focus + numPanes - 1) % numPanes)
	default:
		var cmd tea.Cmd
		switch m.overlay {
		case overlayViolations:
			m.viol, cmd = m.viol.Update(msg)
		case overlayFindings:
			m.find, cmd = m.find.Update(msg)
		default:
			cmd = m.updatePane(m.focus, msg)
		}
		return cmd
	}
	return nil
}

// updatePane hands msg to pane p.
func (m *Model) updatePane(p pane, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch p {
	case paneSessions:
		m.sessions, cmd = m.sessions.Update(msg)
	case paneStreams:
		m.streams, cmd = m.streams.Update(msg)
	case paneFrames:
		m.frames, cmd = m.frames.Update(msg)
	case paneDetail:
		m.detail, cmd = m.detail.Update(msg)
	}
	return cmd
}

// setFocus moves the focus to p, closing the violations or findings
// list. Above the frames pane its cursor rests on the newest record.
func (m *Model) setFocus(p pane) tea.Cmd {
	if m.overlay == overlayViolations || m.overlay == overlayFindings {
		m.overlay = overlayNone
	}
	m.focus = p
	c1 := m.relayout() // the panes learn their new size first
	var c2 tea.Cmd
	m.frames, c2 = m.frames.Update(activeMsg{on: p >= paneFrames})
	return tea.Batch(c1, c2)
}

// back goes up one level: out of the violations or findings list, then
// the filter, then detail → frames → streams → sessions.
func (m *Model) back() tea.Cmd {
	var cmd tea.Cmd
	switch {
	case m.overlay == overlayViolations || m.overlay == overlayFindings:
		m.overlay = overlayNone
	case m.filter != nil:
		m.filter = nil
		m.frames, cmd = m.frames.Update(filterMsg{})
	case m.focus > paneSessions:
		cmd = m.setFocus(m.focus - 1)
	}
	return cmd
}

// search returns the command that looks for the next, previous or first
// record that matches the filter, in any session.
func (m *Model) search(why searchWhy) tea.Cmd {
	if m.filter == nil {
		m.setFlash("n/N: no filter; / sets one")
		return nil
	}
	return searchCmd(m.src, m.searchFor(why))
}

// searchFor returns the search for n (next), N (previous) or a new
// filter (first). n and N go on from the frame under the frames pane's
// cursor, whichever pane has the focus: n to newer records, N to older
// ones; history order is causal (a tap records a frame before its bytes
// leave). A new filter that selects nothing in the frames pane's view,
// and n with no match under the cursor, start where the user reads: in
// a live view at the present, going back to the newest match (the oldest
// is the next that history evicts, often before it shows), in a capture
// read to its end at its start, going on to the first. N with no match
// under the cursor goes back from the present, or from the paused
// picture's end.
func (m *Model) searchFor(why searchWhy) searchReq {
	f := m.filter
	req := searchReq{
		match:   func(r *live.Record) bool { return (r.Session != 0 || findingOf(r) != nil) && f.match(r) },
		first:   m.hist.First,
		forward: why != searchPrev,
		why:     why,
		opts:    live.SnapshotOptions{LeakAfter: m.opts.LeakAfter, StallAfter: m.opts.StallAfter},
		paused:  m.paused,
	}
	if why != searchFirst {
		req.from = m.frames.cursorSeq()
		if m.offSeq != 0 && req.from == m.offCursor {
			req.from = m.offSeq
		}
	}
	if req.from == 0 && (why == searchPrev || !m.done) {
		req.forward = false // from 0: the present, as the search runs
		if m.paused && m.snap != nil {
			req.from = m.snap.History.Next // the paused view shows nothing newer
		}
	}
	return req
}

// maxMissed is how many matches in a row, evicted before they showed, a
// new filter or n follows with a newer one.
const maxMissed = 3

// missed takes in that the frames pane could not land on the record with
// seq. Where that was the match a search went to, history evicted it
// before it showed: the search goes to the newest match instead (a few
// times at most), so that the pane never shows the stream of a match
// with no match in it, or says why.
func (m *Model) missed(seq uint64) tea.Cmd {
	s := m.sought
	if seq == 0 || seq != s.seq || m.filter == nil {
		return nil
	}
	m.sought = sought{}
	if s.tries >= maxMissed {
		m.setFlash("matches of " + m.filter.text + " leave history before they show: --history keeps more")
		return nil
	}
	req := m.searchFor(searchFirst)
	req.tries, req.missed = s.tries+1, s.at
	return searchCmd(m.src, req)
}

// gotoViolation returns the command that finds the record of a violation
// or anomaly in history, to go to it.
func (m *Model) gotoViolation(v violation) tea.Cmd {
	req := searchReq{
		match:   matchViolation(v),
		first:   m.hist.First,
		forward: true,
		why:     searchViolation,
		opts:    live.SnapshotOptions{LeakAfter: m.opts.LeakAfter, StallAfter: m.opts.StallAfter},
		paused:  m.paused,
		session: v.session,
	}
	if !v.framing {
		req.sid = v.sid
	}
	return searchCmd(m.src, req)
}

// gotoFinding returns the command that reads the picture of the session
// finding f concerns, with its streams, to go there. A finding of no one
// session (CHURN, SESSION_LEAK) goes nowhere: it says so, and where to
// look instead.
func (m *Model) gotoFinding(f *live.Finding) tea.Cmd {
	if f.Session == 0 {
		if f.Code == live.CodeSessionLeak {
			m.setFlash(sessionLeakFlash(f))
			return nil
		}
		m.setFlash(f.Code.String() + " concerns no one session: the sessions' end reasons say why they end")
		return nil
	}
	if m.paused {
		return emit(findingGotoMsg{f: f}) // the frozen picture has every session's streams
	}
	src, o := m.src, live.SnapshotOptions{LeakAfter: m.opts.LeakAfter, StallAfter: m.opts.StallAfter}
	id := f.Session
	o.Streams = func(s uint64) bool { return s == id }
	return func() tea.Msg { return findingGotoMsg{f: f, snap: src.snapshot(o)} }
}

// sessionLeakFlash is what enter on SESSION_LEAK f says: where its
// sessions are, and, as f's text does, whether its piled sessions hold
// a stream open: a session is idle with open streams or not (a session
// per request that leaves its stream open leaks as much).
func sessionLeakFlash(f *live.Finding) string {
	ev := &f.Evidence
	holding := "none holding a stream open"
	switch {
	case ev.Streams == ev.PiledSessions && ev.PiledSessions > 1:
		holding = "each holding a stream open"
	case ev.Streams != 0:
		holding = fmt.Sprintf("%d holding a stream open", ev.Streams)
	}
	piled := fmt.Sprintf("%d piled", ev.PiledSessions)
	if ev.PiledSessions != ev.Piled { // dialed together, some count as one
		piled = fmt.Sprintf("%d piled, from %d separate dials", ev.PiledSessions, ev.Piled)
	}
	return fmt.Sprintf("%s concerns no one session: see the idle sessions from %s to %s in the sessions pane (%s, %s)",
		f.Code, ev.ClientHost, ev.ServerAddr, piled, holding)
}

// show makes snap the picture shown, and counts its recently resolved
// findings for the header.
func (m *Model) show(snap *live.Snapshot) {
	m.snap, m.resolved, m.halfClosed = snap, resolvedCount(snap, recentlyResolved(snap)), halfClosedLeaks(snap)
}

// takeGotoSnap makes snap, the picture a goto fetched for the session it
// goes to, the one the sessions and streams panes show; not while paused,
// when the frozen picture stays. It returns the panes' commands.
func (m *Model) takeGotoSnap(snap *live.Snapshot) []tea.Cmd {
	if snap == nil || m.paused {
		return nil
	}
	m.latest, m.hist = snap.At, snap.History
	m.show(snap)
	sm := snapshotMsg{snap: snap, rates: m.rates.session}
	var c1, c2 tea.Cmd
	m.sessions, c1 = m.sessions.Update(sm)
	m.streams, c2 = m.streams.Update(sm)
	return []tea.Cmd{c1, c2}
}

// moveTo puts the sessions and streams panes' cursors where g says and
// batches their command after cmds.
func (m *Model) moveTo(g gotoMsg, cmds []tea.Cmd) tea.Cmd {
	m.sessions, _ = m.sessions.Update(g)
	var c tea.Cmd
	m.streams, c = m.streams.Update(g)
	return tea.Batch(append(cmds, c)...)
}

// arriveFinding goes where a finding leads, as enter does in the panes:
// a finding about a stream selects that stream in the streams pane, one
// about a whole session selects the session in the sessions pane; the
// frames pane shows the frames of the selection.
func (m *Model) arriveFinding(msg findingGotoMsg) tea.Cmd {
	f := msg.f
	cmds := m.takeGotoSnap(msg.snap)
	if m.snap.Session(f.Session) == nil {
		m.setFlash("session " + strconv.FormatUint(f.Session, 10) + " is no longer in the capture")
		return tea.Batch(cmds...)
	}
	to := paneSessions
	if f.Stream != 0 {
		to = paneStreams
	}
	cmds = append(cmds, m.setFocus(to))
	g := gotoMsg{session: f.Session, sid: f.Stream}
	return m.moveTo(g, cmds)
}

// arrive goes where a search led: the record's session, its stream (the
// whole session when the stream is not tracked) and the record itself,
// in the frames pane.
func (m *Model) arrive(msg matchMsg) tea.Cmd {
	req := msg.req
	if !msg.found && req.why != searchViolation {
		if m.filter != nil {
			switch {
			case req.tries > 0:
				m.setFlash("the match in " + placeOf(req.missed) + " left history before it showed; nothing in history matches " + m.filter.text + " now")
			case req.why == searchFirst || (req.why == searchNext && !req.forward):
				m.setFlash("nothing in history matches " + m.filter.text + " yet")
			default:
				m.setFlash("no more frames match " + m.filter.text)
			}
		}
		return nil
	}
	m.offSeq = 0
	if msg.found && msg.rec.Session == 0 {
		return m.arriveOff(msg)
	}
	// The picture of the session the record is in, with its streams.
	cmds := m.takeGotoSnap(msg.snap)
	g := gotoMsg{session: req.session, sid: req.sid}
	if msg.found {
		g = gotoMsg{session: msg.rec.Session, seq: msg.rec.Seq}
		if msg.rec.Kind == live.FrameRecord {
			g.sid = msg.rec.StreamID()
		}
	}
	switch {
	case req.tries > 0:
		m.setFlash(matchWord(req) + " match: " + placeOf(g) + " (the one in " + placeOf(req.missed) + " left history before it showed)")
	case req.why == searchFirst:
		m.setFlash(firstMatchFlash(matchWord(req), g, m.frames.scope)) // the view it leaves
	}
	if msg.found && req.why != searchViolation {
		m.sought = sought{seq: msg.rec.Seq, at: g, tries: req.tries}
	}
	cmds = append(cmds, m.setFocus(paneFrames))
	return m.moveTo(g, cmds)
}

// arriveOff goes where a search led to a record of no one session, a
// CHURN finding's, which no frames pane shows: to the finding, selected in
// the findings list while the list has it (5 minutes after it resolved),
// the sessions and frames panes as they were.
func (m *Model) arriveOff(msg matchMsg) tea.Cmd {
	m.offSeq, m.offCursor = msg.rec.Seq, m.frames.cursorSeq()
	f := msg.rec.Finding
	m.find.id = f.ID
	m.find, _ = m.find.Update(snapshotMsg{snap: m.snap})
	if len(m.find.list) == 0 || m.find.list[m.find.idx].ID != f.ID {
		m.setFlash(msg.rec.Kind.String() + " " + f.Code.String() + ", of no one session, not in the findings list shown: " + printable.Text(f.Text))
		return nil
	}
	m.overlay = overlayFindings
	m.setFlash(msg.rec.Kind.String() + " " + f.Code.String() + ", of no one session: selected in the findings list")
	return nil
}

// sought is where a search went: the match's seq and place, and how
// many matches before it history evicted before they showed.
type sought struct {
	seq   uint64
	at    gotoMsg
	tries int
}

// matchWord names the match a search found: the newest where it went
// back from the present, else the first.
func matchWord(req searchReq) string {
	if req.forward {
		return "first"
	}
	return "newest"
}

// placeOf names where a match is: "session 2, stream 7" or "session 2".
func placeOf(g gotoMsg) string {
	s := "session " + strconv.FormatUint(g.session, 10)
	if g.sid != 0 {
		s += ", stream " + strconv.FormatUint(uint64(g.sid), 10)
	}
	return s
}

// firstMatchFlash says where a new filter led when nothing the frames
// pane showed, in view from, matched it: to its newest (or first) match
// in history, at g, as word says. It names the view that had none, not
// "the frames shown": the pane shows the match's view by the time it is
// read, and its title counts the matches there. Where comes first, so
// that a narrow messages line keeps it.
func firstMatchFlash(word string, g gotoMsg, from scope) string {
	s := word + " match: " + placeOf(g)
	switch {
	case from.session == 0:
		return s
	case from.stream && from.session == g.session:
		return s + " (none in stream " + strconv.FormatUint(uint64(from.sid), 10) + ")"
	case from.stream:
		return s + " (none in stream " + strconv.FormatUint(uint64(from.sid), 10) + " of session " + strconv.FormatUint(from.session, 10) + ")"
	}
	return s + " (none in session " + strconv.FormatUint(from.session, 10) + ")"
}

// copyPayload copies the selected frame's captured payload to the
// clipboard as hex, with OSC 52.
func (m *Model) copyPayload() tea.Cmd {
	r := m.detail.rec
	if r == nil || r.Kind != live.FrameRecord || len(r.Payload) == 0 {
		m.setFlash("y: the selected frame has no payload to copy")
		return nil
	}
	msg := "copied " + strconv.Itoa(len(r.Payload)) + " payload bytes as hex"
	switch n := strconv.Itoa(int(r.PayloadLength())); {
	case r.Lost > 0:
		msg += " (those before the capture lost " + strconv.FormatInt(r.Lost, 10) + " of " + n + ")"
	case r.Truncated:
		msg += " (those --snaplen kept of " + n + ")"
	}
	m.setFlash(msg)
	return tea.SetClipboard(hex.EncodeToString(r.Payload))
}

// hiddenFlash says that the selected session ended and is hidden, and
// which one is selected instead.
func hiddenFlash(msg sessionHiddenMsg) string {
	s := "session " + strconv.FormatUint(msg.gone, 10) + " ended (hidden: e shows it)"
	if msg.now != 0 {
		s += "; session " + strconv.FormatUint(msg.now, 10) + " selected"
	}
	return s
}

func (m *Model) setFlash(s string) { m.flash, m.flashAt = s, m.latest }

// wheel scrolls the pane under the pointer by three rows.
func (m *Model) wheel(ms tea.Mouse) tea.Cmd {
	m.flash = "" // another action, as a key is
	d := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		d = -3
	case tea.MouseWheelDown:
		d = 3
	default:
		return nil
	}
	var cmd tea.Cmd
	switch m.overlay {
	case overlayHelp:
		m.help, _ = m.help.Update(moveMsg{d: d})
		return nil
	case overlayViolations:
		m.viol, _ = m.viol.Update(moveMsg{d: d})
		return nil
	case overlayFindings:
		m.find, _ = m.find.Update(moveMsg{d: d})
		return nil
	}
	if p, ok := m.lay.paneAt(ms.X, ms.Y); ok && p != m.focus {
		cmd = m.setFocus(p)
	}
	return tea.Batch(cmd, m.updatePane(m.focus, moveMsg{d: d}))
}

// click focuses the pane under the pointer and selects the row clicked.
func (m *Model) click(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft || m.overlay != overlayNone {
		return nil
	}
	m.flash = "" // another action, as a key is
	p, ok := m.lay.paneAt(ms.X, ms.Y)
	if !ok {
		return nil
	}
	r := [...]rect{paneSessions: m.lay.sessions, paneStreams: m.lay.streams, paneFrames: m.lay.frames, paneDetail: m.lay.detail}[p]
	return tea.Batch(m.setFocus(p), m.updatePane(p, clickMsg{row: ms.Y - r.y - 1}))
}

// relayout places the panes when the size, the focus or an overlay
// changed, and tells each pane its size.
func (m *Model) relayout() tea.Cmd {
	k := layoutKey{w: m.width, h: m.height, footer: m.input.lines(), focus: m.focus, overlay: m.overlay}
	k.header = min(headerLines(m.opts.Title, m.opts.Status != nil, m.width, m.height), max(m.height-k.footer, 0))
	if k == m.lay.key && m.lay != (screen{}) {
		return nil
	}
	m.lay = layout(k)
	l := &m.lay
	m.sessions.h = l.sessions.h
	m.streams.h = l.streams.h
	m.frames.h = l.frames.h
	m.detail.w, m.detail.h = l.detail.w, l.detail.h
	m.viol.h = l.viol.h
	m.find.w, m.find.h = l.find.w, l.find.h
	m.help.w, m.help.h = l.help.w, l.help.h
	var cmd tea.Cmd
	m.frames, cmd = m.frames.place()
	return cmd
}

// View draws the screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "muxtop"
	if m.opts.Mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

// render draws the whole screen from the panes' views: never more lines
// than the height, never a line wider than the width.
func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 || m.snap == nil {
		return ""
	}
	l, th := &m.lay, m.th
	lines := make([]string, 0, m.height)
	add := func(s string) { lines = append(lines, strings.Split(s, "\n")...) }
	hd := header{
		title: m.opts.Title, snap: m.snap, now: m.latest, rate: m.rates.total,
		paused: m.paused, behind: m.behind, follow: m.frames.follow, done: m.done,
		flash: m.flash, hasStatus: m.opts.Status != nil, status: m.status, idle: m.idle, leakAfter: m.opts.LeakAfter,
		leakGrowth: m.trend.total, resolved: m.resolved, halfClosed: m.halfClosed,
	}
	if m.filter != nil {
		hd.filter = m.filter.text
	}
	lines = append(lines, viewHeader(th, &hd, m.width, l.key.header)...)
	focused := func(p pane) bool { return m.focus == p && m.overlay == overlayNone }
	if r := l.help; r.h > 0 {
		add(m.help.View(th, r.w, r.h))
	} else {
		var sess, strm string
		if r := l.sessions; r.h > 0 {
			sess = m.sessions.View(th, r.w, r.h, focused(paneSessions))
		}
		if r := l.streams; r.h > 0 {
			strm = m.streams.View(th, r.w, r.h, focused(paneStreams))
		}
		switch {
		case sess != "" && strm != "":
			lines = append(lines, joinColumns(strings.Split(sess, "\n"), strings.Split(strm, "\n"))...)
		case sess != "":
			add(sess)
		case strm != "":
			add(strm)
		}
		fp, dp := m.frames, m.detail
		if r := l.frames; r.h > 0 {
			fp.head = m.scopeHead()
			add(fp.View(th, r.w, r.h, focused(paneFrames)))
			dp.note = fp.detailNote() // what the detail says of an empty pane
		}
		if r := l.viol; r.h > 0 {
			add(m.viol.View(th, r.w, r.h))
		}
		if r := l.find; r.h > 0 {
			add(m.find.View(th, r.w, r.h))
		}
		if r := l.detail; r.h > 0 {
			add(dp.View(th, r.w, r.h, focused(paneDetail)))
		}
	}
	if f := l.key.footer; f > 0 {
		for len(lines) < m.height-f {
			lines = append(lines, "")
		}
		add(m.input.View(th, m.width))
	}
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	return strings.Join(lines, "\n")
}

// scopeHead returns the first bytes of the stream the frames pane
// shows, as the streams pane last saw it, or nil.
func (m *Model) scopeHead() *[2]live.FirstBytes {
	sc := m.frames.scope
	if !sc.stream || m.streams.session != sc.session {
		return nil
	}
	if st := m.streams.stream(sc.sid); st != nil {
		return &st.Head
	}
	if p := m.streams.pinned; p != nil && p.ID == sc.sid {
		return &p.Head
	}
	return nil
}

// Run shows the screen on the terminal until the user quits or ctx is
// done, and restores the terminal. It takes no final snapshot: a caller
// that prints a summary takes its own, after stopping what it watches
// (with 100,000 open streams a snapshot takes up to half a second, which
// would delay the stop the user asked for). A nil reg panics.
func Run(ctx context.Context, reg *live.Registry, opts Options) error {
	if reg == nil {
		panic("tui.Run: nil *live.Registry")
	}
	return run(ctx, reg, opts)
}

func run(ctx context.Context, reg *live.Registry, opts Options, popts ...tea.ProgramOption) error {
	p := tea.NewProgram(New(reg, opts), append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)...)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		err = nil // the caller asked us to stop
	}
	return err
}
