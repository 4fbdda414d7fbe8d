package tui

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestFirstBytesJoinedShown: a stream a capture joined mid-stream shows
// its first bytes as what they are, the first the capture saw: a … before
// them in the streams pane's column, "(joined mid-stream)" in a LEAK's
// line, with a … before each quote. Before, "ad HTTP/1.1" read as the
// request itself.
func TestFirstBytesJoinedShown(t *testing.T) {
	var h [2]live.FirstBytes
	h[0].N = uint8(copy(h[0].Data[:], `ad "x"`))
	h[0].Joined, h[1].Joined = true, true
	if got, want := firstText(&h[0]), `…ad "x"`; got != want {
		t.Errorf("column %q, want %q", got, want)
	}
	if got, want := firstLine(5, &h), `stream 5 (joined mid-stream): …"ad \"x\"" → …`; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	h[0].Joined, h[1].Joined = false, false
	h[0].Cut = true
	if got, want := firstLine(5, &h), `stream 5: "ad \"x\""… → (none sent)`; got != want {
		t.Errorf("not joined: line %q, want %q", got, want)
	}
}
