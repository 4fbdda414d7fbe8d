package pcapout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/internal/smuxtest"
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

// TestStalledFileNeverBlocks writes 210 MB (under -race 13 MB into a
// 4 MiB queue) through a Writer whose file does not move: every Write
// must return at once, what the queue could not take must be counted as
// dropped, and once the file moves again, a reader of what was written
// must see exactly the dropped bytes as lost, the session marked
// incomplete.
func TestStalledFileNeverBlocks(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	frames := 3200 // about 210 MB, past New's 64 MiB queue
	// The 64 MiB the queue took, copied into it and the file, were the
	// test's 12 s in CI's race run: a 4 MiB queue and 13 MB take the same
	// paths; New's own queue without -race. One writer only: a second,
	// left running, would write its header into g too.
	newWriter := func() (*pcapout.Writer, error) { return pcapout.New(g, 0) }
	if racetest.Enabled {
		frames = 200
		newWriter = func() (*pcapout.Writer, error) { return pcapout.NewQueued(g, 4<<20) }
	}
	w, err := newWriter()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	// Whole v1 PSH frames of 65535 bytes on stream 3, so that a reader
	// can count the frames that were written whole.
	frame := make([]byte, 8+65535)
	frame[0], frame[1], frame[2], frame[3], frame[4] = 1, 2, 0xff, 0xff, 3
	// The file moves only after the writes: a data path that waited on it
	// would never return. Not timed: 5 s for the 210 MB was too little for
	// a loaded machine under -race (writing into a stalled file took
	// 7.342743707s: the data path waited), though nothing waited.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for range frames {
			c.Write(live.ClientToServer, at, frame)
		}
	}()
	select {
	case <-wrote:
	case <-time.After(2 * time.Minute):
		t.Fatal("writing into a stalled file did not return in 2 minutes: the data path waits on the file")
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

// readBack reads the capture at path as muxtop read does and returns the
// PSH frames client to server of its one session, or an error if it does
// not parse or holds no session.
func readBack(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	file, err := capture.Open(f)
	if err != nil {
		return 0, err
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg})
	if err := rd.Run(context.Background(), file); err != nil {
		return 0, err
	}
	s := reg.Snapshot()
	if len(s.Sessions) != 1 {
		return 0, fmt.Errorf("%d sessions, want 1", len(s.Sessions))
	}
	return s.Sessions[0].Counts.Frames[0][2], nil
}

// TestFileReadableWhileWriting: while the connection goes on and the
// Writer is open, the file grows within about FlushEvery into a capture
// that reads, with the frames written so far; a kill then loses about a
// second, not all of it. The writer's goroutine ends with Close.
func TestFileReadableWhileWriting(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	path := filepath.Join(t.TempDir(), "w.pcapng")
	w, err := pcapout.Create(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	at := time.Now()
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	frame := []byte{1, 2, 4, 0, 3, 0, 0, 0, 'p', 'i', 'n', 'g'} // v1 PSH, 4 bytes, stream 3
	for range 5 {
		c.Write(live.ClientToServer, at, frame)
	}
	start := time.Now()
	var got uint64
	for {
		got, err = readBack(path)
		if err == nil && got == 5 {
			break
		}
		if time.Since(start) > 2*pcapout.FlushEvery+time.Second {
			t.Fatalf("%v after 5 frames written, the open file reads: %d frames, %v; want 5 frames", time.Since(start).Round(time.Millisecond), got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// More frames, later: flushed again, the file still reads whole.
	for range 3 {
		c.Write(live.ClientToServer, at, frame)
	}
	smuxtest.Eventually(t, "8 frames in the open file", func() bool {
		got, err = readBack(path)
		return err == nil && got == 8
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOnErrorWithoutMuchWritten: a file that cannot be written at all
// (a full disk, /dev/full) is said within about FlushEvery, though what
// was written fits the writer's buffer many times over, while the Writer
// is open: not first at Close. The error is the file's, not prefixed
// with this package's name.
func TestOnErrorWithoutMuchWritten(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	w, err := pcapout.New(&failAfter{n: 0}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	errs := make(chan error, 1)
	w.OnError(func(err error) { errs <- err })
	at := time.Now()
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", at)
	c.Write(live.ClientToServer, at, []byte("hello"))
	select {
	case err := <-errs:
		if err.Error() != errFull.Error() {
			t.Errorf("OnError got %q, want %q", err, errFull)
		}
	case <-time.After(2*pcapout.FlushEvery + time.Second):
		t.Fatal("no OnError call while the Writer is open, though nothing could be written")
	}
	if err := w.Close(); err == nil || err.Error() != errFull.Error() {
		t.Errorf("Close: %v, want %q", err, errFull)
	}
}
