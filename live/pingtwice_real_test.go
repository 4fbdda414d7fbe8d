package live_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// Two pings of a hashicorp/yamux application (Session.Ping), keepalive
// off, are no keepalive: a yamux side's cadence counts from its third
// ping, or from its second where the first came one interval (a start
// delay allowed) after a session start muxtop saw, as hashicorp's
// keepalive pings, or any second of a capture joined mid-session
// (watch.go, pingCadence). Before, a side's second ping gave it a cadence, and
// every rule that asks whether keepalive is on (KEEPALIVE, the silent
// side's UNANSWERED and NO_REPLY, LEAK's excuses) took the application's
// pings for keepalive. All on real sessions, the client's conn tapped,
// evaluated at the machine's clock every 50 ms.

const appPingGap = 300 * time.Millisecond

// appPings has m's yamux client's application ping n times, each
// answered, the second pingGap(reg) after the first returned.
func appPings(t *testing.T, reg *live.Registry, m livecaptest.Pair, n int) {
	t.Helper()
	for i := range n {
		if i > 0 {
			time.Sleep(pingGap(reg))
		}
		if _, err := m.YamuxCli.Ping(); err != nil {
			t.Fatal(err)
		}
	}
}

// pingGap is how long after its first ping returned an application that
// pings twice pings again: appPingGap, or twice the time since reg's
// session (its only one) started if longer. pingCadence takes two pings
// for a keepalive's where the first came at least ¾ of the interval
// after the second's answer: on a loaded machine a first ping 225 ms or
// more into the session (or, paced from the start, 130 ms) made a
// 300 ms "cadence", and KEEPALIVE rightly called the silent client
// frozen. Twice the time to the first ping's return is more than 4/3 of
// the time the tap saw to the first ping, however late it came.
func pingGap(reg *live.Registry) time.Duration {
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 {
		return appPingGap
	}
	return max(appPingGap, 2*time.Since(ss[0].Start))
}

// answerCalls serves m's streams: each line read is answered "OK\n",
// up to hangAt lines per stream (0: all), after which the stream is read
// on and never answered (its handler hangs). The server closes a stream
// at its EOF.
func answerCalls(m livecaptest.Pair, hangAt int) {
	go func() {
		for {
			st, err := m.Srv.AcceptStream()
			if err != nil {
				return
			}
			go func(st net.Conn) {
				defer st.Close()
				r := bufio.NewReader(st)
				for n := 1; ; n++ {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					if hangAt != 0 && n >= hangAt {
						io.Copy(io.Discard, r)
						return
					}
					if _, err := io.WriteString(st, "OK\n"); err != nil {
						return
					}
				}
			}(st)
		}
	}()
}

// call writes a request on st and reads its answer; it returns the round trip.
func call(t *testing.T, st net.Conn, r *bufio.Reader, i int) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := fmt.Fprintf(st, "CALL %d\n", i); err != nil {
		t.Fatal(err)
	}
	if l, err := r.ReadString('\n'); err != nil || l != "OK\n" {
		t.Fatalf("call %d: %q, %v", i, l, err)
	}
	return time.Since(start)
}

// noFrozen fails t for any record of reg that calls a side frozen, says
// keepalive is on, or is a KEEPALIVE.
func noFrozen(t *testing.T, reg *live.Registry) {
	t.Helper()
	for _, r := range allRecords(reg) {
		f := r.Finding
		if f == nil {
			continue
		}
		if f.Code == live.CodeKeepalive || strings.Contains(f.Text, "frozen") || strings.Contains(r.Detail, "keepalive is on") {
			t.Errorf("%v %s dir %v: %s — %s", r.Kind, f.Code, f.Dir, f.Text, r.Detail)
		}
	}
}

// openedCodes lists the codes of reg's openings, with "(silent)" for a
// silent side's, and their severities.
func openedCodes(reg *live.Registry) []string {
	var out []string
	for _, r := range findingRecords(reg) {
		if r.Kind != live.FindingOpened {
			continue
		}
		c := fmt.Sprintf("%s %v %v", r.Finding.Code, r.Finding.Dir, r.Finding.Severity)
		if r.Finding.Evidence.Silent {
			c += " (silent)"
		}
		out = append(out, c)
	}
	return out
}

// TestYamuxAppPingsHealthyReal: keepalive off at both ends, the client's
// application pings twice 300 ms apart, then makes 3 calls on a stream,
// each answered at once, closes it, and goes idle. Nothing is wrong, and
// no finding opens, however long the session stays idle (here 3 s after
// the last frame; a cadence of 300 ms would be due 1.3 s after). Before,
// the second ping gave the client a 300 ms cadence, and KEEPALIVE called
// the healthy client frozen or gone 1.3 s after its last frame.
func TestYamuxAppPingsHealthyReal(t *testing.T) {
	t.Parallel()
	reg := live.New(live.Config{})
	m := kaPair(t, "yamux", reg, 0)
	answerCalls(m, 0)
	appPings(t, reg, m, 2)
	st, err := m.Cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(st)
	for i := range 3 {
		call(t, st, r, i)
		reg.Evaluate(time.Now(), silentFixCfg)
	}
	st.Close()
	evalFor(reg, silentFixCfg, 3*time.Second)
	if recs := findingRecords(reg); len(recs) != 0 {
		t.Errorf("a healthy session whose application pinged twice: want no finding, got%s", describeRecords(recs))
	}
}

// TestYamuxAppPingsUnacceptedReal: keepalive off at both ends, the
// client's application pings 0 or 2 times (300 ms apart), then opens 2
// streams with a request each, which the server never accepts: its
// yamux sends no ACK, and the server sends nothing at all. The pings
// make no difference: UNANSWERED of a silent side, a warning, of the
// client's streams opens, and nothing else; nothing calls anyone frozen.
// Before, with 2 pings, no UNANSWERED opened, and KEEPALIVE called both
// sides frozen on the client's 300 ms "cadence", though the server had
// answered every ping it got.
func TestYamuxAppPingsUnacceptedReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	var want []string
	for _, pings := range []int{0, 2} {
		t.Run(fmt.Sprintf("%d-pings", pings), func(t *testing.T) {
			reg := live.New(live.Config{})
			m := kaPair(t, "yamux", reg, 0)
			appPings(t, reg, m, pings)
			requests(t, m, 2) // the server accepts neither
			opened := func() bool { o, _ := silentRecords(reg, live.CodeUnanswered); return len(o) > 0 }
			for end := time.Now().Add(10 * time.Second); !opened() && time.Now().Before(end); {
				reg.Evaluate(time.Now(), silentFixCfg)
				time.Sleep(50 * time.Millisecond)
			}
			evalFor(reg, silentFixCfg, 2*time.Second) // what opens beside it
			got := openedCodes(reg)
			t.Logf("%d pings: %v%s", pings, got, describeRecords(findingRecords(reg)))
			noFrozen(t, reg)
			o, _ := silentRecords(reg, live.CodeUnanswered)
			if len(o) != 1 || o[0].Finding.Dir != live.ClientToServer || o[0].Finding.Severity != live.Warning || len(got) != 1 {
				t.Fatalf("%d pings: want UNANSWERED of a silent side of the client's streams, a warning, alone; got %v:%s",
					pings, got, describeRecords(findingRecords(reg)))
			}
			if want == nil {
				want = got
			} else if !slices.Equal(got, want) {
				t.Errorf("%d pings: %v; without pings %v", pings, got, want)
			}
		})
	}
}

// TestYamuxAppPingsHungCallReal: the reviewer's case. Keepalive off at
// both ends, the client's application pings 0 or 2 times (300 ms apart),
// then makes calls on one stream, 100 ms apart: the server answers the
// first 3 at once and hangs on the 4th (reads it, never answers), sending nothing
// at all on the session since. The pings make no difference: what opens
// without pings (NO_REPLY of a silent side, of that stream) opens with
// them, and no KEEPALIVE calls the healthy client, or the server, frozen.
// Before, the client's two pings gave keepalive a cadence: NO_REPLY's
// silent rule and LEAK's excuse stood down for KEEPALIVE, which called
// the client frozen (a revert of a half fix named nothing at all).
func TestYamuxAppPingsHungCallReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	var want []string
	for _, pings := range []int{0, 2} {
		t.Run(fmt.Sprintf("%d-pings", pings), func(t *testing.T) {
			reg := live.New(live.Config{})
			m := kaPair(t, "yamux", reg, 0)
			answerCalls(m, 4)
			appPings(t, reg, m, pings)
			st, err := m.Cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(st)
			var slowest time.Duration
			for i := range 3 { // the client thinks between its calls: more than ThinkFactor times its slowest answer
				slowest = max(slowest, call(t, st, r, i))
				time.Sleep(max(100*time.Millisecond, 3*slowest))
			}
			if _, err := io.WriteString(st, "CALL 3\n"); err != nil { // never answered
				t.Fatal(err)
			}
			opened := func() bool { return len(openedCodes(reg)) > 0 }
			for end := time.Now().Add(10 * time.Second); !opened() && time.Now().Before(end); {
				reg.Evaluate(time.Now(), silentFixCfg)
				time.Sleep(50 * time.Millisecond)
			}
			evalFor(reg, silentFixCfg, 2*time.Second) // what opens beside it
			got := openedCodes(reg)
			t.Logf("%d pings: %v%s", pings, got, describeRecords(findingRecords(reg)))
			noFrozen(t, reg)
			o, _ := silentRecords(reg, live.CodeNoReply)
			if len(o) != 1 || o[0].Finding.Dir != live.ClientToServer || len(got) != 1 {
				t.Fatalf("%d pings: want NO_REPLY of a silent side of the client's call alone; got %v:%s", pings, got, describeRecords(findingRecords(reg)))
			}
			if want == nil {
				want = got
			} else if !slices.Equal(got, want) {
				t.Errorf("%d pings: %v; without pings %v", pings, got, want)
			}
		})
	}
}

// TestYamuxKeepaliveFrozenServerReal: keepalive on at both ends every
// 250 ms; the server freezes (its conn's reads and writes stop, as a
// SIGSTOPped process's) from the start; 0.6 s in, between its second
// keepalive ping (0.5 s) and its third (0.75 s); or 1.2 s in, after its
// fourth. KEEPALIVE of the server opens, critical, and nothing calls the
// client frozen. And where the server alone keeps alive (the client's
// keepalive off), frozen 0.6 s in: only its two pings show a cadence,
// the second an interval after a first that came an interval into the
// session (pingCadence's start-paced rule; a third-ping rule alone
// opened nothing, no ping of the client's waiting on it); nor is the
// client, which answered every ping it got, called frozen on the
// server's cadence, as it was before. KEEPALIVE opens as soon as before
// the two-ping rule changed. The test logs how long after the freeze,
// and wants it within the cadence's SilenceLimit (1.25 s at 250 ms; the
// longer cadence it reports if a loaded machine stretched a ping's gap)
// and 0.5 s more from the server's last frame.
func TestYamuxKeepaliveFrozenServerReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	const every = 250 * time.Millisecond
	cases := []struct {
		at     time.Duration
		client bool // the client keeps alive too
	}{{0, true}, {600 * time.Millisecond, true}, {1200 * time.Millisecond, true}, {600 * time.Millisecond, false}}
	for _, c := range cases {
		at := c.at
		name := fmt.Sprintf("frozen-at-%v", at)
		if !c.client {
			name = "server-alone-" + name
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			cc, raw := smuxtest.Conns(t)
			sc := &stopConn{Conn: raw, release: make(chan struct{})}
			sc.reads.Store(at == 0)
			sc.writes.Store(at == 0)
			ccfg, scfg := smuxtest.YamuxConfig(), smuxtest.YamuxConfig()
			for _, y := range []*hyamux.Config{ccfg, scfg} {
				y.EnableKeepAlive, y.KeepAliveInterval, y.ConnectionWriteTimeout = y == scfg || c.client, every, time.Minute
			}
			smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "yamux"), sc, ccfg, scfg)
			t.Cleanup(sc.free) // first: a stopped read or write lets go before the sessions close
			start := time.Now()
			var frozen time.Time
			if at == 0 {
				frozen = start
			}
			var open *live.Record
			// The server alone keeps alive: its pings give the only
			// cadence, its third (pingCadence), which a loaded machine
			// under -race once had not sent by 600 ms: no cadence, no
			// KEEPALIVE ("no KEEPALIVE of the frozen server"). Frozen no
			// sooner than that ping, then.
			cadence := func() bool {
				if c.client {
					return true
				}
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && ss[0].Counts.TypeFrames[live.ServerToClient][yamux.Ping] >= 3
			}
			for time.Since(start) < at+6*time.Second && open == nil {
				if frozen.IsZero() && time.Since(start) >= at && cadence() {
					sc.writes.Store(true)
					sc.reads.Store(true)
					frozen = time.Now()
				}
				reg.Evaluate(time.Now(), silentFixCfg)
				for _, r := range findingRecords(reg) {
					if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ServerToClient {
						open = &r
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if open == nil {
				t.Fatalf("no KEEPALIVE of the frozen server:%s", describeRecords(findingRecords(reg)))
			}
			evalFor(reg, silentFixCfg, time.Second) // what opens after it
			f := open.Finding
			last := f.Since // the server's last frame
			t.Logf("frozen at %v: KEEPALIVE of the server opened %v after the freeze, %v after its last frame (every %v, borrowed %v, limit %v): %s",
				at, open.At.Sub(frozen).Round(time.Millisecond), open.At.Sub(last).Round(time.Millisecond), f.Evidence.Every, f.Evidence.Borrowed, f.Evidence.Limit, f.Text)
			// The cadence is the longest gap seen between pings: a ping a
			// loaded machine held stretches it, and KEEPALIVE rightly
			// waits longer. Within the limit of the cadence it reports.
			// A cadence reported past 4 intervals is no stretched ping but
			// a rule gone wrong, and its limit no bound.
			within := live.SilenceLimit(max(every, f.Evidence.Every)) + 500*time.Millisecond
			if f.Evidence.Every > 4*every {
				t.Errorf("KEEPALIVE reports a cadence of %v, keepalive every %v", f.Evidence.Every, every)
			}
			if f.Severity != live.Critical || open.At.Sub(last) > within {
				t.Errorf("KEEPALIVE %v opened %v after the server's last frame; want critical, within %v", f.Severity, open.At.Sub(last), within)
			}
			for _, r := range findingRecords(reg) {
				if r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ClientToServer {
					t.Errorf("the client called frozen: %s", r.Finding.Text)
				}
			}
		})
	}
}

// TestYamuxKeepaliveAppPingsHealthyReal: keepalive on at both ends, and
// the client's application calls Ping() itself too. Nothing is wrong,
// and no finding opens.
//   - calls: keepalive every 250 ms; the application pings at once, 0.1,
//     0.13, 0.7 and 1.9 s in, and makes calls on a stream every 0.5 s,
//     answered, for 4 s, then closes it and goes idle for 2 s.
//   - idle: keepalive every 2 s; the application pings at once and
//     0.3 s after (pingGap: later if the first was late), and the
//     session stays idle for 5 s. Before, its two
//     pings gave the client a 300 ms cadence, and KEEPALIVE called it,
//     and the server on its cadence, frozen 1.3 s after its second ping,
//     0.4 s before its keepalive's first.
func TestYamuxKeepaliveAppPingsHealthyReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	cases := []struct {
		name  string
		every time.Duration
		pings []time.Duration // the application's, from the start; nil: at once and pingGap after
		calls bool
		run   time.Duration
	}{
		{"calls", 250 * time.Millisecond, []time.Duration{0, 100, 130, 700, 1900}, true, 4 * time.Second},
		{"idle", 2 * time.Second, nil, false, 5 * time.Second}, // pings at once and pingGap after
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			m := kaPair(t, "yamux", reg, c.every)
			answerCalls(m, 0)
			start := time.Now()
			go func() {
				if c.pings == nil {
					m.YamuxCli.Ping()
					time.Sleep(pingGap(reg))
					m.YamuxCli.Ping()
				}
				for _, at := range c.pings {
					time.Sleep(time.Until(start.Add(at)))
					m.YamuxCli.Ping()
				}
			}()
			var st net.Conn
			var r *bufio.Reader
			if c.calls {
				var err error
				if st, err = m.Cli.OpenStream(); err != nil {
					t.Fatal(err)
				}
				r = bufio.NewReader(st)
			}
			for i := 0; time.Since(start) < c.run; i++ {
				if c.calls && i%10 == 0 {
					call(t, st, r, i)
				}
				reg.Evaluate(time.Now(), silentFixCfg)
				time.Sleep(50 * time.Millisecond)
			}
			if c.calls {
				st.Close()
				evalFor(reg, silentFixCfg, 2*time.Second)
			}
			if recs := findingRecords(reg); len(recs) != 0 {
				t.Errorf("keepalive on and the application's own pings: want no finding, got%s", describeRecords(recs))
			}
		})
	}
}

// TestYamuxPingCadenceTimings: when a yamux side's pings give it a
// keepalive cadence, at a virtual clock (the client's pings, each
// answered 1 ms later, then nothing; evaluated every 0.5 s to 200 s):
// KEEPALIVE of the client opens 1.5 cadences after its last ping where
// its pings have one, and never where they have none.
//   - hashicorp at its default 30 s, seen from the session's start: pings
//     30 s and 60 s in; the second, an interval after a first that came an
//     interval in, gives the cadence, as any second ping did before:
//     KEEPALIVE at 105 s.
//   - an application's two pings at once and 0.3 s later: none (before,
//     KEEPALIVE at 1.6 s).
//   - libp2p's go-yamux, at once and then every 30 s: two pings give
//     none (before, KEEPALIVE at 75 s), three do: KEEPALIVE at 105 s.
//   - hashicorp every 0.5 s, started 0.3 s after the session: its first
//     ping 0.8 s in, its second 0.5 s after: a start delay makes only
//     the first later, and the second gives the cadence: KEEPALIVE at
//     3 s (before, none until a third ping).
//   - an application's two pings 5 s and 5.3 s in, far later than the
//     gap between them: none.
//   - a capture joined mid-session (the start unseen), two pings 30 s
//     apart: the second gives the cadence, as before the third-ping
//     rule: KEEPALIVE at 85.5 s.
func TestYamuxPingCadenceTimings(t *testing.T) {
	cases := []struct {
		name   string
		pings  []float64 // s
		want   float64   // when KEEPALIVE of the client opens, s; 0 for never
		joined bool      // the capture joined the session: its start unseen
	}{
		{"hashicorp-30s", []float64{30, 60.001}, 105.5, false},
		{"app-twice", []float64{0.005, 0.305}, 0, false},
		{"go-yamux-two", []float64{0.001, 30.001}, 0, false},
		{"go-yamux-three", []float64{0.001, 30.001, 60.002}, 105.5, false},
		{"hashicorp-start-delay", []float64{0.8, 1.301}, 3, false},
		{"app-twice-late", []float64{5, 5.3}, 0, false},
		{"joined-two", []float64{10, 40.001}, 85.5, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
			if c.joined {
				for _, d := range []live.Dir{live.ClientToServer, live.ServerToClient} {
					s.Resynced(d, t0, 0, 0, 0, "the capture began inside the connection")
				}
			}
			var off [2]int64
			rec := func(at time.Time, dir live.Dir, flags yamux.Flags, value uint32) {
				f := &yamux.Frame{Offset: off[dir], Header: yamux.MakeHeader(yamux.Ping, flags, 0, value)}
				off[dir] += f.Size()
				s.RecordYamux(dir, at, f)
			}
			cfg := live.FindingsConfig{Churn: -1}
			var opened float64
			next := 0
			for e := 0.5; e <= 200 && opened == 0; e += 0.5 {
				for ; next < len(c.pings) && c.pings[next] < e; next++ {
					rec(sec(c.pings[next]), live.ClientToServer, yamux.SYN, uint32(next))
					rec(sec(c.pings[next]+0.001), live.ServerToClient, yamux.ACK, uint32(next))
				}
				reg.Evaluate(sec(e), cfg)
				for _, r := range findingRecords(reg) {
					if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ClientToServer {
						opened = e
					}
				}
			}
			if opened != c.want {
				t.Errorf("KEEPALIVE of the client opened at %v s, want %v s (0: never):%s", opened, c.want, describeRecords(findingRecords(reg)))
			}
		})
	}
}

// lateAnswer is a conn that, once armed, holds its next write of a
// yamux Ping ACK (a ping's answer) for delay: a server whose answer is
// late, as one whose receive loop or send queue is slow for a moment.
type lateAnswer struct {
	net.Conn
	delay atomic.Int64 // ns; 0 unarmed
}

func (c *lateAnswer) Write(b []byte) (int, error) {
	if len(b) >= 4 && b[0] == 0 && b[1] == 2 && b[3]&2 != 0 { // version 0, Ping, ACK
		if d := c.delay.Swap(0); d != 0 {
			time.Sleep(time.Duration(d))
		}
	}
	return c.Conn.Write(b)
}

// TestYamuxLateAnswerPingerNotFrozenReal: the client's keepalive pings
// every 250 ms (the server's is off); 1 s in, the server answers one ping
// 1.5 s late, well inside yamux's ConnectionWriteTimeout, and at once
// again after. The client waited for that answer: its keepalive pings
// again an interval after it, and its silence meanwhile is no freeze, so
// no KEEPALIVE calls the client frozen. Before, the client's KEEPALIVE
// opened as the late answer came: "the client has sent nothing, not even
// a keepalive ping or its answer, for 1.5 s; its pings came every 251 ms:
// it is frozen or gone". (The server's own KEEPALIVE, on the client's
// cadence while that ping waits, opens before yamux would give up: the
// test logs it; the README says so.)
func TestYamuxLateAnswerPingerNotFrozenReal(t *testing.T) {
	t.Parallel()
	const every = 250 * time.Millisecond
	reg := live.New(live.Config{})
	cc, raw := smuxtest.Conns(t)
	sc := &lateAnswer{Conn: raw}
	ccfg, scfg := smuxtest.YamuxConfig(), smuxtest.YamuxConfig()
	ccfg.EnableKeepAlive, ccfg.KeepAliveInterval = true, every
	for _, y := range []*hyamux.Config{ccfg, scfg} {
		y.ConnectionWriteTimeout = time.Minute
	}
	smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "yamux"), sc, ccfg, scfg)
	start := time.Now()
	armed := false
	for time.Since(start) < 4*time.Second {
		if !armed && time.Since(start) >= time.Second {
			sc.delay.Store(int64(1500 * time.Millisecond))
			armed = true
		}
		reg.Evaluate(time.Now(), silentFixCfg)
		time.Sleep(20 * time.Millisecond)
	}
	if sc.delay.Load() != 0 {
		t.Fatal("no answer was held")
	}
	for _, r := range findingRecords(reg) {
		f := r.Finding
		t.Logf("%v %s dir %v: %s — %s", r.Kind, f.Code, f.Dir, f.Text, r.Detail)
		if f.Code == live.CodeKeepalive && f.Dir == live.ClientToServer {
			t.Errorf("the client, waiting for a late answer, called frozen: %s", f.Text)
		}
	}
}
