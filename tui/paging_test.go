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

// TestOverlayPaging: in the violations and the findings pane, pgdown and
// pgup move the selection by the entries the pane shows, one screenful,
// and the selected entry stays on screen.
func TestOverlayPaging(t *testing.T) {
	const n = 40
	c := manyViolations(n)
	for _, tc := range []struct {
		name, open string
		row        *regexp.Regexp // an entry's line: the mark, the session
		idx        func(Model) int
	}{
		{"violations", "v", regexp.MustCompile(`^┃([▶ ])\d\d:\d\d:\d\d\.\d+ +(\d+) `), func(m Model) int { return m.viol.idx }},
		{"findings", "!", regexp.MustCompile(`^┃([▶ ])crit +PROTOCOL +(\d+) `), func(m Model) int { return m.find.idx }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := press(c.model(t, 80, 24), tc.open)
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
			for i, s := range []struct {
				key  string
				want int
			}{{"pgdown", page}, {"pgdown", 2 * page}, {"pgup", page}, {"pgup", 0}} {
				m = press(m, s.key)
				if got := tc.idx(m); got != s.want {
					t.Fatalf("step %d (%s): entry %d selected, want %d: a page is the %d entries shown", i, s.key, got, s.want, page)
				}
				rows, selected := shown()
				if rows != page || selected != strconv.Itoa(s.want+1) {
					t.Fatalf("step %d (%s): %d entries shown, session %q's marked; want %d, session %d's:\n%s", i, s.key, rows, selected, page, s.want+1, screenOf(m))
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
