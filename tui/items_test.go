package tui

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// These tests pin what a first-time user tripped over (issue 10). Each
// drives the model with keys and reads only the screen.

// paneBox returns the lines of the pane whose title starts with title, its
// borders included, or nil.
func paneBox(screen, title string) []string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		j := strings.Index(l, title)
		if j < 0 || !strings.ContainsAny(l[:j], "┌┏") {
			continue
		}
		col := len([]rune(l[:strings.LastIndexAny(l[:j], "┌┏")]))
		var out []string
		for _, b := range lines[i:] {
			r := []rune(b)
			if col >= len(r) {
				break
			}
			out = append(out, string(r[col:]))
			if r[col] == '└' || r[col] == '┗' {
				return out
			}
		}
		return out
	}
	return nil
}

// cursorRow returns the row of a pane that carries the ▶ mark.
func cursorRow(box []string) string {
	for _, l := range box {
		if strings.Contains(l, "▶") {
			return l
		}
	}
	return ""
}

// folding is a session whose closed streams are folded beyond 3: streams
// 5, 7 and 9 are closed, 101 is open.
func folding() (*capture, *live.Session) {
	c := newCapture(live.Config{History: 1000, ClosedStreams: 3})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	c.frame(s, live.ClientToServer, base.Add(-50*time.Second), 1, 0 /* SYN */, 101, "", 0)
	for i, sid := range []uint32{5, 7, 9} {
		c.exchange(s, 1, sid, base.Add(-40*time.Second+time.Duration(i)*time.Second), "12345678")
	}
	return c, s
}

// Item 1: once a session folds its oldest closed streams, the selected
// stream stays selected by id until the user moves, and the frames pane
// shows it.
func TestItem1SelectionSurvivesFolding(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"resting on the first row", []string{"enter"}},
		{"chosen by the user", []string{"enter", "j", "k"}},
		{"focus on the frames", []string{"enter", "enter"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, s := folding()
			m := press(c.model(t, 160, 45), tc.keys...)
			if row := cursorRow(paneBox(screenOf(m), "Streams of session 1")); !regexp.MustCompile(`▶\s+5 `).MatchString(row) {
				t.Fatalf("before folding the cursor is on %q, want stream 5", row)
			}
			// One more closed stream: the oldest closed one, 5, is folded.
			c.exchange(s, 1, 11, base.Add(-time.Second), "12345678")
			m = tickAt(m, c, 100*time.Millisecond)
			screen := screenOf(m)
			if row := cursorRow(paneBox(screen, "Streams of session 1")); !regexp.MustCompile(`▶\s+5 .*folded`).MatchString(row) {
				t.Errorf("after folding the streams cursor is on %q, want stream 5, marked folded:\n%s", row, screen)
			}
			if paneBox(screen, "Frames of stream 5 (session 1)") == nil {
				t.Errorf("the frames pane does not show the selected stream 5:\n%s", screen)
			}
			// The user moves: the cursor leaves the folded stream.
			if !strings.HasPrefix(tc.name, "focus") {
				m = press(m, "j")
				screen = screenOf(m)
				if row := cursorRow(paneBox(screen, "Streams of session 1")); !regexp.MustCompile(`▶\s+7 `).MatchString(row) {
					t.Errorf("j from the folded stream went to %q, want stream 7:\n%s", row, screen)
				}
				if regexp.MustCompile(` 5 c  folded`).MatchString(screen) {
					t.Errorf("the folded stream stays listed after the user moved:\n%s", screen)
				}
			}
		})
	}
}

func TestItem1HelpExplainsFolded(t *testing.T) {
	m := press(fixture().model(t, 160, 45), "?")
	if s := screenOf(m); !regexp.MustCompile(`folded.*closed streams|closed streams.*folded`).MatchString(s) {
		t.Fatalf("the help does not explain folded:\n%s", s)
	}
}

// Item 6: drilling into a stream lands on its first frame.
func TestItem6DrillLandsOnTheFirstFrame(t *testing.T) {
	m := press(fixture().model(t, 160, 45), "enter", "j", "enter")
	row := cursorRow(paneBox(screenOf(m), "Frames of stream 5 (session 1)"))
	if !regexp.MustCompile(`▶12:00:53\.000000 → (v1 )?SYN`).MatchString(row) {
		t.Fatalf("enter on stream 5 selected %q, want its SYN:\n%s", row, screenOf(m))
	}
}

// Item 11: pausing freezes the view, not the uptime clock.
func TestItem11PauseKeepsTheClock(t *testing.T) {
	c := fixture()
	m := c.model(t, 160, 45)
	if !strings.Contains(screenOf(m), "up 00:03:12") {
		t.Fatalf("the fixture's uptime is not 00:03:12:\n%s", screenOf(m))
	}
	m = press(m, "space")
	m = tickAt(m, c, 5*time.Second)
	if s := screenOf(m); !strings.Contains(s, "up 00:03:17") || !strings.Contains(s, "[paused") {
		t.Fatalf("paused for 5 s, the header does not say up 00:03:17:\n%s", s)
	}
}

// Item 3: n and N go from the frame under the cursor to the next or
// previous match in history order, across sessions, from any pane.
func TestItem3NextMatchFromTheCursor(t *testing.T) {
	// The fixture records session 1's frames, then session 2's, then
	// session 3's. With cmd:fin set from the sessions pane, the frame under
	// the cursor is session 1's last FIN (stream 17 →); the next FIN in
	// history is session 2's first (stream 3 ←).
	next := func(t *testing.T, m Model, key string) string {
		t.Helper()
		return cursorRow(paneBox(screenOf(press(m, key)), "Frames of stream 3 (session 2)"))
	}
	isNext := regexp.MustCompile(`← (v2 )?FIN`)
	m := fixture().model(t, 160, 45)
	m = press(m, "/")
	m = typeText(m, "cmd:fin")
	m = press(m, "enter")
	if row := next(t, m, "n"); !isNext.MatchString(row) {
		t.Errorf("n from the sessions pane went to %q, want session 2's first FIN:\n%s", row, screenOf(press(m, "n")))
	}
	m = press(m, "n", "N")
	screen := screenOf(m)
	if row := cursorRow(paneBox(screen, "Frames of stream 17 (session 1)")); !regexp.MustCompile(`→ (v1 )?FIN`).MatchString(row) {
		t.Fatalf("N went to %q, want session 1's last FIN:\n%s", row, screen)
	}
	for _, keys := range [][]string{nil, {"shift+tab"}, {"shift+tab", "shift+tab"}, {"enter"}} {
		if row := next(t, press(m, keys...), "n"); !isNext.MatchString(row) {
			t.Errorf("n after N and %v went to %q, want session 2's first FIN", keys, row)
		}
	}
}

// Item 5: at 80×24 the frames pane shows at least 8 rows, and the
// session's frame list a RAND request and its 8-byte reply in full.
func TestItem5FramesAt80x24(t *testing.T) {
	states := [][]string{nil, {"enter"}, {"enter", "enter"}, {"enter", "enter", "enter"}, {"enter", "k", "enter"}}
	// The demo's load figures take a header line of their own.
	load := func() live.Status { return live.Status{{Key: "rate", Label: "load", Value: 100, Unit: "/s"}} }
	for _, keys := range states {
		for _, opts := range []Options{{}, {Status: load}} {
			m := press(fixture().modelWith(t, 80, 24, opts), keys...)
			box := paneBox(screenOf(m), "Frames of ")
			if rows := len(box) - 2; rows < 8 {
				t.Errorf("keys %v, status %v: the frames pane has %d rows, want at least 8:\n%s", keys, opts.Status != nil, rows, screenOf(m))
			}
		}
	}
	m := press(fixture().model(t, 80, 24), "enter", "k", "enter")
	box := strings.Join(paneBox(screenOf(m), "Frames of session 1"), "\n")
	request := regexp.MustCompile(`→ (v1 )?PSH sid 5 +len 4 +52 41 4e 44 +RAND`)
	reply := regexp.MustCompile(`← (v1 )?PSH sid 5 +len 8 +0b 5e 9a 13 77 02 c1 61 +\.\^\.\.w\.\.a ?\s*[│┃]`)
	if !request.MatchString(box) || !reply.MatchString(box) {
		t.Fatalf("the RAND request and its whole 8-byte reply are not in the frames pane:\n%s", box)
	}
}

// busy is a session of n RAND exchanges: its counts pass 10 000.
func busy(n int) *capture {
	c := newCapture(live.Config{History: 1000})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-time.Minute))
	for i := range n {
		c.exchange(s, 1, uint32(3+2*i), base.Add(-time.Minute+time.Duration(i)*time.Millisecond), "12345678")
	}
	return c
}

// Item 4: one style for counts (9999, then 11.7k) and one for bytes
// (always ending in B), wherever they show.
func TestItem4Numbers(t *testing.T) {
	c := busy(11_657)
	grouped := regexp.MustCompile(`\d \d\d\d(?:[^\d.:KMGTPE]|$)`) // 11 657: two numbers at a glance (0 319KiB is a count and a size)
	bareScaled := regexp.MustCompile(`\d[KMGTPE](?:i?\b|[^iB])`)  // 96.0K: a size without its iB
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		for _, keys := range [][]string{nil, {"enter"}, {"enter", "enter"}, {"space"}} {
			m := press(c.model(t, size.w, size.h), keys...)
			screen := screenOf(m)
			if !strings.Contains(screen, "SYN 11.7k") {
				t.Errorf("%d×%d %v: the counts bar does not say SYN 11.7k:\n%s", size.w, size.h, keys, screen)
			}
			if s := grouped.FindString(screen); s != "" {
				t.Errorf("%d×%d %v: %q reads as two numbers:\n%s", size.w, size.h, keys, s, screen)
			}
			if s := bareScaled.FindString(screen); s != "" {
				t.Errorf("%d×%d %v: %q is a size without its unit:\n%s", size.w, size.h, keys, s, screen)
			}
		}
	}
	// The sessions pane's bytes, the counts bar's and the streams pane's
	// folded line all end in B. At 200 columns: at 160 the sessions pane
	// beside the streams gives its total column up for viol and anom.
	screen := screenOf(press(c.model(t, 200, 45), "enter"))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`→[\d.]+(?:[KMG]i)?B ←[\d.]+(?:[KMG]i)?B`),
		regexp.MustCompile(`▶ +1 .* 11\.7k +0 +[\d.]+KiB +[\d.]+KiB`),
		regexp.MustCompile(`folded 10\.7k +[\d.]+k +[\d.]+k +[\d.]+KiB +[\d.]+KiB`),
	} {
		if !want.MatchString(screen) {
			t.Errorf("the screen does not match %s:\n%s", want, screen)
		}
	}
}

// modelWith returns a model over the capture at w×h with opts, without colour.
func (c *capture) modelWith(t testing.TB, w, h int, opts Options) Model {
	t.Helper()
	opts.NoColor = true
	if opts.Title == "" {
		opts.Title = "demo · gateway http://127.0.0.1:8080/rand"
	}
	return resize(newModel(c.reg, opts, c.snapshot, time.UTC, 0), w, h)
}

// wholeFields reports the first word of a header line that is not a
// whole field: a name, a number, bytes or a state.
func wholeFields(line string) string {
	word := regexp.MustCompile(`^(SYN|FIN|PSH|NOP|UPD|viol|violations|anom|anomalies|drop|dropped|filter|cmd:fin|"RAND"|\?|help|` +
		`\[live\]|\[follow\]|\[paused|\+[\d.]+[kMG]?\]|\d+(\.\d)?[kMG]?|[→←]\d+(\.\d)?(?:[KMG]i)?B)$`)
	for _, w := range strings.Fields(line) {
		if !word.MatchString(w) {
			return w
		}
	}
	return ""
}

// Item 2: the counts bar drops whole fields, least important first, and
// keeps the view's state, the violations, the anomalies and the dropped
// records; messages have a line of their own and never push the status
// line away.
func TestItem2CountsBar(t *testing.T) {
	c := busy(11_657)
	for _, w := range []int{80, 100, 60} {
		m := c.model(t, w, 24)
		m = press(m, "/")
		m = typeText(m, `cmd:fin "RAND"`)
		m = press(m, "enter")
		bar := strings.Split(screenOf(m), "\n")[1]
		if bad := wholeFields(bar); bad != "" {
			t.Errorf("%d columns: the counts bar cuts a field (%q): %q", w, bad, bar)
		}
		for _, want := range []string{"[live]", "viol 0", "anom 0", "drop 0"} {
			if !strings.Contains(bar, want) {
				t.Errorf("%d columns: the counts bar lost %q: %q", w, want, bar)
			}
		}
		if w >= 80 && !strings.Contains(bar, `filter cmd:fin "RAND"`) {
			t.Errorf("%d columns: the counts bar lost the filter: %q", w, bar)
		}
		// Paused, with records captured since: drop stays.
		m = press(m, "space")
		s := c.reg.Session(1)
		for i := range 20_000 {
			c.frame(s, live.ClientToServer, base.Add(time.Duration(i)), 1, 3 /* NOP */, 0, "", 0)
		}
		m = tickAt(m, c, time.Second)
		bar = strings.Split(screenOf(m), "\n")[1]
		if bad := wholeFields(bar); bad != "" {
			t.Errorf("%d columns, paused: the counts bar cuts a field (%q): %q", w, bad, bar)
		}
		for _, want := range []string{"[paused +20.0k]", "drop 0", "viol 0", "anom 0"} {
			if !strings.Contains(bar, want) {
				t.Errorf("%d columns, paused: the counts bar lost %q: %q", w, want, bar)
			}
		}
		c = busy(11_657)
	}

	// A key's answer and the status line each keep a line of their own.
	status := "load 100/s  ok 2000  err 0  skipped 0  p50 120µs  p99 1ms"
	fields := live.Status{{Key: "rate", Label: "load", Value: 100, Unit: "/s"}, {Key: "ok", Label: "ok", Value: uint64(2000)},
		{Key: "errors", Label: "err", Value: uint64(0)}, {Key: "skipped", Label: "skipped", Value: uint64(0)},
		{Key: "p50_seconds", Label: "p50", Value: 120 * time.Microsecond}, {Key: "p99_seconds", Label: "p99", Value: 1200 * time.Microsecond}}
	m := fixture().modelWith(t, 80, 24, Options{Status: func() live.Status { return fields }})
	m = press(m, "y") // the sessions pane: no frame with a payload is selected
	screen := screenOf(m)
	lines := strings.Split(screen, "\n")
	var statusLine, flashLine, noticeLine bool
	for _, l := range lines[:6] {
		l = strings.TrimSpace(l)
		switch {
		case l == status:
			statusLine = true
		case strings.HasPrefix(l, "y: the selected frame has no payload to copy"):
			flashLine = true
		}
		noticeLine = noticeLine || strings.Contains(l, "12:01:00 attach: upstream")
	}
	if !statusLine || !flashLine || !noticeLine {
		t.Errorf("status line %v, the key's answer %v, the notice %v; want each in the header:\n%s", statusLine, flashLine, noticeLine, screen)
	}
	checkFits(t, m, 80, 24)
	if box := paneBox(screen, "Sessions"); len(box) < 5 {
		t.Errorf("the sessions pane lost its rows to the header:\n%s", screen)
	}
}

// Item 7: a bare word matches payload text; / opens with the filter in
// place selected, so typing replaces it; ↑ recalls earlier filters; and
// every error fits an 80-column screen whole.
func TestItem7FilterFriction(t *testing.T) {
	m := fixture().model(t, 80, 24)
	m = press(m, "enter", "k") // the whole of session 1
	m = press(m, "/")
	m = typeText(m, "RAND")
	m = press(m, "enter")
	if m.input.open || m.filter == nil || !strings.Contains(screenOf(m), "filter RAND · 8 matches") {
		t.Fatalf("a bare word is not a payload text match: input open %v, error %q:\n%s", m.input.open, m.input.err, screenOf(m))
	}
	m = press(m, "/")
	if got := m.input.line.String(); got != "RAND" {
		t.Fatalf("/ opened with %q, want the filter in place", got)
	}
	m = typeText(m, "cmd:fin")
	if got := m.input.line.String(); got != "cmd:fin" {
		t.Fatalf("typing after / gave %q, want the old filter replaced", got)
	}
	m = press(m, "enter")
	if m.filter == nil || m.filter.text != "cmd:fin" {
		t.Fatalf("filter %+v, want cmd:fin", m.filter)
	}
	m = press(m, "/", "up")
	if got := m.input.line.String(); got != "RAND" {
		t.Fatalf("↑ recalled %q, want the filter before, RAND", got)
	}
	m = press(m, "down")
	if got := m.input.line.String(); got != "cmd:fin" {
		t.Fatalf("↓ gave %q, want back to cmd:fin", got)
	}
	m = press(m, "up", "enter")
	if m.filter == nil || m.filter.text != "RAND" {
		t.Fatalf("enter on a recalled filter: %+v, want RAND", m.filter)
	}

	long := strings.Repeat("x", 60)
	for _, bad := range []string{"cdm:psh", "cmd:" + long, "len>", "len<" + long, "dir:" + long, "hex:zz", `"open`,
		"sid:" + strings.Repeat("9", 60), "session:" + long, "ver:" + long, "u64:" + long, long + ":1"} {
		m := press(fixture().model(t, 80, 24), "/")
		m = typeText(m, bad)
		m = press(m, "enter")
		if m.input.err == "" {
			t.Errorf("%q: no error", bad)
			continue
		}
		if w := width(m.input.err); w > 79 {
			t.Errorf("%q: the error is %d cells, wider than the screen: %q", bad, w, m.input.err)
		}
		if s := screenOf(m); !strings.Contains(s, m.input.err) {
			t.Errorf("%q: the error is not on the screen whole:\n%s", bad, s)
		}
	}
}

// Item 8: an 8-byte payload shows its value as a uint64 both ways, u64:N
// finds it either way, and the bytes that broke the framing show as text.
func TestItem8PayloadsThatMeanSomething(t *testing.T) {
	reply := []byte("\x0b\x5e\x9a\x13\x77\x02\xc1\x61") // stream 5's answer in the fixture
	be, le := binary.BigEndian.Uint64(reply), binary.LittleEndian.Uint64(reply)
	m := press(fixture().model(t, 80, 24), "enter", "j", "enter", "j", "j", "enter")
	detail := strings.Join(paneBox(screenOf(m), "Frame detail"), "\n")
	for _, want := range []string{strconv.FormatUint(be, 10), strconv.FormatUint(le, 10), "big-endian", "little-endian"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail of the 8-byte reply lacks %q:\n%s", want, detail)
		}
	}
	for _, n := range []uint64{be, le} {
		m := press(fixture().model(t, 80, 24), "/")
		m = typeText(m, "u64:"+strconv.FormatUint(n, 10))
		m = press(m, "enter")
		if m.filter == nil {
			t.Fatalf("u64:%d refused: %s", n, m.input.err)
		}
		if r := selectedFrame(m); r == nil || !bytes.Equal(r.Payload, reply) {
			t.Errorf("u64:%d selected %+v, want the reply", n, r)
		}
	}

	// A client that speaks HTTP to the smux port.
	c := newCapture(live.Config{History: 100})
	s := c.open("127.0.0.1:40000", "127.0.0.1:9000", base.Add(-time.Second))
	s.Violation(live.ClientToServer, base, &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header([]byte("GET / HT"))})
	m = press(c.model(t, 80, 24), "enter", "enter", "G", "enter")
	detail = strings.Join(paneBox(screenOf(m), "Frame detail"), "\n")
	if !strings.Contains(detail, `"GET / HT"`) {
		t.Errorf("the violation's bytes are not shown as text:\n%s", screenOf(m))
	}
	// And with a guess at what they are, the sender its subject.
	if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(detail, "┃", " ")), " "),
		"looks like "+wirekind.HTTPRequest.String()+": the client is talking HTTP to the smux port") {
		t.Errorf("no guess at what the bytes are, or one without its subject:\n%s", detail)
	}
}

// Item 9: the sessions pane shows both ends and the tapped one, in a way
// that tells rows apart at 80 columns; it sorts by activity, open streams,
// leaks and violations; e hides the ended sessions; an ended session with
// violations stays red; and live sessions come before ended ones.
func TestItem9Sessions(t *testing.T) {
	c := newCapture(live.Config{History: 10_000})
	open := func(port string, opened time.Time) *live.Session {
		s := c.reg.Open(live.SessionInfo{Client: "127.0.0.1:" + port, Server: "127.0.0.1:9000", Tap: live.Client, Label: "demo"}, opened)
		c.off[s] = new([2]int64)
		return s
	}
	// A server restart: the first pool's sessions ended, with one violation
	// among them; the new pool is live and busy in different ways.
	for i := range 1000 {
		s := open(strconv.Itoa(30000+i), base.Add(-time.Hour))
		c.exchange(s, 1, 3, base.Add(-time.Hour), "12345678")
		if i == 500 {
			s.Violation(live.ServerToClient, base.Add(-time.Hour), &decoder.Violation{Code: decoder.BadVersion, Header: decoder.MakeHeader(9, 0, 0, 0)})
		}
		s.End(base.Add(-50*time.Minute), live.EOF, nil)
	}
	quiet := open("51001", base.Add(-time.Minute))
	leaky := open("51002", base.Add(-time.Minute))
	busy := open("51003", base.Add(-time.Minute))
	c.exchange(quiet, 1, 3, base.Add(-50*time.Second), "12345678")
	for sid := uint32(3); sid < 13; sid += 2 { // five streams open for a minute: leaks
		c.frame(leaky, live.ClientToServer, base.Add(-55*time.Second), 1, decoder.SYN, sid, "", 0)
	}
	c.frame(busy, live.ClientToServer, base.Add(-5*time.Second), 1, decoder.SYN, 101, "", 0)
	c.frame(busy, live.ClientToServer, base.Add(-5*time.Second), 1, decoder.PSH, 99, "x", 0) // an anomaly
	m := c.modelWith(t, 80, 24, Options{})
	c.now = c.now.Add(2 * time.Second)
	for i := range 200 {
		c.exchange(busy, 1, uint32(201+2*i), c.now.Add(-time.Second+time.Duration(i)*time.Millisecond), "12345678")
	}
	m = tickAt(m, c, 0)

	rows := func(m Model) []string {
		box := paneBox(screenOf(m), "Sessions")
		if len(box) < 4 {
			t.Fatalf("no sessions pane:\n%s", screenOf(m))
		}
		return box[2 : len(box)-1]
	}
	first := func(m Model) string { return strings.Trim(rows(m)[0], "┃│▶ ") }
	// Live sessions first, and each row names its own client end, marked
	// as the tapped one.
	r := rows(m)
	for i, port := range []string{"51001", "51002", "51003"} {
		if !strings.Contains(r[i], ":"+port+"*") || !strings.Contains(r[i], ":9000") {
			t.Errorf("row %d does not show the tapped client :%s* and the server :9000: %q\n%s", i, port, r[i], screenOf(m))
		}
	}
	if !strings.Contains(r[3], "ended") {
		t.Errorf("the ended sessions do not follow the live ones: %q", r[3])
	}
	// The order key.
	// By violations: the ended 501, whose framing smux refused, before the
	// live 1003, whose one anomaly breaks the tie of the live ones at 0.
	for _, want := range []struct{ order, id string }{{"activity", "1003"}, {"open", "1002"}, {"leaks", "1002"}, {"violations", "501"}} {
		m = press(m, "S")
		if s := screenOf(m); !strings.Contains(s, "sort "+want.order) {
			t.Fatalf("S: the sessions pane does not say sort %s:\n%s", want.order, s)
		}
		if got := first(m); !strings.HasPrefix(got, want.id+" ") {
			t.Errorf("sorted by %s, the first row is %q, want session %s", want.order, got, want.id)
		}
	}
	// Hiding the ended sessions.
	m = press(m, "e")
	for _, row := range rows(m) {
		if strings.Contains(row, "ended") {
			t.Errorf("e: an ended session is still listed: %q", row)
		}
	}
	if m = press(m, "e"); !strings.Contains(strings.Join(rows(m), "\n"), "ended") {
		t.Errorf("e again: the ended sessions do not come back")
	}

	// In colour, the ended session with a violation says so in red.
	colour := resize(newModel(c.reg, Options{}, c.snapshot, time.UTC, 0), 160, 45)
	colour = press(colour, "S", "S", "S", "S") // by violations: 501 and 1003 lead
	found := false
	for _, l := range strings.Split(colour.View().Content, "\n") {
		if !strings.Contains(ansi.Strip(l), " 501 ") {
			continue
		}
		found = true
		i := strings.Index(l, "ended")
		if i < 0 || len(colours(l[max(0, i-12):i])) == 0 {
			t.Errorf("the ended session 501 with a violation is not red in its state: %q", l)
		}
	}
	if !found {
		t.Errorf("session 501 is not on the screen sorted by violations:\n%s", screenOf(colour))
	}
}
