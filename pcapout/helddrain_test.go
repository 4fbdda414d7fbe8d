package pcapout_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// stallingFile is a file whose writes, while armed, each wait for the
// test's release, after telling it whether the writer was sampling the
// writes in progress (heldWrites) as it wrote: a slow file, or a writer
// goroutine a loaded machine does not run.
type stallingFile struct {
	lockedBuffer
	armed   chan bool // holds true while armed
	blocked chan bool
	release chan struct{}
}

func (f *stallingFile) Write(p []byte) (int, error) {
	armed := <-f.armed
	f.armed <- armed
	if armed {
		stack := make([]byte, 64<<10)
		stack = stack[:runtime.Stack(stack, false)]
		f.blocked <- strings.Contains(string(stack), "(*Writer).heldWrites")
		<-f.release
	}
	return f.lockedBuffer.Write(p)
}

func (f *stallingFile) arm(on bool) {
	<-f.armed
	f.armed <- on
}

func newStallingFile() *stallingFile {
	f := &stallingFile{armed: make(chan bool, 1), blocked: make(chan bool), release: make(chan struct{})}
	f.armed <- false
	return f
}

// stallSample returns once a sample of the writes in progress (w's, the
// writer of f) is stalled writing to f what was queued: a write is
// queued for it, and its tick is due, each time the writer is stalled
// elsewhere. f stays armed.
func stallSample(t *testing.T, f *stallingFile, c tap.HeldRecorder) {
	t.Helper()
	big := make([]byte, 64<<10) // more than the file's buffer: written at once
	f.arm(true)
	c.Write(live.ClientToServer, time.Now(), big)
	for {
		select {
		case inSample := <-f.blocked:
			if inSample {
				return
			}
		case <-time.After(time.Minute):
			t.Fatal("the writer wrote nothing to the file in a minute")
		}
		c.Write(live.ClientToServer, time.Now(), big)
		time.Sleep(pcapout.HeldEvery + 10*time.Millisecond)
		f.release <- struct{}{}
	}
}

// closedFrom fails the test if the file f shows the server's window
// (port 9000's) closed before began.
func closedFrom(t *testing.T, f *stallingFile, began time.Time) {
	t.Helper()
	ws, ats := windowsAt(f.bytes(), 9000)
	if len(ws) == 0 {
		t.Fatal("no packet of the server's in the file")
	}
	for i, v := range ws {
		if v == 0 && ats[i].Before(began) {
			t.Fatalf("the server's window closed %v before the write it held began (its windows: %v)", began.Sub(ats[i]), ws)
		}
	}
}

// TestHeldWriteNotTimedFromBeforeADrain: a sample of the writes in
// progress writes what was queued first, which can take long (a 16 MiB
// frame under -race on a starved machine took 15 s); a write that began
// meanwhile is timed from when the writer saw it, and its receiver's
// window, if it is held, closes no earlier than it began. Before, the
// sample timed what it saw after its drain from its start: the next
// sample took a write it had seen for 9 ms as held for 15 s, and wrote
// the receiver's window closed from before that write began (ci94's
// TestBigWriteNoZeroWindow: "the server's window closed for
// 6.599562031s").
func TestHeldWriteNotTimedFromBeforeADrain(t *testing.T) {
	f := newStallingFile()
	w, err := pcapout.NewSized(f, 0, 4<<10, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now()).(tap.HeldRecorder)
	stallSample(t, f, c)
	// The sample's drain takes longer than HeldAfter; a write begins
	// meanwhile.
	began := time.Now()
	c.WriteStarted(live.ClientToServer)
	time.Sleep(pcapout.HeldAfter + 50*time.Millisecond)
	n := pcapout.HeldSamples(w)
	f.arm(false)
	f.release <- struct{}{}
	// That sample and the next see it in progress.
	smuxtest.Eventually(t, "two samples after the drain", func() bool { return pcapout.HeldSamples(w) >= n+2 })
	c.WriteDone(live.ClientToServer, false)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closedFrom(t, f, began)
}

// TestHeldChunkClosedFromItsOwnStart: a held write that is not the one
// write begun since the previous sample (a big write's later chunk,
// tap's WriteProgress, after its first) does not own the bytes recorded
// since then: its receiver's window closes from when the writer first
// saw it, not from those bytes. Before, it closed from the bytes of the
// write before it (a frame's, its first chunk's), which a drain that
// took long had left far behind the chunk held (18 s closed for a write
// seen 9 ms, with the drain's own timing).
func TestHeldChunkClosedFromItsOwnStart(t *testing.T) {
	f := newStallingFile()
	w, err := pcapout.NewSized(f, 0, 4<<10, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now()).(tap.HeldRecorder)
	stallSample(t, f, c)
	// While the sample writes what was queued: a frame's bytes, its first
	// chunk written, and the next chunk begun, which is held.
	c.Write(live.ClientToServer, time.Now(), []byte("frame"))
	c.WriteStarted(live.ClientToServer)
	c.WriteDone(live.ClientToServer, false)
	began := time.Now()
	c.WriteStarted(live.ClientToServer)
	f.arm(false)
	f.release <- struct{}{}
	smuxtest.Eventually(t, "the server's zero window in the file", func() bool {
		ws := windows(f.bytes(), 9000)
		return len(ws) > 0 && ws[len(ws)-1] == 0
	})
	c.WriteDone(live.ClientToServer, false)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closedFrom(t, f, began)
}
