package live_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// A FIN its receiver never read: with a real smux v1 pair, the client's
// end tapped, a server handler pushes a tick every 50 ms on stream B, and
// another handler takes stream A and never reads it while the client
// uploads more than the session's receive buffer on it: the server's
// session stops reading the connection (v1: one unread stream fills the
// session-wide buffer); then the client closes B. Its FIN lies unread in
// the server's socket: the server never learns of it and ticks on. That
// is no handler's fault, but only a stuck sign at the tap shows it: here
// the client uploads on A again after the FIN until its writer is held
// (the server's socket full), SESSION_BLOCKED's sign, and late data
// counts for nothing while it holds: DATA_AFTER_CLOSE opens at most once
// (the ticks between the FIN and the writer seen held) and resolves
// saying the FIN may be unread. Where the upload fitted in the kernel's
// buffers and nothing was held ("unanswered"), UNANSWERED of A is all the
// tap sees, which shows one handler not answering, not a session not
// reading (TestAfterCloseHungHandlerRealSmux): the late data counts, the
// truth on the wire, and DATA_AFTER_CLOSE opens. Its twin, a server whose
// session reads (no A), is the handler's fault, and DATA_AFTER_CLOSE
// opens: the finding still works where the FIN was read.
func TestAfterCloseFINUnreadRealSmux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	cfg := live.FindingsConfig{UnansweredAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
	run := func(t *testing.T, stuck, wait, hold bool) (opened, resolved map[live.FindingCode][]*live.Finding, late int) {
		reg := live.New(live.Config{})
		scfg := smuxtest.Config(1)
		scfg.KeepAliveInterval = 200 * time.Millisecond
		scfg.MaxReceiveBuffer = 64 << 10 // the session-wide buffer A fills
		cli, srv := smuxtest.Pair(t, scfg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		defer func() {
			cancel()
			cli.Close()
			srv.Close()
			wg.Wait()
		}()
		wg.Go(func() {
			for {
				st, err := srv.AcceptStream()
				if err != nil {
					return
				}
				wg.Go(func() {
					line, _ := bufio.NewReader(st).ReadString('\n')
					switch line {
					case "SUB\n": // a push that never reads again: it learns of no FIN
						tick := time.NewTicker(50 * time.Millisecond)
						defer tick.Stop()
						for {
							select {
							case <-ctx.Done():
								return
							case <-tick.C:
								if _, err := st.Write([]byte("tick\n")); err != nil {
									return
								}
							}
						}
					case "BIG\n": // stuck: never reads on
						<-ctx.Done()
					}
				})
			}
		})
		b, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write([]byte("SUB\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(b).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		evaluate := func(d time.Duration, until func() bool) {
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				reg.Evaluate(time.Now(), cfg)
				if until != nil && until() {
					return
				}
			}
		}
		unanswered := func() bool {
			for _, f := range reg.Snapshot().Findings {
				if f.Code == live.CodeUnanswered && f.Resolved.IsZero() && f.Dir == live.ClientToServer {
					return true
				}
			}
			return false
		}
		var a *smux.Stream
		if stuck {
			a, err = cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write([]byte("BIG\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write(make([]byte, 4*scfg.MaxReceiveBuffer)); err != nil {
				t.Fatal(err)
			}
			if wait {
				evaluate(4*time.Second, unanswered)
				if !unanswered() {
					t.Fatal("no UNANSWERED for stream A, which the server's session no longer reads")
				}
			}
		} else {
			evaluate(1500*time.Millisecond, nil)
		}
		b.Close() // the client's FIN
		if hold {
			// Out after the FIN (smux sends in order): the client's writer
			// is held once the server's socket and its own are full.
			wg.Go(func() { a.Write(make([]byte, 64<<20)) })
			// Evaluated for 2.5 s, and on until SESSION_BLOCKED opens (20 s
			// at most): it opens BlockedAfter (2 s) after the writer is
			// held, which a loaded machine took more than 0.5 s to reach.
			blocked := func() bool {
				var n uint64
				for _, c := range reg.Snapshot().FindingsOpenedBy[live.CodeSessionBlocked] {
					n += c
				}
				return n > 0
			}
			start := time.Now()
			for d := time.Duration(0); d < 2500*time.Millisecond || !blocked() && d < 20*time.Second; d = time.Since(start) {
				reg.Evaluate(time.Now(), cfg)
				time.Sleep(10 * time.Millisecond)
			}
		} else {
			evaluate(2500*time.Millisecond, nil)
		}

		opened, resolved = map[live.FindingCode][]*live.Finding{}, map[live.FindingCode][]*live.Finding{}
		var finAt time.Time
		for _, r := range allRecords(reg) {
			switch {
			case r.Finding != nil && r.Kind == live.FindingOpened:
				opened[r.Finding.Code] = append(opened[r.Finding.Code], r.Finding)
			case r.Finding != nil && r.Kind == live.FindingResolved:
				resolved[r.Finding.Code] = append(resolved[r.Finding.Code], r.Finding)
			case r.Kind == live.FrameRecord && r.StreamID() == b.ID() && r.Header.Cmd() == decoder.FIN && r.Dir == live.ClientToServer:
				finAt = r.At
			case r.Kind == live.FrameRecord && r.StreamID() == b.ID() && r.Header.Cmd() == decoder.PSH && r.Dir == live.ServerToClient && !finAt.IsZero():
				late++
			}
		}
		return opened, resolved, late
	}
	t.Run("stuck", func(t *testing.T) {
		t.Parallel()
		opened, resolved, late := run(t, true, false, true)
		if late == 0 {
			t.Fatal("no data after the client's FIN: the server's session read it")
		}
		if len(opened[live.CodeSessionBlocked]) == 0 {
			t.Fatal("no SESSION_BLOCKED: the client's writer was not held")
		}
		// Opened by ticks before the writer was seen held, and resolved
		// as it was: once, or again for each write a loaded machine left
		// for 50 ms (stillFor) before the writer was held for good, which
		// looks held for a moment (2 and 3 times in 12 runs under load).
		// Never once SESSION_BLOCKED opened: the writer holds from then on.
		blockedAt := opened[live.CodeSessionBlocked][0].Opened
		for _, f := range opened[live.CodeDataAfterClose] {
			if !f.Opened.Before(blockedAt) {
				t.Errorf("DATA_AFTER_CLOSE opened at %v, after SESSION_BLOCKED (%v): the server's session did not read the client's FIN, %d frames came after it", f.Opened, blockedAt, late)
			}
		}
		rs := resolved[live.CodeDataAfterClose]
		if len(rs) != len(opened[live.CodeDataAfterClose]) {
			t.Errorf("DATA_AFTER_CLOSE opened %d times, resolved %v; want each resolved", len(opened[live.CodeDataAfterClose]), rs)
		}
		for _, r := range rs {
			if !strings.Contains(r.Why, "the client's FIN may still be unread there") {
				t.Errorf("DATA_AFTER_CLOSE resolved %q; want saying the FIN may be unread", r.Why)
			}
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		t.Parallel()
		opened, resolved, late := run(t, true, true, false)
		if late == 0 {
			t.Fatal("no data after the client's FIN: the server's session read it")
		}
		if fs := opened[live.CodeDataAfterClose]; len(fs) != 1 {
			t.Errorf("DATA_AFTER_CLOSE %v (%d frames after the FIN); want one: nothing at the tap shows the server's session not reading", fs, late)
		}
		for _, f := range resolved[live.CodeDataAfterClose] {
			if strings.Contains(f.Why, "may still be unread") {
				t.Errorf("DATA_AFTER_CLOSE resolved %q; UNANSWERED is no sign the session stopped reading", f.Why)
			}
		}
	})
	t.Run("twin", func(t *testing.T) {
		t.Parallel()
		opened, _, late := run(t, false, false, false)
		if fs := opened[live.CodeDataAfterClose]; len(fs) != 1 || !strings.Contains(fs[0].Text, "after the client had sent FIN") {
			t.Errorf("DATA_AFTER_CLOSE %v (%d frames after the FIN); want one: the server's session read the FIN, its handler wrote on", fs, late)
		}
	})
}
