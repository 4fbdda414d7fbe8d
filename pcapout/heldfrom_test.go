package pcapout_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestHeldWriteClosedFromItsStart: a held write's receiver's zero window
// is stamped when the write began, at its bytes (recorded as it begins),
// not at the writer's first sample that saw it in progress, up to
// HeldEvery later: the file's block is as long as the write's. Before, it
// was stamped at that sample, and a write attach saw held for 603 ms was
// a block of 586 ms in the file.
func TestHeldWriteClosedFromItsStart(t *testing.T) {
	var buf lockedBuffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now()).(tap.HeldRecorder)
	// After a sample, so that the write begins after one and its bytes
	// are its own.
	n := pcapout.HeldSamples(w)
	smuxtest.Eventually(t, "a sample", func() bool { return pcapout.HeldSamples(w) > n })
	sent := time.Now()
	c.Write(live.ClientToServer, sent, []byte("ping"))
	c.WriteStarted(live.ClientToServer)
	began := time.Now()
	smuxtest.Eventually(t, "the server's zero window in the file", func() bool {
		ws := windows(buf.bytes(), 9000)
		return len(ws) > 0 && ws[len(ws)-1] == 0
	})
	ws, ats := windowsAt(buf.bytes(), 9000)
	at := ats[len(ws)-1]
	if at.Before(sent) || at.After(began) {
		t.Errorf("the server's zero window at %v after the held write's bytes; want when the write began, by %v", at.Sub(sent), began.Sub(sent))
	}
	c.WriteDone(live.ClientToServer, false)
}
