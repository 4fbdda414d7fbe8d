package tui

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestResetStreamShowsLifetime: a real hashicorp/yamux stream whose
// client closed it and whose server never did is reset by the client's
// StreamCloseTimeout. In the live session its row shows how long it
// lived, SYN to the RST, and no idle, as a closed stream's does: it is
// over. Before, its age and idle grew from now, 'reset 1.2s 1.2s' for
// a stream that lived 50 ms.
func TestResetStreamShowsLifetime(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	cfg := smuxtest.YamuxConfig()
	cfg.StreamCloseTimeout = 50 * time.Millisecond
	cli, srv := smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "reset", tap.WithProtocol(tap.Yamux)), sc, cfg, smuxtest.YamuxConfig())
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	acc, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(acc, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	st.Close() // the server never closes: the client resets it 50 ms later
	var snap *live.StreamSnap
	smuxtest.Eventually(t, "the stream reset", func() bool {
		ss := reg.Snapshot().Sessions
		if len(ss) != 1 {
			return false
		}
		snap = ss[0].Stream(st.StreamID())
		return snap != nil && snap.State == live.StreamReset
	})
	now := snap.Last.Add(time.Second) // a second after the RST, the session live
	sty := newStyles(true)
	cells := streamCells(&sty, snap, false, time.Time{}, false, now, live.DefaultStallAfter, false)
	if age, idle := cells[7].text, cells[8].text; age != dur(snap.Last.Sub(snap.First)) || idle != "" {
		t.Errorf("a stream reset %v after its SYN, a second ago: age %q, idle %q; want %q and no idle",
			snap.Last.Sub(snap.First), age, idle, dur(snap.Last.Sub(snap.First)))
	}
}
