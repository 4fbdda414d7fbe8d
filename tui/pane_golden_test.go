package tui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/live"
)

// updater is a pane: an Update that returns its own type.
type updater[T any] interface {
	Update(tea.Msg) (T, tea.Cmd)
}

// feed hands a pane messages, as the root would, and drops what it
// announces: a pane is tested alone.
func feed[T updater[T]](p T, msgs ...tea.Msg) T {
	for _, msg := range msgs {
		p, _ = p.Update(msg)
	}
	return p
}

// readFrames reads the registry for a frames pane until it has what it shows.
func readFrames(c *capture, p framesPane) framesPane {
	first := c.reg.Snapshot().History.First
	for range 10 {
		if !p.needsRead() {
			break
		}
		p = feed(p, readIndex(c.reg, p.request(false, 0), first, false))
	}
	return p
}

// TestPaneGolden pins each pane drawn alone from the fixture's fixed
// snapshot: a pane's view is a function of its state and size.
func TestPaneGolden(t *testing.T) {
	c := fixture()
	snap := c.snapshot(live.SnapshotOptions{})
	keys := newKeyMap()
	th := &theme{styles: newStyles(true), loc: time.UTC}
	sm := snapshotMsg{snap: snap, rates: map[uint64]float64{1: 12.5}}

	sessions := func(w, h int) string {
		p := newSessionsPane(&keys)
		p.h = h
		return newSessionsPane(&keys).View(th, w, h, true) + "\n" + feed(p, sm, moveMsg{d: 1}).View(th, w, h, true)
	}
	streams := func(sid uint32, focused bool) func(w, h int) string {
		return func(w, h int) string {
			p := newStreamsPane(&keys, DefaultLeakAfter)
			p.h = h
			p = feed(p, sm, sessionSelectedMsg{id: 1}, drillMsg{to: paneStreams})
			if sid != 0 {
				p = feed(p, gotoMsg{session: 2, sid: sid})
			}
			return p.View(th, w, h, focused)
		}
	}
	folded := func(w, h int) string {
		fc, s := folding()
		p := newStreamsPane(&keys, DefaultLeakAfter)
		p.h = h
		p = feed(p, snapshotMsg{snap: fc.snapshot(live.SnapshotOptions{})}, sessionSelectedMsg{id: 1}, drillMsg{to: paneStreams})
		fc.exchange(s, 1, 11, base.Add(-time.Second), "12345678")
		return feed(p, snapshotMsg{snap: fc.snapshot(live.SnapshotOptions{})}).View(th, w, h, true)
	}
	frames := func(sel streamSelectedMsg, moves int) func(w, h int) string {
		return func(w, h int) string {
			p := newFramesPane(&keys)
			p.h = h
			p = feed(p, activeMsg{on: true}, sel)
			p = readFrames(c, p)
			p = readFrames(c, feed(p, moveMsg{d: moves}))
			return p.View(th, w, h, true)
		}
	}
	record := func(seq uint64) *live.Record {
		recs, _ := c.reg.Frames(live.Query{From: seq, Max: 1, Scan: 1}, nil)
		return &recs[0]
	}
	detail := func(seq uint64) func(w, h int) string {
		return func(w, h int) string {
			return feed(newDetailPane(&keys), frameSelectedMsg{rec: record(seq)}).View(th, w, h, true)
		}
	}
	violations := func(w, h int) string {
		p := newViolationsPane(&keys)
		p.h = h
		return feed(p, sm, moveMsg{d: 1}).View(th, w, h)
	}
	help := func(w, h int) string {
		p := newHelpPane(&keys, DefaultLeakAfter, live.New(live.Config{}).Config(), false)
		p.w, p.h = w, h
		return feed(p, moveMsg{d: 4}).View(th, w, h)
	}
	input := func(w, _ int) string {
		p := filterInput{open: true}
		p = feed(p, keyMsg("c"), keyMsg("d"), keyMsg("m"), keyMsg(":"), keyMsg("p"), keyMsg("s"), keyMsg("h"), keyMsg("enter"))
		return p.View(th, w)
	}
	header := func(w, h int) string {
		hd := header{
			title: "demo · gateway http://127.0.0.1:8080/rand", snap: snap, now: snap.At.Add(5 * time.Second),
			rate: 1234, paused: true, behind: 12_345, filter: "cmd:fin", flash: "copied 8 payload bytes as hex",
			hasStatus: true, status: live.Status{{Key: "rate", Label: "load", Value: 100, Unit: "/s"},
				{Key: "ok", Label: "ok", Value: uint64(2000)}, {Key: "errors", Label: "err", Value: uint64(0)}},
			halfClosed: halfClosedLeaks(snap),
		}
		return strings.Join(viewHeader(th, &hd, w, h), "\n")
	}

	cases := []struct {
		name string
		w, h int
		view func(w, h int) string
	}{
		{"sessions", 80, 6, sessions},
		{"sessions", 160, 6, sessions},
		{"streams", 80, 14, streams(0, true)},
		{"streams-v2", 120, 6, streams(5, false)},
		{"streams-folded", 80, 9, folded},
		{"frames-session", 80, 12, frames(streamSelectedMsg{session: 1, all: true}, 3)},
		{"frames-session", 160, 12, frames(streamSelectedMsg{session: 1, all: true}, 3)},
		{"frames-stream", 80, 7, frames(streamSelectedMsg{session: 2, sid: 5}, 1)},
		{"frames-ended", 80, 10, frames(streamSelectedMsg{session: 3, all: true}, 1<<20)},
		{"detail-escapes", 80, 9, detail(38)},
		{"detail-u64", 80, 8, detail(6)},
		{"detail-upd", 60, 8, detail(44)},
		{"detail-violation", 80, 9, detail(60)},
		{"violations", 80, 10, violations},
		{"help", 80, 24, help},
		{"input", 80, 2, input},
		{"header", 80, 5, header},
		{"header", 160, 4, header},
	}
	for _, tc := range cases {
		name := tc.name + "-" + strconv.Itoa(tc.w) + "x" + strconv.Itoa(tc.h)
		t.Run(name, func(t *testing.T) {
			got := ansi.Strip(tc.view(tc.w, tc.h))
			for i, l := range strings.Split(got, "\n") {
				if ansi.StringWidth(l) > tc.w {
					t.Errorf("line %d is %d cells wide, want at most %d: %q", i, ansi.StringWidth(l), tc.w, l)
				}
			}
			golden(t, name, got+"\n")
		})
	}
}
