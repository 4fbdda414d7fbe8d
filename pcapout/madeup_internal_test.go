package pcapout

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestMadeUpEndsDoNotComeRound: one Writer, one conn with no IP address
// kept open and one ended, then 60 000 more such conns opened and ended,
// as a long-running program makes them: none is written with the ends of
// the one still open, nor of the one that ended (the count of made-up
// ports came round after 25 000 conns, giving a new conn the ends of one
// that had them moments before).
func TestMadeUpEndsDoNotComeRound(t *testing.T) {
	w, err := New(io.Discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := time.Now()
	open := w.ConnOver("", "/tmp/x.sock", "unix", now).(*Conn)
	ended := w.ConnOver("", "/tmp/x.sock", "unix", now).(*Conn)
	ended.Closed(live.ClientToServer, now)
	for i := range 60_000 {
		c := w.ConnOver("", "/tmp/x.sock", "unix", now).(*Conn)
		switch c.ends {
		case open.ends:
			t.Fatalf("conn %d has the ends of the conn still open: %v", i, c.ends)
		case ended.ends:
			t.Fatalf("conn %d has the ends of a conn that ended %d conns before: %v", i, i+1, c.ends)
		}
		c.Closed(live.ClientToServer, now)
	}
}
