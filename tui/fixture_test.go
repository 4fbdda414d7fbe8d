package tui

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// base is the fixed time the fixture's capture starts at.
var base = time.Date(2026, 1, 2, 12, 1, 3, 0, time.UTC)

// capture builds a registry and feeds it frames with fixed times.
type capture struct {
	reg *live.Registry
	now time.Time // the clock the model's snapshots carry
	off map[*live.Session]*[2]int64
}

func newCapture(cfg live.Config) *capture {
	return &capture{reg: live.New(cfg), now: base, off: make(map[*live.Session]*[2]int64)}
}

// snapshot is the model's snapshot function: the registry's snapshot with
// the fixture's clock, so that ages and uptime are the same on every run.
func (c *capture) snapshot(o live.SnapshotOptions) *live.Snapshot {
	o.Now = c.now
	s := *c.reg.SnapshotWith(o)
	s.Started = base.Add(-3*time.Minute - 12*time.Second)
	return &s
}

// model returns a model over the capture at w×h, without colour.
func (c *capture) model(t testing.TB, w, h int) Model {
	t.Helper()
	m := newModel(c.reg, Options{Title: "demo · gateway http://127.0.0.1:8080/rand", NoColor: true}, c.snapshot, time.UTC, 0)
	return resize(m, w, h)
}

func (c *capture) open(client, server string, at time.Time) *live.Session {
	s := c.reg.Open(live.SessionInfo{Client: client, Server: server, Tap: live.Server, Label: "demo"}, at)
	c.off[s] = new([2]int64)
	return s
}

// frame records one frame; payload is what the decoder captured, length
// what the header says (0 means len(payload)).
func (c *capture) frame(s *live.Session, dir live.Dir, at time.Time, ver uint8, cmd decoder.Cmd, sid uint32, payload string, length int) {
	if length == 0 {
		length = len(payload)
	}
	f := decoder.Frame{
		Offset:    c.off[s][dir],
		Header:    decoder.MakeHeader(ver, cmd, uint16(length), sid),
		Payload:   []byte(payload),
		Truncated: len(payload) < length,
	}
	if cmd == decoder.UPD && len(payload) == 8 {
		f.Consumed = uint32(payload[0]) | uint32(payload[1])<<8 | uint32(payload[2])<<16 | uint32(payload[3])<<24
		f.Window = uint32(payload[4]) | uint32(payload[5])<<8 | uint32(payload[6])<<16 | uint32(payload[7])<<24
	}
	c.off[s][dir] += decoder.HeaderSize + int64(length)
	s.Record(dir, at, &f)
}

// exchange is one request of the demo's protocol on stream sid: "RAND"
// and an 8-byte answer, then both FINs. In v2 the server's first read
// sends a UPD before its answer, as smux does.
func (c *capture) exchange(s *live.Session, ver uint8, sid uint32, at time.Time, answer string) {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c.frame(s, c2s, at, ver, decoder.SYN, sid, "", 0)
	c.frame(s, c2s, at.Add(12*time.Microsecond), ver, decoder.PSH, sid, "RAND", 0)
	if ver == 2 {
		c.frame(s, s2c, at.Add(100*time.Microsecond), 2, decoder.UPD, sid, "\x04\x00\x00\x00\x00\x00\x04\x00", 0)
	}
	c.frame(s, s2c, at.Add(196*time.Microsecond), ver, decoder.PSH, sid, answer, 0)
	c.frame(s, s2c, at.Add(230*time.Microsecond), ver, decoder.FIN, sid, "", 0)
	c.frame(s, c2s, at.Add(304*time.Microsecond), ver, decoder.FIN, sid, "", 0)
}

// escapes is a payload that would clear the screen, set the clipboard
// (OSC 52) and ring the bell if it reached the terminal raw.
const escapes = "\x1b[2J" + "\x1b]52;c;SGVsbG8=\x07" + "\x07" + "hi\r\n\x9b31m"

// fixture is the capture the golden screens show: a busy v1 session with a
// leaked and a half-closed stream, an anomaly and hostile payload bytes; a
// v2 session with window updates and a stalled stream; a session that
// ended on a framing violation; and a notice.
func fixture() *capture {
	const c2s, s2c = live.ClientToServer, live.ServerToClient
	c := newCapture(live.Config{History: 1000})
	t := base.Add(-50 * time.Second)

	s1 := c.open("127.0.0.1:51234", "127.0.0.1:9000", t)
	// A stream opened 45 s ago and never closed: a suspected leak.
	c.frame(s1, c2s, t.Add(5*time.Second), 1, decoder.SYN, 3, "", 0)
	c.frame(s1, c2s, t.Add(5*time.Second+10*time.Microsecond), 1, decoder.PSH, 3, "RAND", 0)
	for i := range 6 {
		at := t.Add(40*time.Second + time.Duration(i)*time.Second + time.Duration(i)*137*time.Microsecond)
		c.exchange(s1, 1, uint32(5+2*i), at, "\x0b\x5e\x9a\x13\x77\x02\xc1"+string(rune('a'+i)))
	}
	// Half-closed by the client, waiting for the answer.
	c.frame(s1, c2s, base.Add(-2*time.Second), 1, decoder.SYN, 17, "", 0)
	c.frame(s1, c2s, base.Add(-2*time.Second+8*time.Microsecond), 1, decoder.PSH, 17, "RAND", 0)
	c.frame(s1, c2s, base.Add(-2*time.Second+9*time.Microsecond), 1, decoder.FIN, 17, "", 0)
	// Hostile bytes in a payload, and data for a stream that never existed.
	c.frame(s1, c2s, base.Add(-1500*time.Millisecond), 1, decoder.SYN, 19, "", 0)
	c.frame(s1, c2s, base.Add(-1500*time.Millisecond+5*time.Microsecond), 1, decoder.PSH, 19, escapes, 0)
	c.frame(s1, s2c, base.Add(-1400*time.Millisecond), 1, decoder.PSH, 99, "late", 0)
	c.frame(s1, c2s, base.Add(-time.Second), 1, decoder.NOP, 0, "", 0)

	s2 := c.open("127.0.0.1:51236", "127.0.0.1:9000", t.Add(time.Second))
	c.exchange(s2, 2, 3, t.Add(30*time.Second), "\x00\x00\x00\x00\x00\x00\x00\x2a")
	// A bulk upload the server does not read: the writer stalls on its window.
	c.frame(s2, c2s, t.Add(44*time.Second), 2, decoder.SYN, 5, "", 0)
	big := strings.Repeat("upload-", 40)[:256]
	for i := range 5 {
		c.frame(s2, c2s, t.Add(44*time.Second+time.Duration(i+1)*time.Millisecond), 2, decoder.PSH, 5, big, 65535)
	}

	s3 := c.open("127.0.0.1:51240", "127.0.0.1:9000", t.Add(2*time.Second))
	c.exchange(s3, 1, 3, t.Add(20*time.Second), "\x01\x02\x03\x04\x05\x06\x07\x08")
	s3.Violation(s2c, t.Add(21*time.Second), &decoder.Violation{Code: decoder.BadVersion, Offset: c.off[s3][s2c], Header: decoder.MakeHeader(9, decoder.PSH, 4, 3)})
	s3.End(t.Add(22*time.Second), live.Reset, errors.New("read tcp 127.0.0.1:51240: connection reset by peer"))

	c.reg.Notice(base.Add(-3*time.Second), "attach: upstream 127.0.0.1:9000 refused the connection")
	return c
}

// resize sends a WindowSizeMsg.
func resize(m Model, w, h int) Model {
	return send(m, tea.WindowSizeMsg{Width: w, Height: h})
}

// send delivers msg and, as a program would, the messages of the commands
// that follow from it. The model under test never ticks by itself: its
// commands never wait.
func send(m Model, msg tea.Msg) Model {
	next, cmd := m.Update(msg)
	return settle(next.(Model), cmd)
}

// keyMsg returns the key press that tea reports for a key name or text.
func keyMsg(k string) tea.KeyPressMsg {
	special := map[string]tea.Key{
		"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown},
		"pgup": {Code: tea.KeyPgUp}, "pgdown": {Code: tea.KeyPgDown},
		"home": {Code: tea.KeyHome}, "end": {Code: tea.KeyEnd},
		"tab": {Code: tea.KeyTab}, "shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape},
		"space": {Code: tea.KeySpace, Text: " "}, "backspace": {Code: tea.KeyBackspace},
		"ctrl+c": {Code: 'c', Mod: tea.ModCtrl}, "ctrl+u": {Code: 'u', Mod: tea.ModCtrl},
		"ctrl+d": {Code: 'd', Mod: tea.ModCtrl},
	}
	if k, ok := special[k]; ok {
		return tea.KeyPressMsg(k)
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// press sends keys, one name per key; a name that is not a key is typed.
func press(m Model, keys ...string) Model {
	for _, k := range keys {
		m = send(m, keyMsg(k))
	}
	return m
}

// typeText types s one character at a time.
func typeText(m Model, s string) Model {
	for _, r := range s {
		m = send(m, keyMsg(string(r)))
	}
	return m
}

// screenOf returns the model's screen as plain text.
func screenOf(m Model) string { return ansi.Strip(m.View().Content) }

// checkFits fails if the screen has a line wider than w or more than h lines.
func checkFits(t *testing.T, m Model, w, h int) {
	t.Helper()
	lines := strings.Split(m.View().Content, "\n")
	if len(lines) > h {
		t.Errorf("%d×%d: %d lines, want at most %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("%d×%d: line %d is %d cells wide, want at most %d:\n%q", w, h, i, got, w, ansi.Strip(l))
		}
	}
}

var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// colours returns the SGR sequences in s that set a colour.
func colours(s string) []string {
	var found []string
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.Split(m[1], ";") {
			p, _, _ = strings.Cut(p, ":")
			n, err := strconv.Atoi(p)
			if err == nil && (n >= 30 && n <= 49 || n >= 90 && n <= 107) {
				found = append(found, m[0])
				break
			}
		}
	}
	return found
}
