package live_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// TestLeakCountsTheLastLeakOnAQuietSessionRealMux: a real smux v1 pair with
// keepalive every 2 s, a server that answers a request and never closes
// its stream, and a client that reads the answer and closes its side.
// Once a LEAK of that server is open, a second such stream is counted as
// soon as it has been idle --leak-after (500 ms), though the connection
// is quiet after it: nothing the server sends (its next keepalive NOP)
// needs to come first. The exploratory tester's smux runs: the header and
// the LEAK's count stayed 9 for up to a keepalive interval (10 s) after
// the tenth leaked stream went idle --leak-after, and became 10 just after
// the server's next NOP.
func TestLeakCountsTheLastLeakOnAQuietSessionRealMux(t *testing.T) {
	t.Parallel() // real time on a pair of its own
	const leakAfter = 500 * time.Millisecond
	cfg := live.FindingsConfig{LeakAfter: leakAfter, Churn: -1}
	reg := live.New(live.Config{})
	s := smuxSetup("v1", 1, func(c, s *smux.Config) {
		ka(c, 2*time.Second, time.Minute)
		ka(s, 2*time.Second, time.Minute)
	})
	cli, srv := s.pair(t, reg)
	go func() {
		for {
			st, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 1)
				if _, err := io.ReadFull(st, b); err != nil {
					return
				}
				st.Write([]byte("ok"))
				io.Copy(io.Discard, st) // to the client's FIN; never closed
			}()
		}
	}()
	leak := func() uint32 {
		st := idleOpen(t, cli, 'L')
		buf := make([]byte, 2)
		if _, err := io.ReadFull(st, buf); err != nil {
			t.Fatal(err)
		}
		if err := st.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		return smuxtest.StreamID(st)
	}
	// leakCounts returns each session's LEAK count (0: none open).
	leakCounts := func() (n []uint64) {
		snap := reg.Snapshot()
		for _, ss := range snap.Sessions {
			var c uint64
			for _, f := range snap.Findings {
				if f.Code == live.CodeLeak && f.Session == ss.ID {
					c = f.Evidence.Count
				}
			}
			n = append(n, c)
		}
		return n
	}
	waitUntil := func(what string, f func() bool) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); !f(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("30 s and still not %s", what)
			}
		}
	}
	// The keepalive cadence is known: two NOPs each way, seen by both taps.
	waitUntil("two NOPs each way", func() bool {
		ss := reg.Snapshot().Sessions
		for _, s := range ss {
			if s.Counts.Frames[0][decoder.NOP] < 2 || s.Counts.Frames[1][decoder.NOP] < 2 {
				return false
			}
		}
		return len(ss) == 2
	})
	leak()
	waitUntil("a LEAK of 1 stream in both sessions", func() bool {
		reg.Evaluate(time.Now(), cfg)
		n := leakCounts()
		return len(n) == 2 && n[0] == 1 && n[1] == 1
	})
	for try := 0; ; try++ {
		sid := leak()
		// Both taps saw the client's FIN: the stream's last frame.
		var last time.Time
		var nops [2]uint64
		waitUntil("the second leak half-closed in both sessions", func() bool {
			last, nops = time.Time{}, [2]uint64{}
			n := 0
			for i, ss := range reg.Snapshot().Sessions {
				nops[i] = ss.Counts.Frames[live.ServerToClient][decoder.NOP]
				for _, st := range ss.Streams {
					if st.ID == sid && st.State == live.HalfClosedByClient {
						n++
						if st.Last.After(last) {
							last = st.Last
						}
					}
				}
			}
			return n == 2
		})
		at := last.Add(leakAfter + 10*time.Millisecond)
		reg.Evaluate(at, cfg)
		counts := leakCounts()
		var after [2]uint64
		for i, ss := range reg.Snapshot().Sessions {
			after[i] = ss.Counts.Frames[live.ServerToClient][decoder.NOP]
		}
		if after != nops && try < 5 {
			continue // the server's NOP came meanwhile: the session was not quiet
		}
		if len(counts) != 2 || counts[0] != 2 || counts[1] != 2 {
			t.Fatalf("stream %d idle %v (--leak-after %v), no server frame since: LEAK counts %v, want 2 in both sessions", sid, leakAfter+10*time.Millisecond, leakAfter, counts)
		}
		return
	}
}
