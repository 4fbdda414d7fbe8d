package live_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// answerHold is a conn that, once armed, holds the first write of a
// yamux Ping ACK (a ping's answer) for good: below a tap, the write that
// waits when its peer has stopped reading, the socket buffer full as
// the answer goes out. The tap has recorded the answer; the peer never
// gets it.
type answerHold struct {
	net.Conn
	hold atomic.Pointer[hold]
}

func (c *answerHold) Write(b []byte) (int, error) {
	if len(b) >= 4 && b[0] == 0 && b[1] == 2 && b[3]&2 != 0 { // version 0, Ping, ACK
		if h := c.hold.Swap(nil); h != nil {
			close(h.held)
			<-h.release
		}
	}
	return c.Conn.Write(b)
}

// TestNoKeepaliveBehindABlockRealYamux: real hashicorp/yamux ends, both
// tapped; the server pings every 200 ms, then stops reading the
// connection (its tap sees it out of Read), and the client's answer to
// the server's next ping is the write that waits. The server pings again
// only once that answer comes: its silence is the block's, which
// SESSION_BLOCKED names on each side, and no KEEPALIVE says the server is
// frozen or gone. Before, the client's session had one beside its
// SESSION_BLOCKED, 1.2 s after the server's last ping: the answer was
// recorded, so the ping waited for nothing, by the older cadence rule.
// The evaluations are the front ends', at real times: at chosen ones, a
// tap caught inside a write or between two reads would stand still as
// long as they said.
func TestNoKeepaliveBehindABlockRealYamux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	ack := &answerHold{Conn: cc}
	srvGate := &gate{Conn: tap.Wrap(sc, live.Server, reg, "srv", tap.WithProtocol(tap.Yamux))}
	cfg := smuxtest.YamuxConfig()            // no keepalive of its own: the test pings, at its moments
	cfg.ConnectionWriteTimeout = time.Minute // the unanswered ping waits that long, well past the test
	cli, srv := smuxtest.YamuxPair(t, tap.Wrap(ack, live.Client, reg, "cli", tap.WithProtocol(tap.Yamux)), srvGate, cfg, cfg)
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("SINK")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	for range 5 { // the server's keepalive: a cadence of 200 ms
		time.Sleep(200 * time.Millisecond)
		if _, err := srv.Ping(); err != nil {
			t.Fatal(err)
		}
	}
	h := srvGate.arm(t, true) // the server stops reading after its next read
	if _, err := st.Write([]byte("MORE")); err != nil {
		t.Fatal(err)
	}
	<-h.held
	a := &hold{held: make(chan struct{}), release: make(chan struct{})}
	ack.hold.Store(a)
	t.Cleanup(a.let)
	go srv.Ping() // the next ping: answered, the answer never reaching the server
	<-a.held

	// Nothing passes from here on. Evaluated every 100 ms, as the front
	// ends do, until SESSION_BLOCKED has held on both sides for a second.
	fcfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	var both time.Time
	for start := time.Now(); time.Since(start) < 10*time.Second && (both.IsZero() || time.Since(both) < time.Second); {
		time.Sleep(100 * time.Millisecond)
		reg.Evaluate(time.Now(), fcfg)
		if n := 0; both.IsZero() {
			for _, f := range reg.Snapshot().Findings {
				if f.Code == live.CodeSessionBlocked {
					n++
				}
			}
			if n == 2 {
				both = time.Now()
			}
		}
	}
	server := map[uint64]bool{} // by session: the server's tap's
	for _, ss := range reg.Snapshot().Sessions {
		server[ss.ID] = ss.Info.Tap == live.Server
	}
	var got [2][]string // by session: the client's tap's, the server's
	for _, r := range findingRecords(reg) {
		i := 0
		if server[r.Session] {
			i = 1
		}
		sign := map[live.Kind]string{live.FindingOpened: "+", live.FindingResolved: "-"}[r.Kind]
		got[i] = append(got[i], sign+r.Finding.Code.String()+" "+r.Finding.Dir.Code())
	}
	for i, who := range []string{"client", "server"} {
		if g := strings.Join(got[i], ", "); g != "+SESSION_BLOCKED c2s" {
			t.Errorf("the %s's tap: %s, want +SESSION_BLOCKED c2s only:%s", who, g, describeRecords(findingRecords(reg)))
		}
	}
}

// TestKeepaliveGivesWayToABlock: a yamux server that pinged every
// 200 ms, answered, goes silent at 1 s, while the client uploads:
// KEEPALIVE at 2.2 s. From 2.5 s
// the client's write waits (the server stopped reading): the server's
// pings wait for answers stuck behind it, so its silence is the block's.
// KEEPALIVE holds until SESSION_BLOCKED opens, then gives way to it,
// saying so: no frame arrived.
func TestKeepaliveGivesWayToABlock(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Proto: live.Yamux, Tap: live.Client}, t0)
	var off [2]int64
	rec := func(at float64, dir live.Dir, typ yamux.Type, flags yamux.Flags, sid, length uint32) {
		f := &yamux.Frame{Offset: off[dir], Header: yamux.MakeHeader(typ, flags, sid, length)}
		off[dir] += f.Size()
		s.RecordYamux(dir, sec(at), f)
	}
	rec(0, c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
	rec(0.001, s2c, yamux.WindowUpdate, yamux.ACK, 1, 0)
	for i := 1; i <= 5; i++ {
		at := 0.2 * float64(i)
		rec(at, s2c, yamux.Ping, yamux.SYN, 0, uint32(i))
		rec(at+0.001, c2s, yamux.Ping, yamux.ACK, 0, uint32(i))
	}
	cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	for ms := 100; ms <= 5000; ms += 100 {
		switch {
		case ms < 2500 && ms%200 == 0:
			rec(float64(ms)/1000+0.002, c2s, yamux.Data, 0, 1, 100) // the client uploads
		case ms == 2500:
			s.WriteStarted(c2s)
		}
		reg.Evaluate(sec(float64(ms)/1000), cfg)
		if ms == 2400 && codes(reg) != "+KEEPALIVE" {
			t.Fatalf("%s at 2.4 s, want +KEEPALIVE:%s", codes(reg), describeRecords(findingRecords(reg)))
		}
	}
	recs := findingRecords(reg)
	if got, want := codes(reg), "+KEEPALIVE -KEEPALIVE +SESSION_BLOCKED"; got != want {
		t.Fatalf("%s, want %s:%s", got, want, describeRecords(recs))
	}
	if !recs[1].At.Equal(recs[2].At) {
		t.Errorf("KEEPALIVE resolved at %v, SESSION_BLOCKED opened at %v: not as it gave way", recs[1].At, recs[2].At)
	}
	if why := recs[1].Detail; why != "the session is blocked: SESSION_BLOCKED says why" {
		t.Errorf("KEEPALIVE resolved: %q", why)
	}
}
