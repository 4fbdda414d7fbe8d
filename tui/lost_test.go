package tui

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// payloadLoss is a capture that lost bytes inside frames' payloads: an
// smux v1 session whose client's 3000-byte PSH on stream 3 lost 1448 of
// them, and a yamux session whose server's 3000-byte DATA on stream 1
// lost 1000. Decoding resumed after each loss: every frame is there,
// only the sessions are incomplete, and stream 5 of the smux session,
// opened before the loss, is still open.
func payloadLoss() *capture {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{})
	t := base.Add(-10 * time.Second)
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", t)
	c.frame(s, c2s, t, 1, decoder.SYN, 5, "", 0)
	c.frame(s, c2s, t.Add(time.Millisecond), 1, decoder.SYN, 3, "", 0)
	at := t.Add(2 * time.Millisecond)
	off := c.off[s][c2s]
	s.PayloadLost(c2s, at, off+decoder.HeaderSize+100, 1448, "capture lost 1448 bytes inside a frame's payload")
	s.Record(c2s, at, &decoder.Frame{Offset: off, Header: decoder.MakeHeader(1, decoder.PSH, 3000, 3),
		Payload: []byte(strings.Repeat("GET /", 20)), Truncated: true, Lost: 1448})
	c.off[s][c2s] += decoder.HeaderSize + 3000
	c.frame(s, s2c, t.Add(3*time.Millisecond), 1, decoder.PSH, 3, "12345678", 0)
	c.frame(s, s2c, t.Add(4*time.Millisecond), 1, decoder.FIN, 3, "", 0)
	c.frame(s, c2s, t.Add(5*time.Millisecond), 1, decoder.FIN, 3, "", 0)

	y := c.reg.Open(live.SessionInfo{Client: "127.0.0.1:51236", Server: "127.0.0.1:9000", Tap: live.Server, Label: "demo", Proto: live.Yamux}, t)
	y.RecordYamux(c2s, t, &yamux.Frame{Offset: 0, Header: yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0)})
	y.RecordYamux(s2c, t.Add(time.Millisecond), &yamux.Frame{Offset: 0, Header: yamux.MakeHeader(yamux.WindowUpdate, yamux.ACK, 1, 0)})
	y.PayloadLost(s2c, t.Add(2*time.Millisecond), 12+12+200, 1000, "capture lost 1000 bytes inside a frame's payload")
	y.RecordYamux(s2c, t.Add(2*time.Millisecond), &yamux.Frame{Offset: 12, Header: yamux.MakeHeader(yamux.Data, 0, 1, 3000),
		Payload: []byte(strings.Repeat("x", 200)), Truncated: true, Lost: 1000})
	return c
}

// framesRows returns the rows of the frames pane on screen: the lines
// between its title, which starts with title, and its bottom border.
func framesRows(t *testing.T, screen, title string) []string {
	t.Helper()
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "─ "+title) && !strings.Contains(l, "━ "+title) {
			continue
		}
		var rows []string
		for _, r := range lines[i+1:] {
			if strings.ContainsAny(r, "└┗") {
				return rows
			}
			rows = append(rows, r)
		}
	}
	t.Fatalf("no pane titled %q:\n%s", title, screen)
	return nil
}

// TestLostMarkedInFramesList: in the frames list, a frame whose payload
// the capture lost bytes of says LOST and how many after its length, as
// an anomaly is named there, smux and yamux alike, at 80×24 and 160×45;
// no other frame does. Before, only the detail pane said so: scrolling a
// capture with drops showed no damaged frame.
func TestLostMarkedInFramesList(t *testing.T) {
	c := payloadLoss()
	for _, sz := range [][2]int{{80, 24}, {160, 45}} {
		m := c.model(t, sz[0], sz[1])
		checkFits(t, m, sz[0], sz[1])
		for _, tc := range []struct {
			title, want string
		}{
			{"Frames of session 1", `len 3000  LOST 1448 47 45 54 20 2f .*GET /.*…`},
			{"Frames of session 2", `DATA sid 1 +len 3000  LOST 1000 78 78 78 78 78 .*xxxxx.*…`},
		} {
			var marked []string
			for _, r := range framesRows(t, screenOf(m), tc.title) {
				if strings.Contains(r, "LOST") {
					marked = append(marked, r)
				}
			}
			if len(marked) != 1 || !regexp.MustCompile(tc.want).MatchString(marked[0]) {
				t.Errorf("%dx%d %s: rows marked LOST %q, want one matching %q:\n%s", sz[0], sz[1], tc.title, marked, tc.want, screenOf(m))
			}
			m = press(m, "down") // the yamux session
		}
	}
}

// TestLossShownInStreamsPane: a session a capture lost payload bytes of
// is INCOMPLETE in the sessions pane, where a live one says no more, so
// that the word fits its column, and, alike, in its streams pane's
// row for the whole session, whose title says how many bytes were lost
// each way; its streams are not (incomplete), as no frame was lost.
// Before, the streams pane said nothing of it: at 80×24, where it hides
// the sessions pane, nothing on screen did.
func TestLossShownInStreamsPane(t *testing.T) {
	c := payloadLoss()
	for _, sz := range [][2]int{{80, 24}, {160, 45}} {
		m := c.model(t, sz[0], sz[1])
		// The word whole: "INCOMPLETE live" was cut to "INCOMPLETE li" in
		// the state column at 160×45, where the sessions pane is half wide.
		if got := len(regexp.MustCompile(`:9000\* .* INCOMPLETE +[│┃]`).FindAllString(screenOf(m), -1)); got != 2 {
			t.Errorf("%dx%d: %d sessions INCOMPLETE, want both, the word whole:\n%s", sz[0], sz[1], got, screenOf(m))
		}
		for _, tc := range []struct {
			title string
		}{
			{"Streams of session 1 · 1 open · capture lost →1.4KiB"},
			{"Streams of session 2 · 1 open · yamux · capture lost ←1000B"},
		} {
			m = press(m, "enter")
			screen := screenOf(m)
			if !strings.Contains(screen, tc.title) {
				t.Errorf("%dx%d: no title %q:\n%s", sz[0], sz[1], tc.title, screen)
			}
			if !regexp.MustCompile(`│?▶? +all +INCOMPLETE `).MatchString(screen) {
				t.Errorf("%dx%d: the streams pane's session row does not say INCOMPLETE:\n%s", sz[0], sz[1], screen)
			}
			if strings.Contains(screen, "(incomplete)") {
				t.Errorf("%dx%d: a stream says (incomplete), though no frame was lost:\n%s", sz[0], sz[1], screen)
			}
			m = press(m, "esc", "down")
		}
	}
}

// TestHelpExplainsLost: the help explains the frames list's LOST mark
// beside INCOMPLETE and (incomplete).
func TestHelpExplainsLost(t *testing.T) {
	keys := newKeyMap()
	p := newHelpPane(&keys, DefaultLeakAfter, live.New(live.Config{}).Config(), false)
	var plain theme
	help := strings.Join(p.lines(&plain, 400, 100), "\n")
	for _, want := range []string{"a frame's LOST n: the capture lost n bytes of its payload", "INCOMPLETE: a session", "(incomplete) a stream"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}

// TestCopyLostPayload: y on a frame whose payload the capture lost bytes
// of copies the bytes before the loss and says so: "the captured part"
// read as if the rest were only beyond the snaplen.
func TestCopyLostPayload(t *testing.T) {
	m := payloadLoss().model(t, 160, 45)
	m = press(m, "tab", "tab", "g") // the frames pane, its first row
	var said []string
	for range 8 {
		next, cmd := m.Update(keyMsg("y"))
		m = next.(Model)
		if cmd != nil {
			said = append(said, m.flash)
		}
		m = press(m, "j")
	}
	want := "copied 100 payload bytes as hex (those before the capture lost 1448 of 3000)"
	if !slices.Contains(said, want) {
		t.Fatalf("y said %q; want %q among them", said, want)
	}
}
