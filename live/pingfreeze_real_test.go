package live_test

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// A hashicorp/yamux pinger that freezes right after its second ping sends
// no third: the start-paced second-ping rule (pingCadence) must take in
// what makes hashicorp's first ping later (a start delay) or its second
// interval longer (a late answer), or KEEPALIVE never opens. On real
// pairs, the client's conn tapped, evaluated every 20 ms at the
// machine's clock.

// pingFreezer is a server conn that stops reading and writing (as a
// SIGSTOP'd process) right after its second yamux Ping SYN went out.
type pingFreezer struct {
	stopConn
	pings atomic.Int32
	at    atomic.Int64 // when it froze, Unix ns; 0 before
}

func (c *pingFreezer) Write(p []byte) (int, error) {
	n, err := c.stopConn.Write(p)
	if len(p) >= 4 && p[0] == 0 && p[1] == 2 && p[3]&1 != 0 && c.pings.Add(1) == 2 { // version 0, Ping, SYN
		c.writes.Store(true)
		c.reads.Store(true)
		c.at.Store(time.Now().UnixNano())
	}
	return n, err
}

// frozenPingerCase runs a pair whose server keeps alive every every
// (the client too if both), yamux started delay after the tap saw the
// conn, the client's answer to the server's first ping held late, and
// the server frozen right after its second ping. It returns the
// KEEPALIVE of the server, nil if none opened within 6 s of the freeze,
// and when the server froze.
func frozenPingerCase(t *testing.T, every, delay, late time.Duration, both bool) (*live.Record, time.Time) {
	t.Helper()
	reg := live.New(live.Config{})
	cc, raw := smuxtest.Conns(t)
	sc := &pingFreezer{stopConn: stopConn{Conn: raw, release: make(chan struct{})}}
	tapped := tap.Wrap(cc, live.Client, reg, "yamux")
	cli := &lateAnswer{Conn: tapped} // above the tap: the tap sees the answer late
	cli.delay.Store(int64(late))
	time.Sleep(delay) // a handshake before yamux starts
	ccfg, scfg := smuxtest.YamuxConfig(), smuxtest.YamuxConfig()
	for _, y := range []*hyamux.Config{ccfg, scfg} {
		y.EnableKeepAlive, y.KeepAliveInterval, y.ConnectionWriteTimeout = y == scfg || both, every, time.Minute
	}
	smuxtest.YamuxPair(t, cli, sc, ccfg, scfg)
	t.Cleanup(sc.free) // first: a stopped read or write lets go before the sessions close
	start := time.Now()
	for time.Since(start) < 20*time.Second {
		reg.Evaluate(time.Now(), silentFixCfg)
		for _, r := range findingRecords(reg) {
			if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ServerToClient {
				return &r, time.Unix(0, sc.at.Load())
			}
		}
		if at := sc.at.Load(); at != 0 && time.Since(time.Unix(0, at)) > 6*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sc.at.Load() == 0 {
		t.Fatal("the server never sent its second ping")
	}
	t.Logf("findings:%s", describeRecords(findingRecords(reg)))
	pingTimesWithinRule(t, reg)
	return nil, time.Unix(0, sc.at.Load())
}

// pingTimesWithinRule skips t where the wire reg saw took the server's
// two pings out of pingCadence's second-ping rule: its first ping, from
// the session's start, less than 3/4 of the gap from that ping's answer
// to its second, or more than that gap and the longer of a quarter of it
// and 1 s. A loaded machine that holds yamux's keepalive timer or the
// session's start does (CI: no KEEPALIVE in the late-answer case), and
// no cadence is then the rule's right answer.
func pingTimesWithinRule(t *testing.T, reg *live.Registry) {
	t.Helper()
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 {
		return
	}
	var pings, answers []time.Time
	for _, r := range allRecords(reg) {
		if r.Kind != live.FrameRecord || r.Proto != live.Yamux || r.YamuxHeader.Type() != yamux.Ping {
			continue
		}
		switch {
		case r.Dir == live.ServerToClient && r.YamuxHeader.Flags()&yamux.SYN != 0:
			pings = append(pings, r.At)
		case r.Dir == live.ClientToServer && r.YamuxHeader.Flags()&yamux.SYN == 0:
			answers = append(answers, r.At)
		}
	}
	if len(pings) < 2 || len(answers) < 1 {
		return
	}
	first, second := pings[0].Sub(ss[0].Start), pings[1].Sub(answers[0])
	if !live.PingCadence(first, second) {
		t.Skipf("the machine's timing took the pings out of the second-ping rule: the first %v into the session, the second %v after its answer", first.Round(time.Millisecond), second.Round(time.Millisecond))
	}
}

// TestYamuxSolePingerFrozenAfterSecondPingReal: only the server keeps
// alive (the client's keepalive is off), and it freezes right after its
// second ping, so it never sends a third. KEEPALIVE calls it frozen, on
// its own cadence, within its SilenceLimit and 0.5 s more of its last
// frame, as it did when any second ping gave a cadence:
//   - start-delay: yamux starts 300 ms after the tap saw the conn
//     (500 ms interval): its first ping came 800 ms into the session,
//     its second 500 ms after the first's answer;
//   - late-answer: the client answers the first ping 300 ms late: the
//     second ping came 800 ms after the first, 500 ms after its answer;
//   - start-delay-2s: a 2 s interval, yamux started 700 ms late.
//
// Before, none opened, ever: the first ping had to come within a quarter
// interval of the ping-to-ping gap.
func TestYamuxSolePingerFrozenAfterSecondPingReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	cases := []struct {
		name         string
		every, delay time.Duration
		late         time.Duration
	}{
		{"start-delay", 500 * time.Millisecond, 300 * time.Millisecond, 0},
		{"late-answer", 500 * time.Millisecond, 0, 300 * time.Millisecond},
		{"start-delay-2s", 2 * time.Second, 700 * time.Millisecond, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			open, frozen := frozenPingerCase(t, c.every, c.delay, c.late, false)
			if open == nil {
				t.Fatalf("no KEEPALIVE of the server, frozen after its second ping")
			}
			f := open.Finding
			t.Logf("KEEPALIVE opened %v after the freeze (every %v, borrowed %v): %s",
				open.At.Sub(frozen).Round(time.Millisecond), f.Evidence.Every, f.Evidence.Borrowed, f.Text)
			if want := live.SilenceLimit(f.Evidence.Every) + 500*time.Millisecond; f.Severity != live.Critical || open.At.Sub(f.Since) > want {
				t.Errorf("KEEPALIVE %v opened %v after the server's last frame; want critical, within %v", f.Severity, open.At.Sub(f.Since), want)
			}
			// A gap between pings is the interval and the answer's time
			// (yamux waits for it): under load, hundreds of ms more
			// (ci: 2.35 s of a 2 s interval). Short of the first ping's
			// distance from the session's start (every+delay), the
			// cadence a start delay must not give.
			if f.Evidence.Borrowed || f.Evidence.Every < c.every || f.Evidence.Every > c.every+c.late+max(200*time.Millisecond, c.delay-100*time.Millisecond) {
				t.Errorf("every %v, borrowed %v; want the server's own cadence, about %v", f.Evidence.Every, f.Evidence.Borrowed, c.every)
			}
		})
	}
}

// TestYamuxFrozenPingerWordsReal: both sides keep alive every 500 ms,
// yamux starts 300 ms late, and the server freezes right after its
// second ping. KEEPALIVE of the server opens on its own cadence, in
// about 1.5 s, and says its pings came every 500 ms. Before, it opened
// at 1.8 s on the client's borrowed "cadence", the time from the start
// to the client's first ping: "the client's pings came every 801 ms",
// which no ping's interval was.
func TestYamuxFrozenPingerWordsReal(t *testing.T) {
	t.Parallel()
	const every = 500 * time.Millisecond
	open, frozen := frozenPingerCase(t, every, 300*time.Millisecond, 0, true)
	if open == nil {
		t.Fatal("no KEEPALIVE of the server, frozen after its second ping")
	}
	f := open.Finding
	t.Logf("KEEPALIVE opened %v after the freeze (every %v, borrowed %v): %s",
		open.At.Sub(frozen).Round(time.Millisecond), f.Evidence.Every, f.Evidence.Borrowed, f.Text)
	want := fmt.Sprintf("its pings came every %v", f.Evidence.Every.Round(time.Millisecond))
	if f.Evidence.Borrowed || f.Evidence.Every < every || f.Evidence.Every > every+200*time.Millisecond || !strings.Contains(f.Text, "its pings came every 5") {
		t.Errorf("every %v, borrowed %v: %s; want the server's own cadence, about %v (%q)", f.Evidence.Every, f.Evidence.Borrowed, f.Text, every, want)
	}
	if d := open.At.Sub(f.Since); d > live.SilenceLimit(every)+500*time.Millisecond {
		t.Errorf("KEEPALIVE opened %v after the server's last frame; want within %v", d, live.SilenceLimit(every)+500*time.Millisecond)
	}
}

var _ net.Conn = (*pingFreezer)(nil)

// TestYamuxBorrowedPingGapWording: a yamux side with no ping cadence of
// its own lends the silent side, while its ping waits for the answer,
// the gap between its pings, and where it has pinged once, says the
// time to that ping is no interval (virtual clock; the client pings,
// the server answers 1 ms later, or not).
//   - twice: pings at 0.005 s and 0.305 s (an application's: no
//     cadence), the second unanswered: the server's KEEPALIVE is due on
//     the 300 ms gap, and says the client's pings came every 300 ms.
//     Before, it lent the time to the first ping: "the client's pings
//     came every 5 ms".
//   - once: one ping 1 s in, unanswered: "that ping, the client's first,
//     came 1.0 s into the session". Before: "the client's pings came
//     every 1.0 s", of a single ping.
func TestYamuxBorrowedPingGapWording(t *testing.T) {
	cases := []struct {
		name  string
		pings []float64 // s; all but the last answered 1 ms later
		at    float64   // when to evaluate, s
		every time.Duration
		text  string
	}{
		{"twice", []float64{0.005, 0.305}, 1.4, 300 * time.Millisecond,
			"the server has sent nothing, not even an answer to the client's keepalive ping, for 1.4 s; the client's pings came every 300 ms: it is frozen or gone"},
		{"once", []float64{1}, 2.1, time.Second,
			"the server has sent nothing, not even an answer to the client's ping, for 2.1 s; that ping, the client's first, came 1.0 s into the session: it is frozen or gone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
			var off [2]int64
			rec := func(at time.Time, dir live.Dir, flags yamux.Flags, value uint32) {
				f := &yamux.Frame{Offset: off[dir], Header: yamux.MakeHeader(yamux.Ping, flags, 0, value)}
				off[dir] += f.Size()
				s.RecordYamux(dir, at, f)
			}
			for i, p := range c.pings {
				rec(sec(p), live.ClientToServer, yamux.SYN, uint32(i))
				if i < len(c.pings)-1 {
					rec(sec(p+0.001), live.ServerToClient, yamux.ACK, uint32(i))
				}
			}
			f := openFindings(reg, sec(c.at), live.FindingsConfig{Churn: -1})[live.CodeKeepalive]
			if f == nil || f.Dir != live.ServerToClient || !f.Evidence.Borrowed || f.Evidence.Every != c.every || f.Text != c.text {
				t.Fatalf("at %v s: %+v; want the server's KEEPALIVE, borrowed, every %v: %q", c.at, f, c.every, c.text)
			}
		})
	}
}
