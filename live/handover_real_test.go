package live_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestUnansweredHandsOverRealSmux: a real smux v2 client opens a stream
// the server answers, then two whose server never reads them (no UPD:
// nothing comes back on them); after that answer it uploads on the two
// until smux holds each writer at the 256 KiB window. UNANSWERED counts
// the two (their windows filled after they waited --unanswered-after),
// and both hand over to WINDOW_STALL in one evaluation: the resolution
// names both, and, the first answered before UNANSWERED counted
// anything, says nothing of others. (The answered stream opens first: an
// answer on one opened after them would show them accepted, smux
// accepting in SYN order, and they would be no UNANSWERED's at all.)
func TestUnansweredHandsOverRealSmux(t *testing.T) {
	reg := live.New(live.Config{})
	cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
	served := make(chan error, 1)
	go func() {
		st, err := srv.AcceptStream()
		if err != nil {
			served <- err
			return
		}
		go func() {
			_, err := io.Copy(st, st)
			served <- err
		}()
		for range 2 { // the uploads: accepted, never read
			if _, err := srv.AcceptStream(); err != nil {
				served <- err
				return
			}
		}
	}()
	echo, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	var uploads [2]*smux.Stream
	for i := range uploads {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("PUT ")); err != nil {
			t.Fatal(err)
		}
		uploads[i] = st
	}
	if _, err := echo.Write([]byte("ECHO")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(echo, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	waitStream(t, reg, echo.ID(), "the echo", func(st *live.StreamSnap) bool { return st.Bytes[s2c] == 4 })
	// Each upload writes until smux holds it at the window; the writes
	// return when the session closes at the test's end.
	for _, st := range uploads {
		go st.Write(make([]byte, live.InitialPeerWindow))
	}
	var full, first time.Time // when the later window filled, and the earlier
	wait := time.Hour         // --unanswered-after: less than any upload's SYN to its full window
	for _, up := range uploads {
		st := waitStream(t, reg, up.ID(), "the full window", func(st *live.StreamSnap) bool { return !st.Flow[c2s].FullSince.IsZero() })
		fs := st.Flow[c2s].FullSince
		if fs.After(full) {
			full = fs
		}
		if first.IsZero() || fs.Before(first) {
			first = fs
		}
		// A quarter, not a half: a stream waits from its first payload
		// (watch.asked), not its SYN (First), and counts only where its
		// window filled after it had waited --unanswered-after. Under
		// -race on a loaded CI machine the client's "PUT " once came so
		// long after its SYN that stream 3's window filled within half
		// its SYN-to-full time of it, and UNANSWERED counted stream 5
		// alone ("UNANSWERED counted 1 streams").
		wait = min(wait, fs.Sub(st.First)/4)
	}
	// The evaluations run in real time: one the tap's time put a second
	// after the other, a moment after it in real time, found a write of
	// the client's tap still under way at both (its frame counted as it
	// went in) and took it for one held a second, SESSION_BLOCKED's
	// sign, which excuses the stall (1 run in ~50: "+UNANSWERED
	// -UNANSWERED").
	cfg := live.FindingsConfig{UnansweredAfter: wait, StallAfter: 2 * time.Second, LeakAfter: time.Hour, Churn: -1}
	now := time.Now()
	if now.Sub(first) >= cfg.StallAfter/2 {
		t.Fatalf("the first evaluation came %v after the earlier window filled (the later %v): want it well before StallAfter, %v", now.Sub(first), now.Sub(full), cfg.StallAfter)
	}
	reg.Evaluate(now, cfg) // both wait, neither is held StallAfter yet
	time.Sleep(time.Until(full.Add(cfg.StallAfter)))
	reg.Evaluate(time.Now(), cfg) // both are held StallAfter
	recs := findingRecords(reg)
	if got, want := codes(reg), "+UNANSWERED -UNANSWERED +WINDOW_STALL +WINDOW_STALL"; got != want {
		t.Fatalf("%s, want %s:%s", got, want, describeRecords(recs))
	}
	want := "streams 5 and 7, still unanswered, are WINDOW_STALL's now: the client's writers are held by full windows, which the server has not read from"
	if recs[0].Finding.Evidence.Count != 2 || recs[1].Detail != want {
		t.Errorf("UNANSWERED counted %d streams and resolved:\n  %q\nwant 2 and\n  %q", recs[0].Finding.Evidence.Count, recs[1].Detail, want)
	}
	select {
	case err := <-served:
		t.Fatalf("the server stopped: %v", err)
	default:
	}
}
