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
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
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
					wg.Go(func() { io.Copy(io.Discard, st); st.Close() }) // waits for a request
				}
			})
			// A stream opened and closed: the streams below are none of
			// the session's setup streams, which LEAK does not count.
			st, err := cli.Open()
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
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
			t.Parallel()
			if seen := run(t, version, true, ""); seen[live.CodeUnanswered] || !seen[live.CodeLeak] {
				t.Errorf("SYN-only streams, accepted and read: findings opened %v, want LEAK and no UNANSWERED", seen)
			}
			if seen := run(t, version, false, "GET /\n"); !seen[live.CodeUnanswered] || seen[live.CodeLeak] {
				t.Errorf("requests the server never accepts: findings opened %v, want UNANSWERED and no LEAK", seen)
			}
		})
	}
}

// A request that comes late to an old stream is owed an answer from when
// it came, not from the stream's SYN: with a real smux v2 pair, the
// client opens streams, waits 1.5 s (past UnansweredAfter), then writes
// its request. A server that reads it 300 ms later (v2 answers a read
// with a UPD) is healthy: no UNANSWERED. One that accepts but never reads
// is UNANSWERED at each tapped end, UnansweredAfter after the request,
// and its since is the request's time, not the SYN's.
func TestUnansweredFromALateRequestRealSmux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	const n = 5
	cfg := live.FindingsConfig{UnansweredAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
	keep := func(c, s *smux.Config) {
		c.KeepAliveInterval, s.KeepAliveInterval = 200*time.Millisecond, 200*time.Millisecond
	}
	run := func(t *testing.T, reads bool) (opened []*live.Finding, asked time.Time) {
		reg := live.New(live.Config{})
		cli, srv := smuxSetup("", 2, keep).pair(t, reg)
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				st, err := srv.Accept()
				if err != nil {
					return
				}
				if reads {
					wg.Go(func() {
						time.Sleep(300 * time.Millisecond)
						io.Copy(io.Discard, st)
					})
				}
			}
		})
		streams := make([]io.Writer, n)
		for i := range streams {
			st, err := cli.Open()
			if err != nil {
				t.Fatal(err)
			}
			streams[i] = st
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
		defer cancel()
		askedc := make(chan time.Time, 1)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			askedc <- time.Now()
			for _, st := range streams {
				io.WriteString(st, "GET /\n")
			}
		}()
		every(ctx, 100*time.Millisecond, func() bool { reg.Evaluate(time.Now(), cfg); return true })
		asked = <-askedc
		for _, r := range allRecords(reg) {
			if r.Finding != nil && r.Kind == live.FindingOpened && r.Finding.Code == live.CodeUnanswered {
				opened = append(opened, r.Finding)
			}
		}
		cli.Close()
		srv.Close()
		wg.Wait()
		return opened, asked
	}
	if opened, _ := run(t, true); len(opened) != 0 {
		t.Errorf("a late request read 300 ms after it came: UNANSWERED %q, want none", opened[0].Text)
	}
	opened, asked := run(t, false)
	if len(opened) != 2 { // both ends are tapped: a session each
		t.Fatalf("a late request never read: %d UNANSWERED, want one at each tapped end", len(opened))
	}
	for _, f := range opened {
		if f.Since.Before(asked.Add(-50*time.Millisecond)) || f.Opened.Sub(asked) < cfg.UnansweredAfter {
			t.Errorf("UNANSWERED since %v, opened %v, for a request at %v: it counts from the SYN: %q", f.Since, f.Opened, asked, f.Text)
		}
	}
}
