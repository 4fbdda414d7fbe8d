package pcapout_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// gate is a writer that blocks until opened: a disk that stalls.
type gate struct {
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

// TestStalledFileNeverBlocks writes 210 MB through a Writer whose file
// does not move: every Write must return at once, what the queue could
// not take must be counted as dropped, and once the file moves again, a
// reader of what was written must see exactly the dropped bytes as lost,
// the session marked incomplete.
func TestStalledFileNeverBlocks(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	w, err := pcapout.New(g, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	// Whole v1 PSH frames of 65535 bytes on stream 3, so that a reader
	// can count the frames that were written whole.
	frame := make([]byte, 8+65535)
	frame[0], frame[1], frame[2], frame[3], frame[4] = 1, 2, 0xff, 0xff, 3
	start := time.Now()
	const frames = 3200 // about 210 MB
	for range frames {
		c.Write(live.ClientToServer, at, frame)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("writing into a stalled file took %v: the data path waited", d)
	}
	if w.Dropped() == 0 {
		t.Fatal("nothing dropped though the file never moved")
	}
	c.End(live.ClientToServer, at)
	c.End(live.ServerToClient, at)
	close(g.open)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := capture.Open(bytes.NewReader(g.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg})
	if err := rd.Run(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	s := reg.Snapshot()
	if len(s.Sessions) != 1 {
		t.Fatalf("%d sessions read back, want 1", len(s.Sessions))
	}
	ss := s.Sessions[0]
	if ss.Lost[0] != w.Dropped() || !ss.Incomplete {
		t.Fatalf("read back lost %d bytes, incomplete %v; the writer dropped %d", ss.Lost[0], ss.Incomplete, w.Dropped())
	}
	written := uint64(frames) - uint64(w.Dropped())/uint64(len(frame))
	if got := ss.Counts.Frames[0][2]; got != written {
		t.Fatalf("read back %d PSH frames, %d were written whole", got, written)
	}
}

// failAfter accepts n bytes, then fails every write, as a disk that fills.
type failAfter struct{ n int }

var errFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestOnErrorAtFirstFailure: the first failed write of the file is said
// at once, while writes go on, not only by Close; once, however many
// writes come after it.
func TestOnErrorAtFirstFailure(t *testing.T) {
	w, err := pcapout.New(&failAfter{n: 1 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	w.OnError(func(err error) { errs <- err })
	at := time.Now()
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", at)
	chunk := make([]byte, 32<<10)
	for range 64 { // 2 MiB: past the writer's buffer, so writes fail
		c.Write(live.ClientToServer, at, chunk)
	}
	var first error
	select { // before Close: the writer's goroutine says it
	case first = <-errs:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnError call 10 s after the writes failed")
	}
	if !errors.Is(first, errFull) {
		t.Fatalf("OnError got %v, want the file's error", first)
	}
	for range 64 {
		c.Write(live.ClientToServer, at, chunk)
	}
	if err := w.Close(); !errors.Is(err, errFull) {
		t.Fatalf("Close: %v, want the file's error", err)
	}
	if n := len(errs); n != 0 {
		t.Errorf("OnError called %d more times, want once in all", n)
	}
}
