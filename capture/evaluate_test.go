package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestEvaluateInCaptureTime: the Reader evaluates the findings every
// EvaluateEvery of capture time, at times later than every record it has
// made, whatever the pace of reading; a long silence in the capture is
// stepped through up to a bound, then evaluated at its end; Close
// evaluates the capture as it ends.
func TestEvaluateInCaptureTime(t *testing.T) {
	const every = 100 * time.Millisecond
	// A real session's 8 ms, spread over 1.6 s: many steps, some with
	// packets between them and some without.
	base := readPackets(t, fixture("v1", "base"))
	first := base[0].CI.Timestamp
	for i := range base {
		base[i].CI.Timestamp = first.Add(200 * base[i].CI.Timestamp.Sub(first))
	}
	last := base[len(base)-1].CI.Timestamp
	for _, tc := range []struct {
		name string
		gap  time.Duration // added to the second half's packet times
	}{{"as captured", 0}, {"an hour's silence", time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			ps := append([]pkt(nil), base...)
			half := len(ps) / 2
			for i := half; i < len(ps); i++ {
				ps[i].CI.Timestamp = ps[i].CI.Timestamp.Add(tc.gap)
			}
			reg := live.New(live.Config{})
			var at []time.Time
			next := uint64(1)
			rd := capture.NewReader(capture.Config{Registry: reg, EvaluateEvery: every, Evaluate: func(now time.Time) {
				at = append(at, now)
				var recs []live.Record
				recs, next = reg.Frames(live.Query{From: next}, nil)
				for _, r := range recs {
					if r.At.After(now) {
						t.Errorf("an evaluation at %v, before record %d of %v", now, r.Seq, r.At)
					}
				}
			}})
			for _, p := range ps {
				rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
			}
			rd.Close()
			end := last.Add(tc.gap)
			if len(at) == 0 || !at[len(at)-1].Equal(end) {
				t.Fatalf("the last evaluation is not at the capture's end %v: %v", end, at)
			}
			steps := at[:len(at)-1]
			var jumps int
			for i, a := range steps {
				want := first.Add(time.Duration(i+1) * every)
				if jumps > 0 || !a.Equal(want) {
					// After 1000 steps into the silence: its end, then steps from there.
					gapEnd := ps[half].CI.Timestamp
					if i == 0 || !a.Equal(gapEnd) && !a.Equal(steps[i-1].Add(every)) {
						t.Fatalf("evaluation %d at %v, want %v or the silence's end %v", i, a.Sub(first), want.Sub(first), gapEnd.Sub(first))
					}
					if a.Equal(gapEnd) {
						jumps++
					}
				}
			}
			wantSteps := int((last.Sub(first)) / every)
			if tc.gap > 0 {
				// The steps before the silence, 1000 into it, one at its end,
				// then the steps after it.
				before := int(ps[half-1].CI.Timestamp.Sub(first) / every)
				after := int(end.Sub(ps[half].CI.Timestamp) / every)
				wantSteps = before + 1000 + 1 + after
				if jumps != 1 {
					t.Errorf("%d jumps to the silence's end, want 1", jumps)
				}
			}
			t.Logf("%d evaluations in %v of capture", len(steps), end.Sub(first))
			if len(steps) != wantSteps {
				t.Errorf("%d evaluations in %v of capture, want %d", len(steps), end.Sub(first), wantSteps)
			}
		})
	}
}

// TestKeepaliveOpenAtCaptureEnd: a capture cut while one side is silent
// past its keepalive leaves KEEPALIVE open, as the capture showed it when
// it ended: Close ends the directions the capture saw no end of, and that
// end is not the silent side's, nor a frame it sent.
func TestKeepaliveOpenAtCaptureEnd(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40005", "127.0.0.1:9000", at)
		for i := range 12 {
			at = at.Add(time.Second)
			c.Write(live.ClientToServer, at, []byte(v1("\x03", 0, "")))
			if i < 2 {
				c.Write(live.ServerToClient, at, []byte(v1("\x03", 0, "")))
			}
		}
		// No end: the capture stopped while the session was open.
	})
	cfg := live.FindingsConfig{Churn: -1}
	var got []string
	opened := 0
	for _, r := range findingsOf(t, readPackets(t, path), capture.Port(9000), cfg) {
		switch r.Kind {
		case live.FindingOpened:
			got = append(got, "+"+r.Finding.Code.String())
			if r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ServerToClient {
				opened++
			}
		case live.FindingResolved:
			got = append(got, "-"+r.Finding.Code.String()+" ("+r.Detail+")")
		}
	}
	if len(got) != 1 || opened != 1 {
		t.Errorf("findings %q, want one: KEEPALIVE of the server's silence, open as the capture ends", got)
	}
}

// TestEvaluateEdges: a Reader that reads nothing evaluates nothing, even
// at Close; one with no Evaluate reads as before; packets out of time
// order evaluate nothing, and the evaluations only ever move forward.
func TestEvaluateEdges(t *testing.T) {
	var at []time.Time
	record := func(now time.Time) { at = append(at, now) }
	rd := capture.NewReader(capture.Config{Registry: live.New(live.Config{}), Evaluate: record})
	rd.Close()
	if len(at) != 0 {
		t.Errorf("Close with nothing read evaluated at %v", at)
	}

	base := readPackets(t, fixture("v1", "base"))
	first := base[0].CI.Timestamp
	ps := append([]pkt(nil), base...)
	for i := range ps {
		ps[i].CI.Timestamp = first.Add(time.Duration(i) * 30 * time.Millisecond)
	}
	// Every fifth packet stamped a second early, as a capture merged from
	// two clocks may be, and the last one: the capture ends before its
	// latest packet, where Close must still evaluate.
	for i := 5; i < len(ps); i += 5 {
		ps[i].CI.Timestamp = ps[i].CI.Timestamp.Add(-time.Second)
	}
	if (len(ps)-1)%5 != 0 {
		ps[len(ps)-1].CI.Timestamp = ps[len(ps)-1].CI.Timestamp.Add(-time.Second)
	}
	want, _ := readFile(t, fixture("v1", "base"), capture.Filter{})
	for _, evaluate := range []func(time.Time){nil, record} {
		at = nil
		reg := live.New(live.Config{})
		rd := capture.NewReader(capture.Config{Registry: reg, Evaluate: evaluate})
		for _, p := range ps {
			rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
		}
		rd.Close()
		if got := reg.Snapshot(); counts(got) != counts(want) {
			t.Errorf("evaluate %v: counts\n%s\nwant\n%s", evaluate != nil, counts(got), counts(want))
		}
		if evaluate == nil {
			continue
		}
		var latest time.Time
		for _, p := range ps {
			if p.CI.Timestamp.After(latest) {
				latest = p.CI.Timestamp
			}
		}
		if len(at) == 0 || !at[len(at)-1].Equal(latest) {
			t.Fatalf("the last evaluation is not at the capture's latest packet %v: %v", latest, at)
		}
		for i := 1; i < len(at); i++ {
			if at[i].Before(at[i-1]) {
				t.Errorf("evaluation %d at %v, before the one before it at %v", i, at[i], at[i-1])
			}
		}
		// With no EvaluateEvery, the steps are its default, 100 ms.
		for i, a := range at[:len(at)-1] {
			if want := first.Add(time.Duration(i+1) * 100 * time.Millisecond); !a.Equal(want) {
				t.Errorf("evaluation %d at %v, want %v", i, a.Sub(first), want.Sub(first))
				break
			}
		}
	}
}

// TestStallOpenAtCaptureEnd: a v2 writer held at a full window when the
// capture stops is still held as the capture shows it: its WINDOW_STALL
// stays open. The capture's end is not the writer's FIN, nor a UPD.
func TestStallOpenAtCaptureEnd(t *testing.T) {
	v2 := func(cmd byte, sid uint32, payload string) []byte {
		h := decoder.MakeHeader(2, decoder.Cmd(cmd), uint16(len(payload)), sid)
		return append(h[:], payload...)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40007", "127.0.0.1:9000", t0)
		at := t0.Add(100 * time.Millisecond)
		c.Write(live.ClientToServer, at, v2(0, 3, ""))
		for range 5 { // past the stream's 256 KiB window: the writer waits for a UPD
			c.Write(live.ClientToServer, at, v2(2, 3, strings.Repeat("x", 60000)))
		}
		for i := range 8 {
			at = t0.Add(time.Duration(i+1) * time.Second)
			c.Write(live.ClientToServer, at, v2(3, 0, ""))
			c.Write(live.ServerToClient, at, v2(3, 0, ""))
		}
		// No end: the capture stopped while the writer waited.
	})
	cfg := live.FindingsConfig{Churn: -1, StallAfter: time.Second, UnansweredAfter: time.Hour}
	fs := findingsOf(t, readPackets(t, path), capture.Filter{}, cfg)
	if len(fs) != 1 || fs[0].Kind != live.FindingOpened || fs[0].Finding.Code != live.CodeWindowStall {
		for _, r := range fs {
			t.Logf("%v %v %v: %s", r.At.Sub(t0), r.Kind, r.Finding.Code, r.Detail)
		}
		t.Errorf("%d finding records, want one: WINDOW_STALL opened, open as the capture ends", len(fs))
	}
}
