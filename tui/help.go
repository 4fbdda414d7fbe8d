package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// helpPane is the help overlay: every key of the keyMap and notes on what
// the screen shows.
type helpPane struct {
	keys      *keyMap
	leakAfter time.Duration
	closed    live.Config // its ClosedStreams and StreamBudget: the closed streams sessions keep in detail
	mouse     bool
	top       int // the first line shown
	w, h      int
}

func newHelpPane(keys *keyMap, leakAfter time.Duration, closed live.Config, mouse bool) helpPane {
	return helpPane{keys: keys, leakAfter: leakAfter, closed: closed, mouse: mouse}
}

// Update scrolls the help.
func (p helpPane) Update(msg tea.Msg) (helpPane, tea.Cmd) {
	if d, ok := p.keys.step(msg, p.h-2); ok {
		p.scroll(d)
	}
	return p, nil
}

// scroll moves the help by d lines, within its length.
func (p *helpPane) scroll(d int) {
	var plain theme // the styles change no line count
	n := len(p.lines(&plain, p.w-2, p.h-2)) - (p.h - 2)
	p.top = max(0, min(p.top+d, n))
}

// View draws the help in a box of w×h cells, scrolled when it does not fit.
func (p helpPane) View(th *theme, w, h int) string {
	body := p.lines(th, w-2, h-2)
	rows := max(h-2, 0)
	title := "Help · ? or esc closes"
	if len(body) > rows {
		top := max(0, min(p.top, len(body)-rows))
		// The last line says how many more follow, as the detail's does.
		if more := len(body) - top - rows + 1; more > 1 && rows >= 2 {
			body = append(body[top:top+rows-1:top+rows-1], moreLine(th, w-2, 0, more, "line", "j/k or PgDn"))
		} else {
			body = body[top:]
		}
		title = "Help · j/k scroll · ? or esc closes"
	}
	return boxed(th, title, true, body, w, h)
}

// foldedNote says which closed streams the sessions keep in detail and
// what becomes of the rest. With no budget (--closed-streams 0), or no
// room for one in a session, none is kept: every stream is folded as it
// closes, and the shares and floors of a budget do not apply. The flag
// is named only where it is what made it so: it sets StreamBudget.
func (p *helpPane) foldedNote() string {
	const rest = "(their frames stay in history until evicted). A selected stream that is folded stays selected, marked folded, until you move"
	if p.closed.StreamBudget == 0 || p.closed.ClosedStreams == 0 {
		why := ""
		if p.closed.StreamBudget == 0 {
			why = " (--closed-streams 0)"
		}
		return "folded: no closed stream is kept in detail" + why + ": each is folded into the summary line under the streams heading " +
			"as it closes, where it still counts " + rest
	}
	return "folded: a session keeps its latest closed streams in detail, all sessions " +
		count(uint64(p.closed.StreamBudget)) + " together (--closed-streams), each at most " + count(uint64(p.closed.ClosedStreams)) +
		": a live one an equal share, at least " + count(live.MinClosedStreams) + ", an ended one a quarter of that, at least " + count(live.MinEndedClosedStreams) +
		"; older closed streams are folded into the summary line under the streams heading, where they still count " + rest
}

// lines returns the lines of the help: every key of the keyMap,
// grouped, in one or two columns (two when one would not fit rows), then
// notes on drilling down, sorting, the filter terms and the marks.
func (p *helpPane) lines(th *theme, inner, rows int) []string {
	st := &th.styles
	keyW := 0
	for _, g := range p.keys.FullHelp() {
		for _, b := range g {
			keyW = max(keyW, width(b.Help().Key))
		}
	}
	// Entries: a key and what it does; a blank between groups.
	type entry struct{ key, desc string }
	var entries []entry
	for i, g := range p.keys.FullHelp() {
		if i > 0 {
			entries = append(entries, entry{})
		}
		for _, b := range g {
			if b.Enabled() {
				entries = append(entries, entry{b.Help().Key, b.Help().Desc})
			}
		}
	}
	if p.mouse {
		entries = append(entries, entry{}, entry{"mouse", "wheel scrolls, click selects"})
	}
	// A note is a space, its words, and at least a space before the
	// border: text run into the border reads as cut off.
	noteW := max(inner-2, 1)
	notes := wrapText("enter drills down: session → its streams → its frames → the frame's bytes; "+
		"s sorts streams by id, age (leaks first), idle, bytes, state; space freezes the view while capture goes on", noteW)
	notes = append(notes, wrapText("! lists the findings, what muxtop names as wrong: code, where, for how long, the evidence "+
		"and what to do (a LEAK's, how fast it grew over the last minute, as the header's leak? rate), most severe first, then the ones resolved in the last 5 min; it opens on the top, or on the open finding left selected; "+
		"enter goes to the stream or session concerned", noteW)...)
	notes = append(notes, wrapText("sessions: live ones first, then the ended ones, the latest first; S sorts them by id, "+
		"activity, open streams, leaks or violations (viol, then anom), e hides the ended ones; "+
		"viol counts a session's framing violations (not another protocol's bytes: state 'not smux'), anom its anomalies (v lists both); * marks the end muxtop taps; "+
		"state 'client closed': the client closed its side of the connection (it exited, say), the server not yet: "+
		"an smux session lives on after EOF until the server closes it or writes, while yamux ends its session at EOF, so a yamux session shows it for a moment; 'server closed' the reverse; "+
		"client, server: TCP's roles; 'mux roles reversed' (streams title): the server opens the mux client's odd ids, a reverse tunnel", noteW)...)
	notes = append(notes, wrapText("! marks suspected leaks, the streams the LEAK findings count: open or half-closed, and idle (no frame of their own), longer than "+dur(p.leakAfter)+
		" (--leak-after) with no other finding to explain them (UNANSWERED, SESSION_BLOCKED, WINDOW_STALL), and the open count of the sessions holding them; "+
		"in an ended session, the streams that were suspected leaks when it ended; there a stream's age is how long it lived, to "+
		"the session's end, and its idle the time from its last frame to that end; a closed stream's age is how long it lived, to its close, and its idle blank; "+
		"half-closed→: the client sent FIN and the server has not, half-closed← the reverse; "+
		"(setup): held open since its session's setup (opened in the first second, no stream closed before): not counted by LEAK", noteW)...)
	notes = append(notes, wrapText(p.foldedNote(), noteW)...)
	notes = append(notes, wrapText(`filter terms, all must match: cmd:psh sid:4413 session:2 dir:> dir:< `+
		`len>100 len<8 len=0 ver:2 violation lost; yamux frames: proto:yamux type:data (or cmd:data; window_update, ping, go_away) `+
		`flags:syn flags:syn|ack (every flag named must be set); RAND, "two words", hex:52414e44 or u64:15974306852808979797 `+
		`(eight bytes either way round) for bytes in the captured payload; a finding's code, LEAK, finds its records, `+
		`and sid: the findings that name the stream too; `+
		`/ opens on the filter in place, selected: type to replace it, ↑ and ↓ recall earlier ones; `+
		`a filter that selects nothing in the frames shown goes to the newest match in history, in any session `+
		`(in a capture read to its end, the first), and so does n with no match selected; n goes on to newer matches, N back to older ones`, noteW)...)
	notes = append(notes, wrapText("arrows: "+live.ClientToServer.String()+" "+live.ClientToServer.Words()+", "+
		live.ServerToClient.String()+" "+live.ServerToClient.Words()+"; "+
		"colours: SYN green, FIN yellow, violations red; STALLED: a v2 writer has its whole window in flight", noteW)...)
	notes = append(notes, wrapText("a frame's LOST n: the capture lost n bytes of its payload, and the bytes shown came before them (the filter lost finds these and where the capture joined or lost bytes); "+
		"… : the row does not show the whole payload, or a text goes on beyond what fits; INCOMPLETE: a session the capture did not see whole "+
		"(its streams pane's title says how many bytes it lost), ONE-WAY: one it holds a single direction of, not even the other end's ACKs, whose unseen end is not judged, (incomplete) a stream whose counts may miss frames: "+
		"opened before the capture, or live at a loss that may hide some", noteW)...)
	notes = append(notes, wrapText("bytes are wire bytes, framed or not: a stream's are its frames whole, header and payload; "+
		"the all row's add the frames of no stream and the unparsed bytes; a session whose first bytes broke its protocol's framing "+
		"says not smux (or not yamux), and its bytes still count", noteW)...)

	cols := 1
	if len(entries)+1+len(notes) > rows && inner >= 2*(keyW+20) {
		cols = 2
	}
	perCol, height := len(entries), len(entries)
	if cols == 2 {
		// Break at the group boundary nearest the middle.
		for i, e := range entries {
			if e.key == "" && abs(2*i-len(entries)) < abs(2*perCol-len(entries)) {
				perCol = i
			}
		}
		height = max(perCol, len(entries)-perCol-1)
	}
	colW := inner / cols
	var body []string
	for r := range height {
		l := newLine(inner)
		for c := range cols {
			i := r
			if c == 1 {
				i = perCol + 1 + r // past the blank line that ends the first column
			} else if r >= perCol {
				i = -1
			}
			start := l.w
			if i >= 0 && i < len(entries) && entries[i].key != "" {
				l.text(" ").add(entries[i].key, st.key)
				l.spaces(keyW - width(entries[i].key) + 2)
				l.text(ellipsis(entries[i].desc, max(colW-keyW-4, 0)))
			}
			l.spaces(colW - (l.w - start))
		}
		body = append(body, l.String())
	}
	body = append(body, newLine(inner).String())
	for _, n := range notes {
		body = append(body, newLine(inner).text(" "+n).String())
	}
	return body
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
