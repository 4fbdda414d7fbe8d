package live_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestSetupHungRequestsCountedRealMux: real smux v1, v2 and yamux pairs,
// both ends tapped. As the session begins, the client sends a request on
// each of 3 streams and the server's handler never answers (nor closes):
// the streams open in the session's first second, which the setup rule
// would hold by design, but a stream that carried a request and got not
// a byte back is a hung handler's, whenever it opened. LEAK counts all 3
// and names the oldest (UNANSWERED in smux v1, whose server sends no
// frame back at all). The exploratory tester's yamux hang through
// attach: 20 requests got nothing back, streams 1–15 showed "open
// (setup)", the LEAK counted 12 and named stream 17; HANG 1 on stream 1,
// the oldest, was never named.
func TestSetupHungRequestsCountedRealMux(t *testing.T) {
	t.Parallel() // real time on pairs of their own
	for _, s := range idleSetups {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			const leakAfter = 500 * time.Millisecond
			reg := live.New(live.Config{})
			cli, srv := s.pair(t, reg)
			go func() {
				for {
					st, err := srv.Accept()
					if err != nil {
						return
					}
					go io.Copy(io.Discard, st) // reads the request, never answers
				}
			}()
			var first uint32
			for i := range 3 {
				st := idleOpen(t, cli, 'H')
				if i == 0 {
					if y, ok := st.(yamuxStream); ok {
						first = y.StreamID()
					} else {
						first = smuxtest.StreamID(st)
					}
				}
			}
			cfg := live.FindingsConfig{LeakAfter: leakAfter, Churn: -1}
			deadline := time.Now().Add(20 * time.Second)
			for {
				reg.Evaluate(time.Now(), cfg)
				n, ok := 0, true
				var got []string
				for _, f := range reg.Snapshot().Findings {
					got = append(got, f.Code.String()+" "+f.Text)
					// smux v1's server sends nothing back at all, the
					// others a frame of their mux's (yamux's ACK, v2's UPD):
					// UNANSWERED names the first, LEAK the others.
					if f.Code == live.CodeLeak || f.Code == live.CodeUnanswered {
						n++
						ok = ok && f.Evidence.Count == 3 && f.Stream == first && (f.Code == live.CodeUnanswered || strings.Contains(f.Text, "none back"))
					}
				}
				if n == 2 && ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("20 s and no LEAK (or UNANSWERED) of the 3 hung streams, oldest %d, in both sessions: %q", first, got)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
