package live_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// BenchmarkEvaluate is one evaluation of 10 000 sessions, as a front end
// runs it ten times a second. Each session has served 1 000 requests
// (its closed streams are tracked in detail) and has 4 in flight; between
// two evaluations, untimed, 100 ms pass and each session answers its
// oldest request and starts a new one, and sends keepalive NOPs both ways
// every 10 s. "healthy" has nothing wrong; "leaking" also has 20 streams
// per session that the server never closed, so that 10 000 LEAK findings
// stay open and their evidence changes every second.
func BenchmarkEvaluate(b *testing.B) {
	const sessions = 10_000
	for _, leaky := range []bool{false, true} {
		name := "healthy"
		if leaky {
			name = "leaking"
		}
		b.Run(fmt.Sprintf("%s/sessions=%d", name, sessions), func(b *testing.B) {
			reg := live.New(live.Config{History: 1 << 16})
			type sess struct {
				sc       *script
				next     uint32   // the next stream id
				inFlight []uint32 // oldest first
			}
			all := make([]*sess, sessions)
			for i := range all {
				ss := &sess{sc: openSession(reg, 1), next: 3}
				for range 1000 {
					sid := ss.next
					ss.sc.feedAt(sec(1), syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"), fin(s2c, sid), fin(c2s, sid))
					ss.next += 2
				}
				if leaky {
					for range 20 {
						sid := ss.next
						ss.sc.feedAt(sec(2), syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"), fin(c2s, sid))
						ss.next += 2
					}
				}
				for range 4 {
					ss.sc.feedAt(sec(59), syn(c2s, ss.next), psh(c2s, ss.next, "RAND"))
					ss.inFlight = append(ss.inFlight, ss.next)
					ss.next += 2
				}
				all[i] = ss
			}
			tick := 0
			// step moves the clock 100 ms on, with a little traffic in every session.
			step := func() time.Time {
				tick++
				now := sec(59).Add(time.Duration(tick) * 100 * time.Millisecond)
				for i, ss := range all {
					old := ss.inFlight[0]
					ss.sc.feedAt(now, psh(s2c, old, "12345678"), fin(s2c, old), fin(c2s, old), syn(c2s, ss.next), psh(c2s, ss.next, "RAND"))
					ss.inFlight = append(ss.inFlight[1:], ss.next)
					ss.next += 2
					if (tick+i)%100 == 0 {
						ss.sc.feedAt(now, nop(c2s), nop(s2c))
					}
				}
				return now
			}
			cfg := live.FindingsConfig{}
			// Open what there is to open before timing.
			for range 20 {
				reg.Evaluate(step(), cfg)
			}
			open := len(reg.Snapshot().Findings)
			if want := map[bool]int{false: 0, true: sessions}[leaky]; open != want {
				b.Fatalf("%d findings open, want %d", open, want)
			}
			timeEvaluations(b, reg, step, cfg, map[bool]int{false: 0, true: sessions}[leaky])
		})
	}
}

// BenchmarkEvaluateLeaks is one evaluation of 100 sessions that each
// leak a stream every 100 ms, as a front end runs it ten times a second:
// each holds 2 000 streams the server never closed (counted as leaks,
// idle), and at each evaluation one more crosses --leak-after (5 s here)
// while its latest frame, its answer 100 ms after its request, is younger
// than that: a stream in use, which LEAK's walk (explainedLeaks) looks
// for. Between two evaluations, untimed, 100 ms pass; keepalive NOPs go
// both ways every second. One LEAK per session stays open.
func BenchmarkEvaluateLeaks(b *testing.B) {
	const sessions, leaked = 100, 2000
	for _, ver := range []uint8{1, 2} {
		b.Run(fmt.Sprintf("v%d/sessions=%d/leaked=%d", ver, sessions, leaked), func(b *testing.B) {
			reg := live.New(live.Config{History: 1 << 16})
			type sess struct {
				sc   *script
				next uint32 // the next stream id
			}
			all := make([]*sess, sessions)
			for i := range all {
				ss := &sess{sc: openSession(reg, ver), next: 3}
				for j := range leaked {
					sid := ss.next
					ss.sc.feedAt(sec(1+float64(j)/1000), syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"), fin(c2s, sid))
					ss.next += 2
				}
				all[i] = ss
			}
			tick := 0
			// step moves the clock 100 ms on: every session answers the
			// request of the step before, and leaks it, and opens one more.
			step := func() time.Time {
				tick++
				now := sec(10).Add(time.Duration(tick) * 100 * time.Millisecond)
				for _, ss := range all {
					if tick > 1 {
						ss.sc.feedAt(now, psh(s2c, ss.next-2, "12345678"), fin(c2s, ss.next-2))
					}
					ss.sc.feedAt(now, syn(c2s, ss.next), psh(c2s, ss.next, "RAND"))
					ss.next += 2
					if tick%10 == 0 {
						ss.sc.feedAt(now, nop(c2s), nop(s2c))
					}
				}
				return now
			}
			cfg := live.FindingsConfig{LeakAfter: 5 * time.Second}
			// Until streams cross the cutoff at each evaluation.
			for range 60 {
				reg.Evaluate(step(), cfg)
			}
			if open := len(reg.Snapshot().Findings); open != sessions {
				b.Fatalf("%d findings open, want %d", open, sessions)
			}
			timeEvaluations(b, reg, step, cfg, sessions)
		})
	}
}

// timeEvaluations times b.N evaluations of reg, each after step (untimed)
// has moved its sessions on to the time it returns, reports their mean
// as ms/eval, and fails b unless open findings are open at the end.
func timeEvaluations(b *testing.B, reg *live.Registry, step func() time.Time, cfg live.FindingsConfig, open int) {
	b.Helper()
	b.ReportAllocs()
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		now := step()
		b.StartTimer()
		start := time.Now()
		reg.Evaluate(now, cfg)
		total += time.Since(start)
	}
	b.StopTimer()
	if n := len(reg.Snapshot().Findings); n != open {
		b.Fatalf("%d findings open at the end, want %d", n, open)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/eval")
}
