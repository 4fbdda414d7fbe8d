package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/live"
)

// The messages panes and the root model exchange. Selection flows down,
// one pane to the next: sessions → streams → frames → detail. A pane
// announces its selection with a command that returns the message, and
// the root hands the message to the pane below.

// tickMsg asks the model to read the registry.
type tickMsg time.Time

// sessionSelectedMsg says the sessions pane selected session id (0: none).
type sessionSelectedMsg struct{ id uint64 }

// sessionHiddenMsg says the selected session, gone, ended while the
// ended sessions are hidden, and the sessions pane selected session now
// (0: none) in its place: the root says so on the messages line, since
// the panes below change with no other sign.
type sessionHiddenMsg struct{ gone, now uint64 }

// streamSelectedMsg says the streams pane selected a stream of a session,
// or the whole session (all). The frames pane shows the selection; land,
// if not 0, is the seq of the record its cursor goes to.
type streamSelectedMsg struct {
	session uint64
	sid     uint32
	all     bool
	land    uint64
}

// frameSelectedMsg says the frames pane's cursor is on rec (nil: on
// nothing). rec is the pane's copy; the detail pane may keep it.
type frameSelectedMsg struct{ rec *live.Record }

// drillMsg is enter in a pane: the focus goes down to pane to, which
// makes its first choice (the first stream, the first frame).
type drillMsg struct{ to pane }

// gotoMsg selects a session, a stream (0: the whole session) and the
// record with seq (0: none), as n, N and the violations list do.
type gotoMsg struct {
	session uint64
	sid     uint32
	seq     uint64
}

// moveMsg moves a pane's cursor by d rows: a cursor key or the wheel.
type moveMsg struct{ d int }

// clickMsg is a click on line row of a pane's body (0: the first line
// inside the border).
type clickMsg struct{ row int }

// activeMsg tells the frames pane whether the focus is on it or below it;
// when not, its cursor rests on the newest record.
type activeMsg struct{ on bool }

// followMsg turns following the newest record on or off.
type followMsg struct{ on bool }

// sortMsg asks the streams pane for its next order; with first, the
// cursor goes to the first row of the new order.
type sortMsg struct{ first bool }

// filterMsg applies a filter to the frames pane; nil clears it.
type filterMsg struct{ f *filter }

// inputClosedMsg says the filter input closed without a new filter.
type inputClosedMsg struct{}

// noMatchHereMsg says the frames pane's new filter selects nothing in its
// view: the model goes to a match elsewhere in history, the newest in a
// live view (the oldest is the next to be evicted), the first in a
// capture read to its end, like a search in less.
type noMatchHereMsg struct{}

// landMissedMsg says the frames pane's cursor could not land on the
// record with seq, where a search or the violations list sent it: its
// view no longer holds it (history evicted it meanwhile).
type landMissedMsg struct{ seq uint64 }

// violationChosenMsg is enter on an entry of the violations list.
type violationChosenMsg struct{ v violation }

// findingChosenMsg is enter on an entry of the findings list.
type findingChosenMsg struct{ f *live.Finding }

// findingGotoMsg is where a finding leads: its session's picture, with the
// session's streams (nil while paused: the frozen picture has them).
type findingGotoMsg struct {
	f    *live.Finding
	snap *live.Snapshot
}

// emit returns a command that delivers msg.
func emit(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }
