package pcapout_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestDropsBeforeLimitPastIt: bytes the full queue dropped before the
// file reached its limit were Dropped's, "a reader sees them as lost",
// but where no packet of their direction was written after them before
// the limit they fall after the file's last packet: no reader sees a
// hole. They are PastLimit's now, and what Dropped counts a reader sees.
// Before: "read back lost [0 0]; Dropped 11088, PastLimit …".
func TestDropsBeforeLimitPastIt(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	w, err := pcapout.NewSized(g, 64<<10, 4<<10, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	c.Write(live.ClientToServer, at, []byte{1, 0, 0, 0, 3, 0, 0, 0}) // SYN of stream 3, v1
	frame := make([]byte, 8+1000)
	frame[0], frame[1], frame[2], frame[3], frame[4] = 1, 2, 0xe8, 0x03, 3 // PSH, 1000 bytes
	for w.Dropped() == 0 {
		c.Write(live.ClientToServer, at, frame)
	}
	for range 10 {
		c.Write(live.ClientToServer, at, frame)
	}
	dropped := w.Dropped()
	close(g.open)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !w.Full() {
		t.Fatal("the file did not reach its limit")
	}
	file, err := capture.Open(bytes.NewReader(g.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	if err := capture.NewReader(capture.Config{Registry: reg}).Run(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	s := reg.Snapshot()
	if len(s.Sessions) != 1 {
		t.Fatalf("%d sessions read back, want 1", len(s.Sessions))
	}
	lost := s.Sessions[0].Lost
	if lost[0] != w.Dropped() || w.Dropped()+w.PastLimit() < dropped {
		t.Fatalf("read back lost %v; Dropped %d, PastLimit %d (Dropped %d before the file moved)", lost, w.Dropped(), w.PastLimit(), dropped)
	}
}
