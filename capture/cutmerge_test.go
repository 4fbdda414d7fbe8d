package capture_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestLimitCutOnlyItsFile: `muxtop read a.pcapng b.pcapng` of two tap
// captures, a cut by its --write-limit: the sessions open at a's cut are
// cut there, but b's, which a's writer never saw, are not, whatever
// their packets' place in the merge. They were marked cut too, as
// sessions of a's with no packet after the cut.
// Before: "session 2 (127.0.0.1:40002) of b.pcapng, which no limit cut, marked cut at 00:00:05".
func TestLimitCutOnlyItsFile(t *testing.T) {
	dir := t.TempDir()
	t0 := cutT0
	write := func(name string, limit int64, conn func(w *pcapout.Writer)) string {
		return writeTapFile(t, filepath.Join(dir, name), limit, conn)
	}
	// a: one session whose bytes reach the limit at about 5 s.
	a := write("a.pcapng", 20<<10, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40001", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, smuxSYN3)
		c.Write(live.ServerToClient, t0, smuxPSH3(10))
		for i := range 40 {
			c.Write(live.ClientToServer, t0.Add(time.Duration(i)*300*time.Millisecond), smuxPSH3(1000))
		}
	})
	// b: another tap's capture, no limit: a session quiet from 1 s on,
	// open at its end.
	b := write("b.pcapng", 0, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40002", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, smuxSYN3)
		c.Write(live.ClientToServer, t0.Add(time.Second), smuxPSH3(10))
		c.Write(live.ServerToClient, t0.Add(time.Second), smuxPSH3(10))
	})
	rd, reg := readMerged(t, nil, a, b)
	if rd.Stats().LimitCut.IsZero() {
		t.Fatal("no cut read")
	}
	snap := reg.Snapshot()
	if len(snap.Sessions) != 2 {
		t.Fatalf("%d sessions read back, want 2", len(snap.Sessions))
	}
	for _, s := range snap.Sessions {
		fromA := s.Info.Client == "127.0.0.1:40001"
		switch {
		case fromA && s.Cut.IsZero():
			t.Errorf("session %d (%s) of a.pcapng not cut at its limit, though open there", s.ID, s.Info.Client)
		case !fromA && !s.Cut.IsZero():
			t.Errorf("session %d (%s) of b.pcapng, which no limit cut, marked cut at %s", s.ID, s.Info.Client, s.Cut.Format("15:04:05"))
		}
	}
	var cuts []string
	for _, n := range snap.Notices {
		if strings.HasPrefix(n.Text, "the capture was cut here") {
			cuts = append(cuts, n.Text)
		}
	}
	if len(cuts) != 1 || !strings.HasSuffix(cuts[0], "; the session open then is cut here (INCOMPLETE): it did not end, what it did after is not in the capture") {
		t.Errorf("notices of the cut %q, want one of one session", cuts)
	}
}

// TestLimitCutHeldOpening: a session that opened while another
// connection was still being told apart, its opening held back (the
// order's wait) when the capture ended at its writer's cut, is cut there
// as the others open then: it was left open, read as neither ended nor
// cut.
// Before: "session 2 (127.0.0.1:40003) not cut at the limit, though open there".
func TestLimitCutHeldOpening(t *testing.T) {
	t0 := cutT0
	path := writeTapFile(t, filepath.Join(t.TempDir(), "w.pcapng"), 20<<10, func(w *pcapout.Writer) {
		a := w.Conn("127.0.0.1:40001", "127.0.0.1:9000", t0)
		a.Write(live.ClientToServer, t0, smuxSYN3)
		a.Write(live.ServerToClient, t0, smuxPSH3(10))
		for i := range 10 {
			a.Write(live.ClientToServer, t0.Add(time.Duration(i)*400*time.Millisecond), smuxPSH3(1000))
		}
		at := t0.Add(4 * time.Second)
		// y: three bytes, not yet a header: told apart by none so far.
		y := w.Conn("127.0.0.1:40002", "127.0.0.1:9000", at)
		y.Write(live.ClientToServer, at, []byte{1, 0, 0})
		// z: a session opened while y is told apart.
		z := w.Conn("127.0.0.1:40003", "127.0.0.1:9000", at)
		z.Write(live.ClientToServer, at.Add(10*time.Millisecond), smuxSYN3)
		z.Write(live.ServerToClient, at.Add(20*time.Millisecond), smuxPSH3(10))
		for i := range 20 {
			a.Write(live.ClientToServer, at.Add(30*time.Millisecond+time.Duration(i)*time.Millisecond), smuxPSH3(1000))
		}
	})
	snap, st := readFile(t, path, capture.Filter{})
	if st.LimitCut.IsZero() {
		t.Fatal("no cut read")
	}
	for _, s := range snap.Sessions {
		if s.Cut.IsZero() {
			t.Errorf("session %d (%s) not cut at the limit, though open there", s.ID, s.Info.Client)
		}
	}
	if len(snap.Sessions) < 2 {
		t.Errorf("%d sessions read back, want a's and z's", len(snap.Sessions))
	}
}

// TestLimitCutTwoFilesNamed: a merge of two files each cut at its
// writer's --write-limit, a at about 6 s and b at about 3 s: each cut's
// notice names its file, and the status's cut (Stats.LimitCut) is the
// earliest. Before, the notices were alike, "the capture was cut here",
// naming no file, and LimitCut was whichever cut was read last (a's).
func TestLimitCutTwoFilesNamed(t *testing.T) {
	dir := t.TempDir()
	t0 := cutT0
	// session writes a session from client whose bytes, 1000 every
	// 300 ms, reach limit at about the time given.
	session := func(name, client string, limit int64) string {
		return writeTapFile(t, filepath.Join(dir, name), limit, func(w *pcapout.Writer) {
			c := w.Conn(client, "127.0.0.1:9000", t0)
			c.Write(live.ClientToServer, t0, smuxSYN3)
			c.Write(live.ServerToClient, t0, smuxPSH3(10))
			for i := range 40 {
				c.Write(live.ClientToServer, t0.Add(time.Duration(i)*300*time.Millisecond), smuxPSH3(1000))
			}
		})
	}
	paths := []string{session("a.pcapng", "127.0.0.1:40001", 24<<10), session("b.pcapng", "127.0.0.1:40002", 12<<10)}
	rd, reg := readMerged(t, []string{"a.pcapng", "b.pcapng"}, paths...)
	cutAt := map[string]time.Time{}
	for _, n := range reg.Snapshot().Notices {
		for _, name := range []string{"a.pcapng", "b.pcapng"} {
			if strings.HasPrefix(n.Text, "the capture "+name+" was cut here: ") {
				cutAt[name] = n.At
			}
		}
	}
	a, b := cutAt["a.pcapng"], cutAt["b.pcapng"]
	if a.IsZero() || b.IsZero() || !b.Before(a) {
		t.Fatalf("cut notices by file %v: want one naming each, b's before a's", cutAt)
	}
	if got := rd.Stats().LimitCut; !got.Equal(b) {
		t.Errorf("LimitCut %s, want the earliest cut, b's at %s (a's at %s)", got.Format("15:04:05.000"), b.Format("15:04:05.000"), a.Format("15:04:05.000"))
	}
}

// readMerged reads the captures at paths merged, as read a.pcapng
// b.pcapng does, its reader told names (Config.Names), and returns the
// reader and the registry it fed.
func readMerged(t *testing.T, names []string, paths ...string) (*capture.Reader, *live.Registry) {
	t.Helper()
	var files []*capture.File
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cf, err := capture.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, cf)
	}
	m := capture.Merge(files...)
	clock := new(capture.Clock)
	clock.Set(m.Start())
	reg := live.New(live.Config{Clock: clock.Now})
	rd := capture.NewReader(capture.Config{Registry: reg, Clock: clock, Names: names})
	if err := rd.Run(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return rd, reg
}
