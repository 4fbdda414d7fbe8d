package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestKeptBySnaplenRealCapture: the frame detail of a large frame of a
// real yamux session, read whole from its capture, says that muxtop's own
// --snaplen kept its first bytes and that the frame came whole, and y says
// so as well. It said "payload 256 of 150000 bytes: truncated by the
// snaplen", which a reader of a capture takes for the capture's snapshot
// length having cut the packet (read says that as bytes lost by the
// capture).
func TestKeptBySnaplenRealCapture(t *testing.T) {
	client, server := smuxtest.Exchange{Request: []byte("GET"), Answer: bigPayload}.Peers(t, smuxtest.Mux{})
	ps, _, stream := recordReal(t, true, live.Client, nil, client, server)
	reg := readWithout(t, ps, pcaptest.Placed{I: -1})
	kept := reg.Config().Snaplen
	var big frameAt
	for _, f := range framesOf(stream[live.ServerToClient], true) {
		if f.n > int64(kept) {
			big = f
			break
		}
	}
	if big.n == 0 {
		t.Fatal("no frame larger than the snaplen")
	}
	wantDetail := fmt.Sprintf("payload %d bytes, %d kept: muxtop's --snaplen (the frame came whole)", big.n, kept)
	wantFlash := fmt.Sprintf("copied %d payload bytes as hex (those --snaplen kept of %d)", kept, big.n)

	m := newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0)
	m = press(resize(m, 200, 60), "tab", "tab", "g") // the session's frames, the first
	for range m.frames.index.len() {
		r := selectedFrame(m)
		if r == nil || r.Kind != live.FrameRecord || r.Dir != live.ServerToClient || r.Offset != big.off {
			m = press(m, "j")
			continue
		}
		screen := screenOf(m)
		if detail := strings.Join(paneBox(screen, "Frame "), "\n"); !strings.Contains(detail, wantDetail) || strings.Contains(detail, "truncated") {
			t.Errorf("the detail pane does not say %q:\n%s", wantDetail, screen)
		}
		next, cmd := m.Update(keyMsg("y"))
		if cmd == nil || next.(Model).flash != wantFlash {
			t.Errorf("y said %q; want %q", next.(Model).flash, wantFlash)
		}
		return
	}
	t.Fatalf("no row for the frame of %d bytes at offset %d", big.n, big.off)
}
