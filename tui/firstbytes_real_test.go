package tui

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// leakyModel runs smuxtest.LeakyLeak over mux with request req, its
// server tapped, and returns the registry, the bad stream's id and the
// LEAK's finding-opened record.
func leakyModel(t *testing.T, mux smuxtest.Mux, req []byte) (*live.Registry, uint32, live.Record) {
	t.Helper()
	return smuxtest.LeakyLeak(t, mux, func(c net.Conn, reg *live.Registry) net.Conn { return tap.Wrap(c, live.Server, reg, "srv") }, req)
}

// realModel is a model over reg at w×h, without colour.
func realModel(t *testing.T, reg *live.Registry, w, h int) Model {
	t.Helper()
	m := newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0)
	return resize(m, w, h)
}

// TestLeakFirstBytesShownReal: a real smux (v1, v2) and yamux server
// leaks the streams of "GET /bad", answered "ERR bad request"; history no
// longer holds their frames when LEAK opens. The findings pane's LEAK says
// its oldest stream's first bytes each way; enter on it shows them as hex
// and ASCII in the frames pane, where the stream's frames are gone; the
// streams pane shows the request where it has room (220 wide); the LEAK
// record's detail names each stream with what it carried. At 160×45 and
// 80×24 nothing overflows. Before, the frames pane said only "none left in
// history" and nothing showed the request.
func TestLeakFirstBytesShownReal(t *testing.T) {
	for _, tc := range []struct {
		name string
		mux  smuxtest.Mux
	}{{"smux v1", smuxtest.Mux{Smux: smuxtest.Config(1)}}, {"smux v2", smuxtest.MuxOf(false)}, {"yamux", smuxtest.MuxOf(true)}} {
		t.Run(tc.name, func(t *testing.T) {
			reg, bad, leak := leakyModel(t, tc.mux, smuxtest.BadRequest)
			sid := strconv.FormatUint(uint64(bad), 10)
			for _, size := range []struct{ w, h int }{{160, 45}, {80, 24}} {
				// The findings pane's LEAK says what its oldest stream carried.
				m := press(realModel(t, reg, size.w, size.h), "!")
				checkFits(t, m, size.w, size.h)
				if size.w == 160 {
					box := strings.Join(paneBox(screenOf(m), "Findings"), "\n")
					if want := "first bytes of stream " + sid + `: "GET /bad HTTP/1.1..Host: example" → "ERR bad request"`; !strings.Contains(box, want) {
						t.Errorf("160×45: the findings pane lacks %q:\n%s", want, box)
					}
				}
				m = press(m, "enter")
				if m.frames.scope != (scope{session: 1, sid: bad, stream: true}) {
					t.Fatalf("%d×%d: enter on LEAK shows frames of %+v, want stream %d", size.w, size.h, m.frames.scope, bad)
				}
				checkFits(t, m, size.w, size.h)
				frames := strings.Join(paneBox(screenOf(m), "Frames of stream "+sid), "\n")
				wants := []string{"none left in history", "|GET /bad", "|ERR bad request|"}
				if size.w == 160 {
					wants = []string{"none left in history", "→ client to server: first 32 bytes",
						"47 45 54 20 2f 62 61 64  20 48 54 54 50 2f 31 2e  |GET /bad HTTP/1.|",
						"← server to client: first 15 bytes", "45 52 52 20 62 61 64 20  72 65 71 75 65 73 74     |ERR bad request|"}
				}
				for _, want := range wants {
					if !strings.Contains(frames, want) {
						t.Errorf("%d×%d: the frames pane lacks %q:\n%s", size.w, size.h, want, frames)
					}
				}
			}
			// The streams pane's column of the client's first bytes, where
			// the pane has room beside its other columns: at 160 the
			// sessions pane beside it leaves too little; at 220 it shows.
			for _, w := range []int{220} {
				m := press(realModel(t, reg, w, 45), "!", "enter")
				checkFits(t, m, w, 45)
				streams := strings.Join(paneBox(screenOf(m), "Streams of session 1"), "\n")
				if row := cursorRow(paneBox(screenOf(m), "Streams of session 1")); !strings.Contains(streams, "→first") || !strings.Contains(row, "GET /bad HTTP/1.1…") {
					t.Errorf("%d×45: the streams pane does not show the client's first bytes on stream %d:\n%s", w, bad, streams)
				}
			}
			th := theme{loc: time.UTC}
			detail := strings.Join(detailInfo(&th, &leak, 158), "\n")
			if want := "stream " + sid + `: "GET /bad HTTP/1.1..Host: example" → "ERR bad request"`; !strings.Contains(detail, want) {
				t.Errorf("the LEAK record's detail lacks %q:\n%s", want, detail)
			}
		})
	}
}

// TestLeakFirstBytesNeverRawReal: a leaked request of ESC sequences, C0
// and C1 controls, DEL and invalid UTF-8 shows only as hex and printable
// ASCII: no such byte reaches the screen.
func TestLeakFirstBytesNeverRawReal(t *testing.T) {
	req := []byte("GET /bad\x1b[2J\x1b]0;pwned\x07\x9b31m\xff\xfe\x7f\r\n\xc3")
	reg, _, leak := leakyModel(t, smuxtest.Mux{Smux: smuxtest.Config(1)}, req)
	th := theme{loc: time.UTC}
	views := []string{strings.Join(detailInfo(&th, &leak, 158), "\n")}
	for _, size := range []struct{ w, h int }{{160, 45}, {80, 24}, {220, 45}} {
		m := press(realModel(t, reg, size.w, size.h), "!", "enter")
		views = append(views, m.View().Content)
		checkFits(t, m, size.w, size.h)
	}
	for _, v := range views {
		for _, raw := range []string{"\x1b[2J", "\x1b]0", "\x07", "\x7f", "\r"} {
			if strings.Contains(v, raw) {
				t.Errorf("raw %q reached the screen", raw)
			}
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, '\u009b') {
			t.Errorf("invalid UTF-8 or a C1 control reached the screen")
		}
	}
	screen := ansi.Strip(views[1])
	if !strings.Contains(ansi.Strip(views[3]), " GET /bad.[2J.]0;p… ") || !strings.Contains(screen, "|GET /bad.[2J.]0;|") || !strings.Contains(screen, "|pwned..31m......|") ||
		!strings.Contains(views[0], `"GET /bad.[2J.]0;pwned..31m......"`) {
		t.Errorf("the request does not show as printable text:\n%s\n%s", views[0], ansi.Strip(views[1]))
	}
}
