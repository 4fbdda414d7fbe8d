// Package tui is muxtop's interactive screen: sessions, their streams, the
// frames of a stream or session and the bytes of one frame, live.
//
// The Model reads the capture state only through live.Registry.Snapshot
// and live.Registry.Frames, on a tick of about 10 Hz: never one message
// per frame. Rendering works on the model's copy of that state and draws
// only the visible rows, so the cost of a frame on screen does not grow
// with traffic or history.
package tui

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// Options configure the screen.
type Options struct {
	// Title names the mode and addresses in the header, such as
	// "demo · gateway http://127.0.0.1:8080/rand".
	Title string
	// LeakAfter is how long a stream may stay open or half-closed before it
	// counts as a suspected leak; 0 means DefaultLeakAfter.
	LeakAfter time.Duration
	// StallAfter is how long a v2 writer must be held at a full window to
	// show STALLED; 0 means live.DefaultStallAfter.
	StallAfter time.Duration
	// Mouse turns on wheel scrolling and click-to-select. It is off by
	// default because it takes the terminal's own text selection away.
	Mouse bool
	// Status, if set, returns an extra status line, such as the demo's load
	// generator figures. It is called once per tick and must not block.
	Status func() string
	// NoColor draws without colour; the NO_COLOR environment variable does too.
	NoColor bool
}

// DefaultLeakAfter is Options.LeakAfter's default.
const DefaultLeakAfter = 30 * time.Second

// tickEvery is how often the model reads the registry.
const tickEvery = 100 * time.Millisecond

// pane is one of the screen's panes, in drill-down order.
type pane int

const (
	paneSessions pane = iota
	paneStreams
	paneFrames
	paneDetail
	numPanes
)

// scope is what the frames pane lists: a session's records, or one stream's frames.
type scope struct {
	session uint64
	sid     uint32
	stream  bool
}

// tickMsg asks the model to read the registry.
type tickMsg time.Time

func tick() tea.Cmd {
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Model is the Bubble Tea model of the screen.
type Model struct {
	reg      *live.Registry
	opts     Options
	snapshot func(live.SnapshotOptions) *live.Snapshot // the registry's, or a fixed clock's in tests
	loc      *time.Location
	keys     keyMap
	st       styles

	width, height int
	snap          *live.Snapshot // what the screen shows; frozen while paused
	rates         rates
	paused        bool
	behind        uint64 // records captured since the pause
	follow        bool
	focus         pane
	help          bool
	helpTop       int // the first line of the help shown
	status        string
	flash         string // a one-line answer to a key, such as y's
	flashAt       time.Time
	latest        time.Time // the time of the latest snapshot read, paused or not

	sess   sessionCursor
	strm   streamCursor
	scope  scope
	store  *frameStore
	view   *frameView
	fr     listCursor // the frames pane's cursor, an index into view
	detail struct {
		pos uint64 // the store position shown
		top int
	}
	viol violations

	filter   *filter
	input    lineInput
	inputOn  bool
	inputErr string
}

// listCursor is a cursor and the first visible row of a list.
type listCursor struct{ idx, top int }

// New returns the screen's model for reg.
func New(reg *live.Registry, opts Options) Model {
	return newModel(reg, opts, reg.SnapshotWith, time.Local)
}

func newModel(reg *live.Registry, opts Options, snapshot func(live.SnapshotOptions) *live.Snapshot, loc *time.Location) Model {
	if opts.LeakAfter <= 0 {
		opts.LeakAfter = DefaultLeakAfter
	}
	if os.Getenv("NO_COLOR") != "" {
		opts.NoColor = true
	}
	opts.Title = sanitize(opts.Title)
	m := Model{
		reg:      reg,
		opts:     opts,
		snapshot: snapshot,
		loc:      loc,
		keys:     newKeyMap(),
		st:       newStyles(opts.NoColor),
		store:    newFrameStore(reg.Config()),
		strm:     streamCursor{sort: sortID, all: true},
	}
	m.refresh(false)
	return m
}

// Init starts the tick.
func (m Model) Init() tea.Cmd { return tick() }

// Update handles a message; it never blocks.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tickMsg:
		m.refresh(false)
		return m, tick()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		if m.inputOn {
			cmd = m.updateInput(msg)
		} else {
			cmd = m.updateKey(msg)
		}
	case tea.MouseWheelMsg:
		if m.opts.Mouse {
			m.wheel(msg.Mouse())
		}
	case tea.MouseClickMsg:
		if m.opts.Mouse {
			m.click(msg.Mouse())
		}
	case tea.PasteMsg:
		if m.inputOn {
			m.input.insert(msg.Content)
		}
	}
	m.sync()
	if _, ok := msg.(tickMsg); !ok {
		m.ensureStreams()
	}
	return m, cmd
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

// refresh reads the registry: a snapshot, with every session's streams if
// all, and the records added since the last tick. While paused it only
// counts what it is missing.
func (m *Model) refresh(all bool) {
	snap := m.snapshot(m.snapOptions(all))
	m.latest = snap.At
	if m.flash != "" && snap.At.Sub(m.flashAt) >= flashFor {
		m.flash = ""
	}
	if m.paused && m.snap != nil {
		m.behind = snap.History.Next - min(snap.History.Next, m.store.next)
		return
	}
	if m.opts.Status != nil {
		m.status = sanitize(m.opts.Status())
	}
	m.rates.update(snap)
	m.snap = snap
	from, to := m.store.ingest(m.reg, snap.History.Next)
	if m.view != nil {
		m.trimView()
		m.view.add(m.store, from, to)
	}
	if m.viol.show {
		m.viol.collect(snap)
	}
	m.sync()
}

// now is the time of the shown snapshot: render functions never read the clock.
func (m *Model) now() time.Time { return m.snap.At }

// sync makes the selections, the frames view and the scroll positions
// agree with the snapshot and the focus, after any change.
func (m *Model) sync() {
	m.syncSessions()
	m.syncStreams()
	switch m.focus {
	case paneSessions:
		m.scope = scope{session: m.sess.id}
	case paneStreams:
		if st := m.selectedStream(); st != nil {
			m.scope = scope{session: m.sess.id, sid: st.ID, stream: true}
		} else {
			m.scope = scope{session: m.sess.id}
		}
	}
	m.syncView()
	n := m.view.len()
	if m.focus < paneFrames || m.follow {
		m.fr.idx = n - 1
	}
	m.fr.idx = max(0, min(m.fr.idx, n-1))
	pos := uint64(0)
	if n > 0 {
		pos = m.view.at(m.fr.idx)
	}
	if pos != m.detail.pos {
		m.detail.pos, m.detail.top = pos, 0
	}
	if m.width > 0 {
		l := m.layout()
		m.sess.top = scroll(m.sess.top, m.sess.idx, len(m.snap.Sessions), l.sessions.tableRows())
		m.strm.top = scroll(m.strm.top, m.strm.idx, m.strm.rows(), l.streams.tableRows())
		m.fr.top = m.framesTop(l.frames.rows())
		m.detail.top = max(0, min(m.detail.top, m.detailLen(l.detail.w-2)-l.detail.rows()))
		m.viol.top = scroll(m.viol.top, m.viol.idx, len(m.viol.list), l.viol.rows()-violFooter-1)
	}
}

// framesTop returns the first visible row of the frames pane: the tail
// when the focus is above it, else whatever keeps the cursor in view.
func (m *Model) framesTop(rows int) int {
	n := m.view.len()
	if m.focus < paneFrames || m.follow {
		return max(0, n-rows)
	}
	return scroll(m.fr.top, m.fr.idx, n, rows)
}

// syncView rebuilds the frames view when its scope or filter changed.
func (m *Model) syncView() {
	key := viewKey{scope: m.scope}
	if m.filter != nil {
		key.filter = m.filter.text
	}
	if m.view != nil && m.view.key == key {
		return
	}
	v := &frameView{key: key, match: matcher(m.scope, m.filter)}
	v.add(m.store, m.store.head, m.store.tail)
	m.view = v
	m.fr = listCursor{idx: v.len() - 1}
}

// matcher returns the predicate of a frames view.
func matcher(sc scope, f *filter) func(*live.Record) bool {
	return func(r *live.Record) bool {
		if r.Session != sc.session || sc.session == 0 {
			return false
		}
		if sc.stream && (r.Kind != live.FrameRecord || r.Header.StreamID() != sc.sid) {
			return false
		}
		return f == nil || f.match(r)
	}
}

// trimView drops evicted records from the view and moves the cursor with them.
func (m *Model) trimView() {
	n := m.view.trim(m.store.head)
	m.fr.idx = max(0, m.fr.idx-n)
	m.fr.top = max(0, m.fr.top-n)
}

// selectedFrame returns the record under the frames cursor, or nil.
func (m *Model) selectedFrame() *live.Record {
	if m.view == nil || m.view.len() == 0 {
		return nil
	}
	return m.store.get(m.view.at(max(0, min(m.fr.idx, m.view.len()-1))))
}

// snapOptions says what a snapshot copies: the streams of the selected
// session only (all of them with all), and leak counts.
func (m *Model) snapOptions(all bool) live.SnapshotOptions {
	o := live.SnapshotOptions{LeakAfter: m.opts.LeakAfter, StallAfter: m.opts.StallAfter}
	if !all {
		id := m.sess.id
		o.Streams = func(s uint64) bool { return s == id }
	}
	return o
}

// ensureStreams takes a new snapshot when the selected session's streams
// were not copied into the shown one: the selection moved since the tick.
// Only the snapshot: records and the status line wait for the tick. A
// paused view holds every session's streams.
func (m *Model) ensureStreams() {
	if ss := m.selectedSession(); ss != nil && ss.StreamsOmitted && !m.paused {
		m.snap = m.snapshot(m.snapOptions(false))
		m.sync()
	}
}

// leak reports whether a stream is a suspected leak.
func (m *Model) leak(st *live.StreamSnap) bool {
	return st.State.Live() && m.now().Sub(st.First) > m.opts.LeakAfter
}

// Run shows the screen on the terminal until the user quits or ctx is
// done, restores the terminal, and returns the registry's final snapshot
// so the caller can print a summary.
func Run(ctx context.Context, reg *live.Registry, opts Options) (*live.Snapshot, error) {
	return run(ctx, reg, opts)
}

func run(ctx context.Context, reg *live.Registry, opts Options, popts ...tea.ProgramOption) (*live.Snapshot, error) {
	p := tea.NewProgram(New(reg, opts), append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)...)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		err = nil // the caller asked us to stop
	}
	return reg.Snapshot(), err
}

// render draws the whole screen: never more lines than the height, never
// a line wider than the width.
func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	s := m.layout()
	lines := make([]string, 0, m.height)
	lines = append(lines, m.renderHeader(m.width)[:s.header]...)
	if s.helpBox.h > 0 {
		lines = append(lines, m.renderHelp(s.helpBox.w, s.helpBox.h)...)
	} else {
		var top []string
		sess := func(r rect) []string {
			return box(&m.st, m.sessionsTitle(), m.focus == paneSessions && !m.viol.show,
				m.renderSessions(r.w-2, r.rows(), m.focus == paneSessions && !m.viol.show), r.w, r.h)
		}
		strm := func(r rect) []string {
			return box(&m.st, m.streamsTitle(), m.focus == paneStreams && !m.viol.show,
				m.renderStreams(r.w-2, r.rows(), m.focus == paneStreams && !m.viol.show), r.w, r.h)
		}
		switch {
		case s.sessions.h > 0 && s.streams.h > 0:
			top = joinColumns(sess(s.sessions), strm(s.streams))
		case s.sessions.h > 0:
			top = sess(s.sessions)
		case s.streams.h > 0:
			top = strm(s.streams)
		}
		lines = append(lines, top...)
		if r := s.frames; r.h > 0 {
			focused := m.focus == paneFrames
			lines = append(lines, box(&m.st, m.framesTitle(), focused, m.renderFrames(r.w-2, r.rows(), focused), r.w, r.h)...)
		}
		if r := s.viol; r.h > 0 {
			lines = append(lines, box(&m.st, m.violationsTitle(), true, m.renderViolations(r.w-2, r.rows()), r.w, r.h)...)
		}
		if r := s.detail; r.h > 0 {
			lines = append(lines, box(&m.st, m.detailTitle(), m.focus == paneDetail && !m.viol.show, m.renderDetail(r.w-2, r.rows()), r.w, r.h)...)
		}
	}
	if s.footer > 0 {
		for len(lines) < m.height-s.footer {
			lines = append(lines, "")
		}
		lines = append(lines, m.renderInput(m.width)...)
	}
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	return strings.Join(lines, "\n")
}
