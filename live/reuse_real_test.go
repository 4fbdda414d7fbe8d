package live_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestSnapshotReuseExactReal: over real smux v1, v2 and hashicorp/yamux
// sessions (streams opened, a request and its echo on each, a bulk echo
// that moves the windows, streams closed, evaluations that open and
// resolve LEAKs, the session's end), every picture a snapshot takes of
// the session, reused or not, equals the one built anew at that instant:
// snapshots taken between the steps, with the UI's options, Snapshot's
// and every stream's, and others taken all the while by a goroutine as
// the frames arrive.
func TestSnapshotReuseExactReal(t *testing.T) {
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			reg := live.New(live.Config{ClosedStreams: 2})
			c := checkReuse(t, reg)
			var opts []tap.Option
			if m.mux.Yamux() {
				opts = append(opts, tap.WithProtocol(tap.Yamux))
			}
			cc, sc := smuxtest.Conns(t)
			tapped := tap.Wrap(cc, live.Client, reg, "test", opts...)
			served := make(chan error, 1)
			go func() {
				srv, err := m.mux.Server(sc)
				if err != nil {
					served <- err
					return
				}
				var echoes sync.WaitGroup
				for {
					st, err := srv.AcceptStream()
					if err != nil {
						echoes.Wait()
						served <- nil
						return
					}
					echoes.Go(func() {
						io.Copy(st, st)
						st.Close()
					})
				}
			}()
			cli, err := m.mux.Client(tapped)
			if err != nil {
				t.Fatal(err)
			}

			// Snapshots with each front end's options, the evaluation's
			// leak threshold short so that streams age and leak within
			// the test.
			const leakAfter = 20 * time.Millisecond
			options := []live.SnapshotOptions{
				{LeakAfter: leakAfter, StallAfter: time.Millisecond, Streams: func(uint64) bool { return false }},
				{LeakAfter: leakAfter, StallAfter: time.Millisecond},
				{Latency: true},
			}
			// Of the pictures reused, those with counts of their own
			// (aged streams), and those with leaks too.
			var reused, reusedAged, reusedLeaks int
			prev := make([]*live.SessionSnap, len(options))
			snapshots := func() {
				for i, o := range options {
					for range 2 {
						// A second ahead, as the evaluations are: every
						// stream is old enough to leak.
						o.Now = reg.Now().Add(time.Second)
						snap := reg.SnapshotWith(o)
						if len(snap.Sessions) != 1 {
							t.Fatalf("%d sessions, want 1", len(snap.Sessions))
						}
						if ss := snap.Sessions[0]; ss == prev[i] {
							reused++
							if ss.Aged > 0 {
								reusedAged++
							}
							if ss.Leaks > 0 {
								reusedLeaks++
							}
						}
						prev[i] = snap.Sessions[0]
					}
				}
			}
			evaluate := func() {
				reg.Evaluate(reg.Now().Add(time.Second), live.FindingsConfig{LeakAfter: leakAfter, StallAfter: time.Millisecond, Churn: -1})
			}
			stop := make(chan struct{})
			var watcher sync.WaitGroup
			watcher.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					o := options[i%len(options)]
					o.Now = reg.Now().Add(time.Second) // as the steps' snapshots
					reg.SnapshotWith(o)
				}
			})

			// A stream closed first: the streams after it are no setup
			// streams (live.SetupWindow), which LEAK does not count.
			first, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			echo(t, first, []byte("HELLO"))
			first.Close()
			smuxtest.Eventually(t, "the first stream's close", func() bool {
				ss := reg.Snapshot().Sessions[0]
				return ss.Open == 0 && ss.Total == 1
			})
			snapshots()
			streams := make([]net.Conn, 6)
			for i := range streams {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				echo(t, st, []byte("RAND"))
				streams[i] = st
				snapshots()
			}
			evaluate() // every stream open: a LEAK
			snapshots()
			// A bulk echo: smux v2's UPDs, yamux's window updates.
			echo(t, streams[0], make([]byte, 1<<20))
			snapshots()
			for _, st := range streams[:4] {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				snapshots()
			}
			evaluate() // fewer streams leak
			snapshots()
			for _, st := range streams[4:] {
				st.Close()
			}
			evaluate() // none: the LEAK resolves
			snapshots()
			cli.Close()
			smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().Sessions[0].Ended })
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			evaluate()
			snapshots()
			close(stop)
			watcher.Wait()
			// hashicorp/yamux's LEAK waits for a first ping, which
			// comes after the test: its pictures count aged streams.
			if reusedAged == 0 || !m.mux.Yamux() && reusedLeaks == 0 {
				t.Errorf("of %d pictures reused, %d with aged streams and %d with leaks", reused, reusedAged, reusedLeaks)
			}
			t.Logf("%d pictures checked; %d reused between the steps, %d with aged streams, %d with leaks", c.checked.Load(), reused, reusedAged, reusedLeaks)
		})
	}
}

// echo writes b on st and reads its echo back.
func echo(t *testing.T, st net.Conn, b []byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := st.Write(b)
		errc <- err
	}()
	if _, err := io.ReadFull(st, make([]byte, len(b))); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
