package live

import (
	"testing"
	"time"
	"unsafe"
)

// TestSessionHist checks that a session reaches its registry's history
// directly (Session.hist), the ring its records and events go to.
func TestSessionHist(t *testing.T) {
	r := New(Config{})
	s := r.Open(SessionInfo{}, time.Now())
	if s.hist != r.hist {
		t.Fatalf("session's history %p, registry's %p", s.hist, r.hist)
	}
}

// TestFoldedLine checks that prefetchFold's last two lines lie in the
// stream and hold folded.
func TestFoldedLine(t *testing.T) {
	folded := unsafe.Offsetof(stream{}.folded)
	if foldedLine+128 > unsafe.Sizeof(stream{}) || folded < foldedLine || folded >= foldedLine+128 {
		t.Errorf("lines from %d: folded at %d, stream %d bytes", foldedLine, folded, unsafe.Sizeof(stream{}))
	}
}
