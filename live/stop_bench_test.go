package live_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// stopRegistry returns a registry of n idle v2 sessions with 11 streams
// open each (a request and its answer, then nothing), evaluated a minute
// later with a LEAK finding open on each: the scale audit's shape, 9 000
// sessions and 99 000 open streams, as a stop finds it.
func stopRegistry(tb testing.TB, n int) (*live.Registry, []*script, time.Time) {
	tb.Helper()
	reg := live.New(live.Config{})
	scripts := make([]*script, n)
	for i := range n {
		sc := openSession(reg, 2)
		sc.worked(t0)
		for j := range uint32(11) {
			sid := 3 + 2*j
			sc.feedAt(t0, syn(c2s, sid), psh(c2s, sid, "RAND"), psh(s2c, sid, "12345678"))
		}
		scripts[i] = sc
	}
	evaluated := t0.Add(time.Minute)
	reg.Evaluate(evaluated, live.FindingsConfig{LeakAfter: live.DefaultLeakAfter})
	return reg, scripts, evaluated
}

// BenchmarkStop ends every session of n idle ones, as a stop does (attach's
// proxy closes every connection: each session ends as live.Shutdown, in
// no particular order), then resolves their findings (ResolveEnded) and
// takes the last snapshot. ns/end is the cost of one Session.End, which
// must not grow with n.
func BenchmarkStop(b *testing.B) {
	for _, n := range []int{1_000, 3_000, 9_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var ends, resolve, snap time.Duration
			for b.Loop() {
				b.StopTimer()
				reg, scripts, now := stopRegistry(b, n)
				rand.Shuffle(len(scripts), func(i, j int) { scripts[i], scripts[j] = scripts[j], scripts[i] })
				stopAt := now.Add(time.Second)
				b.StartTimer()
				start := time.Now()
				for _, sc := range scripts {
					sc.s.End(stopAt, live.Shutdown, nil)
				}
				t1 := time.Now()
				reg.ResolveEnded(stopAt, stopAt)
				t2 := time.Now()
				reg.SnapshotWith(live.SnapshotOptions{Now: stopAt, LeakAfter: live.DefaultLeakAfter, Latency: true})
				t3 := time.Now()
				ends += t1.Sub(start)
				resolve += t2.Sub(t1)
				snap += t3.Sub(t2)
			}
			runs := float64(b.N)
			b.ReportMetric(float64(ends.Nanoseconds())/runs/float64(n), "ns/end")
			b.ReportMetric(float64(resolve.Nanoseconds())/runs, "ns/resolve")
			b.ReportMetric(float64(snap.Nanoseconds())/runs, "ns/snapshot")
		})
	}
}
