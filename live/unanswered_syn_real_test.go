package live_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/live"
)

// smux streams that never carried a byte ask nothing: with real smux v1
// and v2 pairs, a client holds SYN-only streams that the server accepted
// and reads, waiting for a request. No frame comes back — smux's acceptor
// sends none — yet nobody is owed an answer. Before, they were a critical
// UNANSWERED ("20 streams opened by the client got no answer for 1.0 s or
// more since the client last wrote on them … the server is not accepting
// them"), every part of it false; they are LEAK's, open and idle with no
// FIN from either side, as over yamux, whose acceptor ACKs. A server that
// does not accept streams that carry a request is still UNANSWERED.
func TestUnansweredNeedsARequestRealSmux(t *testing.T) {
	const n = 20
	cfg := live.FindingsConfig{UnansweredAfter: time.Second, LeakAfter: 2 * time.Second, Churn: -1}
	keep := func(c, s *smux.Config) {
		c.KeepAliveInterval, s.KeepAliveInterval = 200*time.Millisecond, 200*time.Millisecond
	}
	run := func(t *testing.T, version int, accept bool, request string) map[live.FindingCode]bool {
		reg := live.New(live.Config{})
		cli, srv := smuxSetup("", version, keep).pair(t, reg)
		var wg sync.WaitGroup
		if accept {
			wg.Go(func() {
				for {
					st, err := srv.Accept()
					if err != nil {
						return
					}
					wg.Go(func() { io.Copy(io.Discard, st) }) // waits for a request
				}
			})
		}
		for range n {
			st, err := cli.Open()
			if err != nil {
				t.Fatal(err)
			}
			if request != "" {
				if _, err := io.WriteString(st, request); err != nil {
					t.Fatal(err)
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
		defer cancel()
		every(ctx, 100*time.Millisecond, func() bool { reg.Evaluate(time.Now(), cfg); return true })
		seen := map[live.FindingCode]bool{}
		for _, r := range allRecords(reg) {
			if r.Finding != nil && r.Kind == live.FindingOpened {
				seen[r.Finding.Code] = true
				if r.Finding.Code == live.CodeUnanswered && !accept && !strings.Contains(r.Finding.Text, "not accepting") {
					t.Errorf("UNANSWERED: %q", r.Finding.Text)
				}
			}
		}
		cli.Close()
		srv.Close()
		wg.Wait()
		return seen
	}
	for _, version := range []int{1, 2} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			if seen := run(t, version, true, ""); seen[live.CodeUnanswered] || !seen[live.CodeLeak] {
				t.Errorf("SYN-only streams, accepted and read: findings opened %v, want LEAK and no UNANSWERED", seen)
			}
			if seen := run(t, version, false, "GET /\n"); !seen[live.CodeUnanswered] || seen[live.CodeLeak] {
				t.Errorf("requests the server never accepts: findings opened %v, want UNANSWERED and no LEAK", seen)
			}
		})
	}
}
