package live

import (
	"testing"
	"time"
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
