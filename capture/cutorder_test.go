package capture_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestLimitCutByPosition: the sessions open at a --write file's cut were
// chosen by time (a last packet stamped no later than the cut's), but
// pcapout stamps a packet as its bytes pass, before it queues it, so the
// file's packets are not in time order across connections: a session
// whose last packet, before the cut in the file, was stamped after it was
// missed, read as neither ended nor cut. They are chosen by position in
// the file now.
// Before: "session 1 (…) not cut at the limit (Cut 0001-01-01 00:00:00 +0000 UTC), though open there".
func TestLimitCutByPosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.pcapng")
	w, err := pcapout.Create(path, 20<<10)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A: its last packet stamped at 10 s, written before B's.
	a := w.Conn("127.0.0.1:40001", "127.0.0.1:9000", t0)
	a.Write(live.ClientToServer, t0, smuxSYN3)
	a.Write(live.ClientToServer, t0.Add(10*time.Second), smuxPSH3(100))
	// B: stamped at 5 s, its bytes reach the limit.
	b := w.Conn("127.0.0.1:40002", "127.0.0.1:9000", t0)
	b.Write(live.ClientToServer, t0, smuxSYN3)
	for range 40 {
		b.Write(live.ClientToServer, t0.Add(5*time.Second), smuxPSH3(1000))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !w.Full() {
		t.Fatal("the file did not reach its limit")
	}
	snap, st := readFile(t, path, capture.Filter{})
	if st.LimitCut.IsZero() {
		t.Fatal("no cut read")
	}
	if len(snap.Sessions) != 2 {
		t.Fatalf("%d sessions read back, want 2", len(snap.Sessions))
	}
	for _, s := range snap.Sessions {
		if s.Cut.IsZero() {
			t.Errorf("session %d (%+v) not cut at the limit (Cut %v), though open there", s.ID, s.Info, s.Cut)
		}
	}
}

// smuxSYN3 is an smux v1 SYN of stream 3, smuxPSH3 a PSH of n bytes on it:
// the frames of the tests that write a --write file by hand.
var smuxSYN3 = []byte{1, 0, 0, 0, 3, 0, 0, 0}

func smuxPSH3(n int) []byte {
	f := make([]byte, 8+n)
	f[0], f[1], f[2], f[3], f[4] = 1, 2, byte(n), byte(n>>8), 3
	return f
}

// cutT0 is when the hand-written --write files of the cut tests begin.
var cutT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// writeTapFile writes a pcapout file at path with --write-limit limit
// bytes (0: none), its connections written by fill, and returns path;
// with a limit, the file must have reached it.
func writeTapFile(t *testing.T, path string, limit int64, fill func(w *pcapout.Writer)) string {
	t.Helper()
	w, err := pcapout.Create(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	fill(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if limit > 0 && !w.Full() {
		t.Fatalf("%s did not reach its limit", filepath.Base(path))
	}
	return path
}
