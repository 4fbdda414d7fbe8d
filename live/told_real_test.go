package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// updatesOf returns reg's FindingUpdated records of code.
func updatesOf(reg *live.Registry, code live.FindingCode) []live.Record {
	var out []live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == live.FindingUpdated && r.Finding.Code == code {
			out = append(out, r)
		}
	}
	return out
}

// openOf returns the open finding of code in reg, or nil.
func openOf(reg *live.Registry, code live.FindingCode) *live.Finding {
	for _, f := range reg.Snapshot().Findings {
		if f.Code == code {
			return f
		}
	}
	return nil
}

// lastFrameOf waits until reg's one session holds stream sid with its
// client's request of n bytes (and, with answered, some bytes back), and
// returns the stream's latest frame time.
func lastFrameOf(t *testing.T, reg *live.Registry, sid uint32, n int, answered bool) time.Time {
	t.Helper()
	return waitStream(t, reg, sid, fmt.Sprintf("stream %d's request", sid), func(st *live.StreamSnap) bool {
		return st.Bytes[c2s] == uint64(n) && (!answered || st.Bytes[s2c] > 0)
	}).Last
}

// sleepUntil sleeps until at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// TestUnansweredToldNewOldestReal: on real smux v2 and hashicorp/yamux
// sessions, keepalive on (every 100 ms: the server still sends), the
// client's conn tapped, the client sends a request on each of streams A
// and B, which the server does not answer (yamux: not accepted, no ACK;
// smux v2: accepted, never read, no UPD). Evaluated every 50 ms from
// when both have waited --unanswered-after, UNANSWERED of 2 streams
// opens, the oldest A. Then the client sends a request on C, and the server answers A
// (yamux: accepts it, its ACK; v2: reads it, its UPD; and writes an
// answer); no evaluation runs until C too has waited --unanswered-after
// and UpdateEvery has passed since the opening: the count is 2 again (B,
// C), and the oldest is B. One FindingUpdated says so: its stream is B,
// its count 2, its text names B as the oldest; no second one comes an
// UpdateEvery later, nothing having changed. The twin in which nothing
// changes (no C, A never answered) has no FindingUpdated at all.
func TestUnansweredToldNewOldestReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	cfg := live.FindingsConfig{UnansweredAfter: 500 * time.Millisecond, LeakAfter: time.Hour, Churn: -1}
	const margin = 100 * time.Millisecond
	for _, name := range []string{"smux-v2", "yamux"} {
		for _, change := range []bool{true, false} {
			t.Run(name+"/"+map[bool]string{true: "oldest-answered-another-waits", false: "nothing-changes"}[change], func(t *testing.T) {
				t.Parallel() // real time on a pair of its own
				reg := live.New(live.Config{})
				m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: time.Minute})
				// smux's acceptor sends nothing: accept every stream, in SYN
				// order, and leave it unread until the test answers it.
				accepted := make(chan net.Conn, 8)
				if name != "yamux" {
					go func() { // ends as the server's session closes
						for {
							st, err := m.Srv.AcceptStream()
							if err != nil {
								return
							}
							accepted <- st
						}
					}()
				}
				ask := func(req string) (net.Conn, time.Time) {
					t.Helper()
					st, err := m.Cli.OpenStream()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := io.WriteString(st, req); err != nil {
						t.Fatal(err)
					}
					return st, lastFrameOf(t, reg, smuxtest.StreamID(st), len(req), false)
				}
				a, _ := ask("REQ A\n")
				b, bAt := ask("REQ B\n")
				idA, idB := smuxtest.StreamID(a), smuxtest.StreamID(b)

				// Evaluated every 50 ms from when both have waited
				// --unanswered-after: UNANSWERED waits while the server's
				// keepalive is a moment overdue (KEEPALIVE may be about to
				// say it is frozen), as at an evaluation between its pings.
				sleepUntil(bAt.Add(cfg.UnansweredAfter + margin))
				var opened time.Time
				var f *live.Finding
				for end := time.Now().Add(5 * time.Second); f == nil && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
					opened = time.Now()
					reg.Evaluate(opened, cfg)
					f = openOf(reg, live.CodeUnanswered)
				}
				if f == nil || f.Evidence.Count != 2 || f.Stream != idA || f.Evidence.Silent {
					t.Fatalf("want UNANSWERED of 2 streams, the oldest %d, the server still sending:%s", idA, silentFindings(reg))
				}

				next := opened.Add(live.UpdateEvery + margin)
				var idC uint32
				if change {
					c, cAt := ask("REQ C\n")
					idC = smuxtest.StreamID(c)
					// The server answers A, the oldest.
					var srv net.Conn
					if name == "yamux" {
						var err error
						if srv, err = m.Srv.AcceptStream(); err != nil { // its ACK
							t.Fatal(err)
						}
					} else {
						srv = <-accepted
					}
					if got := smuxtest.StreamID(srv); got != idA {
						t.Fatalf("the server took stream %d, want %d", got, idA)
					}
					if _, err := io.ReadFull(srv, make([]byte, len("REQ A\n"))); err != nil { // smux v2: its UPD
						t.Fatal(err)
					}
					if _, err := io.WriteString(srv, "ANS A\n"); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(a, make([]byte, len("ANS A\n"))); err != nil {
						t.Fatal(err)
					}
					lastFrameOf(t, reg, idA, len("REQ A\n"), true)
					if at := cAt.Add(cfg.UnansweredAfter + margin); at.After(next) {
						next = at
					}
				}
				sleepUntil(next)
				reg.Evaluate(time.Now(), cfg)
				f = openOf(reg, live.CodeUnanswered)
				ups := updatesOf(reg, live.CodeUnanswered)
				if got := codes(reg); got != "+UNANSWERED" {
					t.Fatalf("%s, want +UNANSWERED only, held open:%s", got, describeRecords(findingRecords(reg)))
				}
				if !change {
					if f.Stream != idA || f.Evidence.Count != 2 || len(ups) != 0 {
						t.Errorf("nothing changed (stream %d, 2 streams): now stream %d, count %d, updates:%s", idA, f.Stream, f.Evidence.Count, describeRecords(ups))
					}
					return
				}
				if f.Stream != idB || f.Evidence.Count != 2 {
					t.Fatalf("A (%d) answered, C (%d) waiting: UNANSWERED names stream %d, count %d; want %d, 2:%s", idA, idC, f.Stream, f.Evidence.Count, idB, silentFindings(reg))
				}
				oldest := "2 streams opened by the client got no "
				names := fmt.Sprintf("(the oldest, stream %d, ", idB)
				if len(ups) != 1 || ups[0].Finding.Stream != idB || ups[0].Finding.Evidence.Count != 2 ||
					!strings.HasPrefix(ups[0].Finding.Text, oldest) || !strings.Contains(ups[0].Finding.Text, names) || ups[0].Finding.ID != f.ID {
					t.Fatalf("the oldest stream changed from %d to %d at a count of 2: want one update of finding %d, stream %d, count 2, its text %q… %q; got:%s",
						idA, idB, f.ID, idB, oldest, names, describeRecords(ups))
				}
				// Told once: an UpdateEvery later, nothing changed since.
				sleepUntil(time.Now().Add(live.UpdateEvery + margin))
				reg.Evaluate(time.Now(), cfg)
				if ups := updatesOf(reg, live.CodeUnanswered); len(ups) != 1 {
					t.Errorf("%d updates after nothing more changed, want the one:%s", len(ups), describeRecords(ups))
				}
			})
		}
	}
}

// blockedPair starts name's session ("smux-v1", "smux-v2", "yamux")
// over loopback TCP, keepalive off, its client's conn tapped into reg
// above below, a gate that can hold the client's next write: the write
// that waits when the server stops reading. yamux fails a stream's write
// held that long only after a minute.
func blockedPair(t *testing.T, name string, reg *live.Registry) (cli, srv smuxtest.Session, below *gate) {
	t.Helper()
	below = &gate{}
	wrap := func(c net.Conn) net.Conn {
		below.Conn = c
		return tap.Wrap(below, live.Client, reg, name)
	}
	if name == "yamux" {
		cc, sc := smuxtest.Conns(t)
		cfg := smuxtest.YamuxConfig()
		cfg.ConnectionWriteTimeout = time.Minute
		c, s := smuxtest.YamuxPair(t, wrap(cc), sc, cfg, cfg)
		return smuxtest.YamuxSession(c), smuxtest.YamuxSession(s), below
	}
	cfg := smuxtest.Config(map[string]int{"smux-v1": 1, "smux-v2": 2}[name])
	cfg.KeepAliveDisabled = true
	c, s := smuxtest.Pair(t, cfg, wrap, nil)
	return smuxtest.SmuxSession(c), smuxtest.SmuxSession(s), below
}

// TestBlockedToldNewStreamReal: on real smux v1, v2 and hashicorp/yamux
// sessions, keepalive off, the client's conn tapped, the client sends
// 3000 bytes on stream A and half-closes it, 1000 on B; the server
// accepts both and reads neither. Then the client's next write (on B)
// waits below the tap: SESSION_BLOCKED of the client's direction (sign
// write), with 2 streams open, names A, the stream sent the most (smux
// v2: the one with the most unread). While the client's direction stays
// blocked, the server's comes through: the server closes A (its FIN:
// A is closed both ways, and gone) and opens C (its SYN): 2 streams open
// again, and the stream sent the most is B. No evaluation runs between
// the two; the first an UpdateEvery after the opening tells it: one
// FindingUpdated, its stream B, its count 2, its text naming B. In smux
// v2, which names the stream with the most unread, the same comes of
// the server reading A (its UPD, through the server's direction), no
// stream closing or opening. The twin in which nothing changes has none.
func TestBlockedToldNewStreamReal(t *testing.T) {
	cfg := live.FindingsConfig{BlockedAfter: 500 * time.Millisecond, UnansweredAfter: time.Hour, LeakAfter: time.Hour, Churn: -1}
	const margin = 100 * time.Millisecond
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		for _, how := range []string{"named-stream-closes-another-opens", "named-stream-read", "nothing-changes"} {
			if how == "named-stream-read" && name != "smux-v2" {
				continue // a read moves no count of the stream sent the most
			}
			change := how != "nothing-changes"
			t.Run(name+"/"+how, func(t *testing.T) {
				t.Parallel() // real time on a pair of its own
				reg := live.New(live.Config{})
				cli, srv, below := blockedPair(t, name, reg)
				send := func(n int) (cs, ss net.Conn) {
					t.Helper()
					cs, err := cli.OpenStream()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := cs.Write(make([]byte, n)); err != nil {
						t.Fatal(err)
					}
					if ss, err = srv.AcceptStream(); err != nil { // yamux: its ACK
						t.Fatal(err)
					}
					waitStream(t, reg, smuxtest.StreamID(cs), "the bytes", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == uint64(n) })
					return cs, ss
				}
				a, srvA := send(3000)
				b, _ := send(1000)
				idA, idB := smuxtest.StreamID(a), smuxtest.StreamID(b)
				if err := writeDone(a); err != nil {
					t.Fatal(err)
				}
				waitStream(t, reg, idA, "A's FIN", func(st *live.StreamSnap) bool { return st.State == live.HalfClosedByClient })

				h := below.arm(t, false)
				go b.Write([]byte("MORE")) // held below the tap; fails as the sessions close
				<-h.held
				var opened time.Time
				var f *live.Finding
				for end := time.Now().Add(10 * time.Second); f == nil && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
					opened = time.Now()
					reg.Evaluate(opened, cfg)
					f = openOf(reg, live.CodeSessionBlocked)
				}
				if f == nil || f.Dir != c2s || f.Evidence.Count != 2 || f.Stream != idA || f.Evidence.Sign != live.SignWrite {
					t.Fatalf("want SESSION_BLOCKED c2s (write) with 2 streams open, naming %d:%s", idA, silentFindings(reg))
				}

				var idC uint32
				switch how {
				case "named-stream-read":
					if _, err := io.ReadFull(srvA, make([]byte, 3000)); err != nil { // its UPD
						t.Fatal(err)
					}
					waitStream(t, reg, idA, "A's UPD", func(st *live.StreamSnap) bool { return st.Flow[c2s].PeerConsumed == 3000 })
				case "named-stream-closes-another-opens":
					if err := srvA.Close(); err != nil { // its FIN
						t.Fatal(err)
					}
					c, err := srv.OpenStream() // its SYN
					if err != nil {
						t.Fatal(err)
					}
					idC = smuxtest.StreamID(c)
					smuxtest.Eventually(t, "A closed and C opened", func() bool {
						ss := reg.Snapshot().Sessions
						return len(ss) == 1 && ss[0].Open == 2 && ss[0].Stream(idC) != nil && (ss[0].Stream(idA) == nil || ss[0].Stream(idA).State == live.Closed)
					})
				}
				sleepUntil(opened.Add(live.UpdateEvery + margin))
				reg.Evaluate(time.Now(), cfg)
				f = openOf(reg, live.CodeSessionBlocked)
				ups := updatesOf(reg, live.CodeSessionBlocked)
				if got := codes(reg); got != "+SESSION_BLOCKED" {
					t.Fatalf("%s, want +SESSION_BLOCKED only, held open:%s", got, describeRecords(findingRecords(reg)))
				}
				if !change {
					if f.Stream != idA || f.Evidence.Count != 2 || len(ups) != 0 {
						t.Errorf("nothing changed (stream %d, 2 streams): now stream %d, count %d, updates:%s", idA, f.Stream, f.Evidence.Count, describeRecords(ups))
					}
					return
				}
				if f.Stream != idB || f.Evidence.Count != 2 {
					t.Fatalf("A (%d) gone, C (%d) open: SESSION_BLOCKED names stream %d, count %d; want %d, 2:%s", idA, idC, f.Stream, f.Evidence.Count, idB, silentFindings(reg))
				}
				names := fmt.Sprintf(", with 2 streams open; stream %d ", idB)
				if len(ups) != 1 || ups[0].Finding.Stream != idB || ups[0].Finding.Evidence.Count != 2 || ups[0].Finding.ID != f.ID ||
					!strings.Contains(ups[0].Finding.Text, names) {
					t.Fatalf("the named stream changed from %d to %d at a count of 2: want one update of finding %d, stream %d, count 2, its text with %q; got:%s",
						idA, idB, f.ID, idB, names, describeRecords(ups))
				}
				t.Logf("%s", ups[0].Finding.Text)
			})
		}
	}
}
