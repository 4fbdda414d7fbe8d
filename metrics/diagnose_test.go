package metrics_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// leakyPair returns a tapped smux client session, recording into reg,
// whose server never closes a stream, and leak, which opens a stream,
// exchanges a request and closes the client's end: the stream stays open,
// a leak.
func leakyPair(t *testing.T, reg *live.Registry) (leak func()) {
	t.Helper()
	cli, srv := smuxtest.Pair(t, nil, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
	go func() { // ends with srv
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func(st *smux.Stream) { // ends with the stream, or srv
				buf := make([]byte, 16)
				n, _ := st.Read(buf)
				st.Write(buf[:n]) // and never Close: the leak
			}(st)
		}
	}()
	return func() {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("ping"))
		io.ReadFull(st, make([]byte, 4))
		st.Close()
	}
}

// TestDiagnoseOtherThresholdsPanics: a second Diagnose of one registry
// with other thresholds would open and resolve its one leak at every
// evaluation, each by its own thresholds (the audit saw LEAK opened 15
// times in 3 s); it panics, naming both, and the first goes on alone.
func TestDiagnoseOtherThresholdsPanics(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	leak := leakyPair(t, reg)
	short := live.FindingsConfig{LeakAfter: 100 * time.Millisecond}
	stop := metrics.Diagnose(reg, short)
	defer stop()
	leak()
	col := metrics.NewCollector(reg, metrics.Options{})
	const opened = "muxtop_findings_opened_total{code=LEAK,severity=warning}"
	func() {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			msg := fmt.Sprint(r)
			for _, want := range []string{"metrics.Diagnose", "already diagnosed", "LeakAfter:100ms", "LeakAfter:30s"} {
				if !strings.Contains(msg, want) {
					t.Errorf("panic %q does not say %q", msg, want)
				}
			}
		}()
		stop2 := metrics.Diagnose(reg, live.FindingsConfig{LeakAfter: 30 * time.Second})
		defer stop2()
		time.Sleep(10 * metrics.EvaluateEvery)
		t.Fatalf("a second Diagnose with other thresholds did not panic; LEAK opened %v times for one leak", scrape(t, col)[opened])
	}()
	smuxtest.Eventually(t, "the LEAK finding", func() bool { return scrape(t, col)[opened] == 1 })
	time.Sleep(5 * metrics.EvaluateEvery)
	if m := scrape(t, col); m[opened] != 1 || sum(m, "muxtop_findings_resolved_total") != 0 {
		t.Errorf("LEAK opened %v times, resolved %v; want one leak, open", m[opened], sum(m, "muxtop_findings_resolved_total"))
	}
}

// TestDiagnoseSharedOnce: two callers of Diagnose with equal thresholds
// share one diagnosis, which goes on until both stopped it; then the
// registry may be diagnosed again, with any thresholds.
func TestDiagnoseSharedOnce(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	leak := leakyPair(t, reg)
	cfg := live.FindingsConfig{LeakAfter: 100 * time.Millisecond}
	stop1 := metrics.Diagnose(reg, cfg)
	stop2 := metrics.Diagnose(reg, cfg)
	leak()
	col := metrics.NewCollector(reg, metrics.Options{})
	const opened = "muxtop_findings_opened_total{code=LEAK,severity=warning}"
	smuxtest.Eventually(t, "the LEAK finding", func() bool { return scrape(t, col)[opened] == 1 })
	stop1()
	stop1() // again: still one caller's stop
	leak()  // a second leak, found only if the evaluations go on
	smuxtest.Eventually(t, "the second leak counted", func() bool { return scrape(t, col)["muxtop_streams_leak_suspected"] == 2 })
	if m := scrape(t, col); m[opened] != 1 || sum(m, "muxtop_findings_resolved_total") != 0 {
		t.Errorf("LEAK opened %v times, resolved %v; want one finding, open", m[opened], sum(m, "muxtop_findings_resolved_total"))
	}
	stop2()
	stop3 := metrics.Diagnose(reg, live.FindingsConfig{LeakAfter: time.Hour}) // no panic: nothing diagnoses reg now
	stop3()
}

// TestDiagnoseNilRegistry: a nil registry panics at the call, naming it.
func TestDiagnoseNilRegistry(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "metrics.Diagnose: nil *live.Registry") {
			t.Errorf("Diagnose(nil) panicked with %v", r)
		}
	}()
	metrics.Diagnose(nil, live.FindingsConfig{})
}

// TestNilRegistryCollector: NewCollector and Gatherer panic at the call
// on a nil registry, naming it, rather than at the first scrape.
func TestNilRegistryCollector(t *testing.T) {
	for name, call := range map[string]func(){
		"metrics.NewCollector": func() { metrics.NewCollector(nil, metrics.Options{}) },
		"metrics.Gatherer":     func() { metrics.Gatherer(nil, metrics.Options{}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || fmt.Sprint(r) != name+": nil *live.Registry" {
					t.Errorf("%s(nil): recovered %v", name, r)
				}
			}()
			call()
		}()
	}
}

// TestDiagnoseAlikeConfigsShare: configs that evaluate alike are one
// diagnosis, not a clash: the zero config and one spelling out its
// defaults, two negative Churns (both off), a negative SilentAfter and 0
// (both the cadence's). Before, each pair panicked: "the registry is
// already diagnosed with {LeakAfter:0s … Churn:0}, not {LeakAfter:30s …
// Churn:20}". Other thresholds still panic (TestDiagnoseOtherThresholdsPanics).
func TestDiagnoseAlikeConfigsShare(t *testing.T) {
	defaults := live.FindingsConfig{LeakAfter: live.DefaultLeakAfter, StallAfter: live.DefaultStallAfter,
		BlockedAfter: live.DefaultBlockedAfter, UnansweredAfter: live.DefaultUnansweredAfter, Churn: live.DefaultChurn}
	for _, pair := range [][2]live.FindingsConfig{
		{{}, defaults},
		{{Churn: -1}, {Churn: -5}},
		{{SilentAfter: -time.Second}, {}},
		{{LeakAfter: -time.Second}, {}},
	} {
		reg := live.New(live.Config{})
		stop := metrics.Diagnose(reg, pair[0])
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Diagnose %+v after %+v panicked: %v", pair[1], pair[0], r)
				}
			}()
			metrics.Diagnose(reg, pair[1])()
		}()
		stop()
	}
}

// TestEvaluationsTellWhetherDiagnosed: a service that taps its
// connections and exports the collector but never runs Diagnose has
// findings gauges at 0 whatever leaks, which looked healthy (the SRE
// review: "nothing says whether Diagnose runs"): its
// muxtop_findings_evaluations_total stands still at 0, while the same
// leak under Diagnose opens a LEAK and the counter grows, which
// MuxtopNotDiagnosing watches.
func TestEvaluationsTellWhetherDiagnosed(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	const evals = "muxtop_findings_evaluations_total"
	blind := live.New(live.Config{})
	leakyPair(t, blind)()
	time.Sleep(300 * time.Millisecond) // longer than the leak threshold below
	if got := scrape(t, metrics.NewCollector(blind, metrics.Options{})); got[evals] != 0 || got[`muxtop_findings_open{code=LEAK,severity=warning}`] != 0 {
		t.Errorf("undiagnosed: %s %v and LEAK open %v, want 0 and 0", evals, got[evals], got[`muxtop_findings_open{code=LEAK,severity=warning}`])
	}
	reg := live.New(live.Config{})
	leakyPair(t, reg)()
	stop := metrics.Diagnose(reg, live.FindingsConfig{LeakAfter: 100 * time.Millisecond})
	defer stop()
	c := metrics.NewCollector(reg, metrics.Options{})
	var first float64
	smuxtest.Eventually(t, "the LEAK under Diagnose, and its evaluations counted", func() bool {
		got := scrape(t, c)
		if first == 0 {
			first = got[evals]
		}
		return got[`muxtop_findings_open{code=LEAK,severity=warning}`] == 1 && first > 0 && got[evals] > first
	})
}
