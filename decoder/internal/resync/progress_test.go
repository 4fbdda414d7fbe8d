package resync_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/resync"
)

// TestProgressLose follows a frame of a 3-byte header and 10 payload
// bytes: 4 come, 2 are lost, 1 comes, and the last 3 are lost, which
// leaves it whole. A loss before the header is whole, or past the
// payload's end, is refused; a whole frame is not dropped, one in
// progress is, with the bytes that came.
func TestProgressLose(t *testing.T) {
	var p resync.Progress
	p.Header = 2
	if p.Lose(1, hdrSize, 10) {
		t.Fatal("Lose took bytes before the header was whole")
	}
	p.Header, p.Got = hdrSize, 4
	if !p.Lose(2, hdrSize, 10) || p.Got != 6 || p.Lost() != 2 || p.Came() != hdrSize+4 {
		t.Fatalf("Lose(2) after 4: Got %d Lost %d Came %d; want 6, 2, %d", p.Got, p.Lost(), p.Came(), hdrSize+4)
	}
	p.Got++ // one byte comes
	if p.Lose(4, hdrSize, 10) || p.Whole(10) {
		t.Fatal("Lose took 4 bytes where 3 were left, or the frame is whole early")
	}
	if !p.Lose(3, hdrSize, 10) || !p.Whole(10) || p.Lost() != 5 || p.Kept(8) != 4 || p.Kept(3) != 3 {
		t.Fatalf("Lose(3) at the end: Whole %v Lost %d Kept(8) %d Kept(3) %d; want whole, 5, 4, 3", p.Whole(10), p.Lost(), p.Kept(8), p.Kept(3))
	}
	if came, whole := p.Drop(10); came != 0 || !whole || p.Came() != hdrSize+5 {
		t.Fatalf("Drop of a whole frame: %d, %v, Came %d after; want it kept", came, whole, p.Came())
	}
	p = resync.Progress{Header: hdrSize, Got: 7}
	if came, whole := p.Drop(10); came != hdrSize+7 || whole || p != (resync.Progress{}) {
		t.Fatalf("Drop of a frame in progress: %d, %v, %+v after; want %d, dropped", came, whole, p, hdrSize+7)
	}
	if p.Kept(8) != 8 {
		t.Fatalf("Kept(8) with nothing lost: %d", p.Kept(8))
	}
}
