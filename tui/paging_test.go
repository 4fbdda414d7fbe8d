package tui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// manyViolations returns a capture of n sessions, each with one framing
// violation: n violations and n PROTOCOL findings, session i+1's the
// i-th of each list.
func manyViolations(n int) *capture {
	c := newCapture(live.Config{History: 10 * n})
	for i := range n {
		at := base.Add(-time.Duration(n-i) * time.Second)
		s := c.open("127.0.0.1:"+strconv.Itoa(40000+i), "127.0.0.1:9000", at)
		s.Violation(live.ClientToServer, at, &decoder.Violation{Code: decoder.BadVersion, Header: decoder.MakeHeader(9, decoder.PSH, 4, 3)})
	}
	c.reg.Evaluate(base, live.FindingsConfig{})
	return c
}

// manyStreams returns a capture of one session with n streams of one
// exchange each.
func manyStreams(n int) *capture {
	c := newCapture(live.Config{History: 10 * n})
	at := base.Add(-time.Minute)
	s := c.open("127.0.0.1:40000", "127.0.0.1:9000", at)
	for i := range n {
		c.exchange(s, 1, uint32(2*i+1), at.Add(time.Duration(i)*time.Second), "12345678")
	}
	return c
}

// TestListPaging: in every list pane, pgdown and pgup move the selection
// by the entries the pane shows, one screenful, and the selected entry
// stays on screen. The sessions pane's paging is TestPaging's.
func TestListPaging(t *testing.T) {
	const n = 40
	for _, tc := range []struct {
		name string
		c    *capture
		open []string       // the keys that open the pane
		row  *regexp.Regexp // an entry's line: its mark, what names it
		idx  func(Model) int
		want func(Model) string // what names the selected entry
	}{
		{
			"violations", manyViolations(n), []string{"v"},
			regexp.MustCompile(`^┃([▶ ])\d\d:\d\d:\d\d\.\d+ +(\d+) `),
			func(m Model) int { return m.viol.idx },
			func(m Model) string { return strconv.FormatUint(m.viol.list[m.viol.idx].session, 10) },
		},
		{
			"findings", manyViolations(n), []string{"!"},
			regexp.MustCompile(`^┃([▶ ])crit +PROTOCOL +(\d+) `),
			func(m Model) int { return m.find.idx },
			func(m Model) string { return strconv.FormatUint(m.find.list[m.find.idx].Session, 10) },
		},
		{
			"streams", manyStreams(n), []string{"enter"},
			regexp.MustCompile(`^┃([▶ ]) +(all|\d+) `),
			func(m Model) int { return m.streams.idx },
			func(m Model) string { return strconv.FormatUint(uint64(selectedStream(m).ID), 10) },
		},
		{
			"frames", manyStreams(n), []string{"enter", "g", "enter"},
			regexp.MustCompile(`^┃([▶ ])(\d\d:\d\d:\d\d\.\d+) `),
			func(m Model) int { return m.frames.cursor },
			func(m Model) string { return selectedFrame(m).At.Format(live.TimeLayout) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := press(tc.c.model(t, 80, 24), tc.open...)
			shown := func() (rows int, selected string) {
				for _, l := range strings.Split(screenOf(m), "\n") {
					if e := tc.row.FindStringSubmatch(l); e != nil {
						rows++
						if e[1] == "▶" {
							selected = e[2]
						}
					}
				}
				return rows, selected
			}
			page, _ := shown()
			if page < 2 || page >= n {
				t.Fatalf("the pane shows %d of %d entries at 80×24", page, n)
			}
			first := tc.idx(m)
			for i, s := range []struct {
				key  string
				want int
			}{{"pgdown", first + page}, {"pgdown", first + 2*page}, {"pgup", first + page}, {"pgup", first}} {
				m = press(m, s.key)
				if got := tc.idx(m); got != s.want {
					t.Fatalf("step %d (%s): entry %d selected, want %d: a page is the %d entries shown", i, s.key, got, s.want, page)
				}
				rows, selected := shown()
				if want := tc.want(m); rows != page || selected != want {
					t.Fatalf("step %d (%s): %d entries shown, %q marked; want %d, %q:\n%s", i, s.key, rows, selected, page, want, screenOf(m))
				}
				checkFits(t, m, 80, 24)
			}
		})
	}
}

// TestHelpPaging: pgdown in the help scrolls it by the lines it shows, so
// the line under the last one shown comes first.
func TestHelpPaging(t *testing.T) {
	m := press(manyViolations(1).model(t, 80, 24), "?")
	var plain theme
	lines := m.help.lines(&plain, m.help.w-2, m.help.h-2)
	shown := m.help.h - 2
	if len(lines) < 2*shown {
		t.Fatalf("the help is %d lines, %d shown at 80×24: too short to page", len(lines), shown)
	}
	m = press(m, "pgdown")
	if m.help.top != shown {
		t.Fatalf("pgdown: the help starts at line %d, want %d, the first not shown before", m.help.top, shown)
	}
	if want := strings.TrimSpace(ansi.Strip(lines[shown])); want == "" || !strings.Contains(screenOf(m), want) {
		t.Fatalf("pgdown: line %q is not on screen:\n%s", want, screenOf(m))
	}
	checkFits(t, m, 80, 24)
}
