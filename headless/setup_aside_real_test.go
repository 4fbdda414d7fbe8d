package headless

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// summaryOf writes reg's summary, in format, after an evaluation at now at
// muxtop's defaults (--leak-after 30 s), and returns it: the plain
// summary's text, or the JSON summary line.
func summaryOf(t *testing.T, reg *live.Registry, now time.Time, format Format) string {
	t.Helper()
	reg.Evaluate(now, live.FindingsConfig{UnansweredAfter: time.Hour, SilentAfter: time.Hour, Churn: -1})
	var out bytes.Buffer
	if _, err := NewPrinter(reg, &out, format).Finish(Options{Format: format, LeakAfter: live.DefaultLeakAfter}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if format == JSON {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, `"type":"summary"`) {
				return l
			}
		}
		t.Fatalf("no JSON summary:\n%s", s)
	}
	return s[strings.Index(s, "summary"):]
}

// pluginMux is smux v2, keepalive off: its NOPs come at times of their own.
func pluginMux() smuxtest.Mux {
	cfg := smuxtest.Config(2)
	cfg.KeepAliveDisabled = true
	return smuxtest.Mux{Smux: cfg}
}

// hostRun runs a go-plugin-like host on a real smux v2 session whose
// plugin's end a tap records into reg and, if w is not nil, into w: the
// four setup streams held, a request closed (which ends the setup), then
// leaked requests held open (0 or more), then 12 requests closed. It
// returns once the tap has recorded them all, the session live: the
// setup streams and the leaked requests' open.
func hostRun(t *testing.T, reg *live.Registry, w *pcapout.Writer, leaked int) *smuxtest.PluginHost {
	t.Helper()
	var opts []tap.Option
	if w != nil {
		opts = append(opts, tap.Record(w))
	}
	h := smuxtest.NewPluginHost(t, pluginMux(), func(c net.Conn) net.Conn {
		return tap.Wrap(c, live.Server, reg, "plugin", opts...)
	})
	h.Requests(1, false)
	h.Requests(leaked, true)
	h.Requests(12, false)
	smuxtest.Eventually(t, "every request recorded", func() bool {
		ss := reg.Snapshot().Sessions[0]
		return ss.Total == uint64(4+1+leaked+12) && ss.Open == 4+leaked
	})
	return h
}

// summaryLeaksOf is the JSON summary's leaks, each count as an int.
func summaryLeaksOf(t *testing.T, line string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, v := range leaksJSON(t, []byte(line)).Leaks {
		if f, ok := v.(float64); ok {
			out[k] = int(f)
		}
	}
	return out
}

// TestSetupStreamsSummaryReal: a go-plugin-like host on a real smux
// session, tapped, holds the four setup streams it opened, healthy or
// beside three leaked requests; 45 s later, at --leak-after 30 s, the
// summary's leaks line says how many of the streams open longer are
// setup streams, which LEAK does not count, and the JSON's leaks.setup
// the same: the test's 4, beside its 0 or 3 leaks.
func TestSetupStreamsSummaryReal(t *testing.T) {
	for _, leaked := range []int{0, 3} {
		var offset atomic.Int64 // the registry's clock runs ahead of the tap's stamps once the host is quiet
		reg := live.New(live.Config{Clock: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		hostRun(t, reg, nil, leaked)
		offset.Store(int64(45 * time.Second))
		now := reg.Now()
		plain := summaryOf(t, reg, now, Plain)
		note := fmt.Sprintf("(%d open longer than 30s in all, 4 of them open since their session's setup, which LEAK does not count)", 4+leaked)
		head := "  leaks     0 suspected: no LEAK finding open at the last evaluation " + note
		if leaked > 0 {
			head = "  leaks     3 suspected: "
		}
		plainSummaryHas(t, plain, head, note)
		got := summaryLeaksOf(t, summaryOf(t, reg, now, JSON))
		if got["count"] != leaked || got["open_longer"] != 4+leaked || got["setup"] != 4 || got["set_aside"] != 0 {
			t.Errorf("%d leaked: JSON leaks %v; want count %d, open_longer %d, setup 4, no set_aside", leaked, got, leaked, 4+leaked)
		}
	}
}

// TestSetAsideSummaryRealCapture: the same host, recorded by its tap as
// --write does, with three leaked requests, read back whole and with one
// packet of the plugin's answers lost, after the leaks opened. Whole:
// LEAK counts the 3 leaked streams, the setup note the 4 setup streams,
// nothing is set aside. Cut: the 7 streams open at the loss, which the
// lost bytes may have closed, are set aside, no LEAK, and the leaks line
// and leaks.set_aside say 7, of the 7 open longer: the test's count of
// the streams it left open.
func TestSetAsideSummaryRealCapture(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	hostRun(t, live.New(live.Config{}), w, 3)
	if err := w.Close(); err != nil { // the session live: the capture sees no end
		t.Fatal(err)
	}
	ps := pcaptest.Read(t, &buf)
	placed, stream := pcaptest.Place(ps)
	// The plugin's answer to the 2nd request after the leaked ones: the
	// 6th "event" it sent.
	answer := 0
	for range 6 {
		answer += bytes.Index(stream[live.ServerToClient][answer:], []byte("event")) + 1
	}
	drop := pcaptest.Placed{I: -1}
	for _, p := range placed {
		if p.Dir == live.ServerToClient && p.Off < int64(answer) && int64(answer) <= p.Off+p.N {
			drop = p
		}
	}
	if drop.I < 0 {
		t.Fatal("no packet of the plugin's answers after the leaks")
	}
	for _, cut := range []bool{false, true} {
		var file bytes.Buffer
		if cut {
			pcaptest.Write(t, &file, pcaptest.Without(ps, drop))
		} else {
			pcaptest.Write(t, &file, ps)
		}
		src, err := capture.Open(&file)
		if err != nil {
			t.Fatal(err)
		}
		clock := new(capture.Clock)
		clock.Set(src.Start())
		reg := live.New(live.Config{Clock: clock.Now})
		if err := capture.NewReader(capture.Config{Registry: reg, Clock: clock}).Run(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		// The capture goes on 45 s with nothing more of the session.
		clock.Set(clock.Now().Add(45 * time.Second))
		now := clock.Now()
		plain, got := summaryOf(t, reg, now, Plain), summaryLeaksOf(t, summaryOf(t, reg, now, JSON))
		if !cut {
			plainSummaryHas(t, plain, "  leaks     3 suspected: ", "(7 open longer than 30s in all, 4 of them open since their session's setup, which LEAK does not count)")
			if got["count"] != 3 || got["open_longer"] != 7 || got["setup"] != 4 || got["set_aside"] != 0 {
				t.Errorf("whole capture: JSON leaks %v; want count 3, open_longer 7, setup 4, no set_aside", got)
			}
			continue
		}
		plainSummaryHas(t, plain, "  leaks     0 suspected: no LEAK finding open at the last evaluation (7 open longer than 30s in all, 7 of them set aside: the capture lost bytes they may have used)")
		if got["count"] != 0 || got["open_longer"] != 7 || got["set_aside"] != 7 || got["setup"] != 0 {
			t.Errorf("capture cut: JSON leaks %v; want count 0, open_longer 7, set_aside 7, no setup", got)
		}
	}
}
