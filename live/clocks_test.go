package live_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// The boundaries between two findings' clocks: each test replays frames
// at exact times and evaluates at every millisecond (or every few)
// across the instants where one rule's cutoff has passed and another's
// has not, and checks that no finding opens that another explains a
// moment later, nor resolves and re-opens.

// codes lists the finding records as "+CODE" and "-CODE", in order.
func codes(reg *live.Registry) string {
	var got []string
	for _, r := range findingRecords(reg) {
		sign := "+"
		if r.Kind == live.FindingResolved {
			sign = "-"
		}
		got = append(got, sign+r.Finding.Code.String())
	}
	return strings.Join(got, " ")
}

// TestNoLeakAsAWindowFills: a v2 stream whose writer reaches the window
// after its SYN crosses LEAK's cutoff (from the SYN) before
// WINDOW_STALL's (from when the window filled): it was a LEAK, "a side
// forgot Close", from the leak cutoff until the hold had lasted
// --stall-after, then WINDOW_STALL. Here the server's BULK writer fills
// the window 1.5 s after the SYN (or 5 ms after it, with --stall-after
// equal to --leak-after); the client never reads it.
func TestNoLeakAsAWindowFills(t *testing.T) {
	chunk := strings.Repeat("x", 32<<10)
	for _, tc := range []struct {
		fill        float64
		stall, leak time.Duration
	}{
		{1.5, time.Second, 2 * time.Second},
		{0.005, 2 * time.Second, 2 * time.Second},
	} {
		cfg := live.FindingsConfig{StallAfter: tc.stall, LeakAfter: tc.leak, Churn: -1}
		reg := live.New(live.Config{})
		sc := openSession(reg, 2)
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"))
		for ms := 1; ms <= 6000; ms++ {
			at := sec(float64(ms) / 1000)
			if ms%1000 == 0 {
				sc.feedAt(at, nop(c2s), nop(s2c))
			}
			if ms == int(tc.fill*1000) {
				for range 8 {
					sc.feedAt(at, psh(s2c, 3, chunk))
				}
			}
			if ms >= 1500 {
				reg.Evaluate(at, cfg)
			}
		}
		if got := codes(reg); got != "+WINDOW_STALL" {
			t.Errorf("window full at %v s, stall %v, leak %v: %s, want +WINDOW_STALL:%s", tc.fill, tc.stall, tc.leak, got, describeRecords(findingRecords(reg)))
		}
	}
}

// TestLeakOfASlowReadersStreamSteady: a v2 upload whose reader consumes
// it slowly (its UPDs leave the window full) is held by the window, which
// excuses it from LEAK, though no WINDOW_STALL opens (its reader reads).
// The excuse was looked at only while some stream waited for an answer:
// with requests served beside it, LEAK opened and resolved as each
// request's few milliseconds unanswered came and went.
func TestLeakOfASlowReadersStreamSteady(t *testing.T) {
	chunk := strings.Repeat("x", 32<<10)
	cfg := live.FindingsConfig{StallAfter: time.Second, LeakAfter: 2 * time.Second, UnansweredAfter: 2 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3))
	for range 8 {
		sc.feedAt(sec(0), psh(c2s, 3, chunk)) // smux's initial 256 KiB
	}
	consumed, sid := uint32(0), uint32(5)
	for ms := 1; ms <= 8000; ms++ {
		at := sec(float64(ms) / 1000)
		if ms%500 == 10 {
			consumed += 8 << 10
			sc.feedAt(at, upd(s2c, 3, consumed, 16<<10))
		}
		if ms%1000 == 0 {
			sc.feedAt(at, nop(c2s), nop(s2c))
		}
		switch ms % 300 {
		case 0:
			sc.feedAt(at, syn(c2s, sid), psh(c2s, sid, "RAND"))
		case 2:
			sc.feedAt(at, upd(s2c, sid, 4, 262144), psh(s2c, sid, "12345678"), fin(s2c, sid), fin(c2s, sid))
			sid += 2
		}
		if ms%100 == 1 || ms%300 == 1 {
			reg.Evaluate(at, cfg)
		}
	}
	if got := codes(reg); got != "" {
		t.Errorf("%s, want nothing:%s", got, describeRecords(findingRecords(reg)))
	}
}

// TestDataAfterCloseThroughPendingData: in v2, late data waits lateGrace
// uncounted for a UPD that shows its receiver reads it. An open
// DATA_AFTER_CLOSE resolves AfterCloseWindow after the latest counted
// frame; late data that came just before that and counts lateGrace later
// re-opened it: the finding resolved, "no such data for 10 s", and opened
// again 500 ms later, though such data never stopped. Where the
// receiver's UPD shows it read that data, the finding resolves then.
func TestDataAfterCloseThroughPendingData(t *testing.T) {
	for _, read := range []bool{false, true} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 2)
		cfg := live.FindingsConfig{Churn: -1}
		sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), upd(s2c, 3, 4, 262144), psh(s2c, 3, "12345678"), fin(s2c, 3))
		sc.feedAt(sec(1), psh(c2s, 3, "late"))
		var resolved time.Time
		for ms := 1000; ms <= 13000; ms += 10 {
			at := sec(float64(ms) / 1000)
			switch {
			case ms == 10900:
				sc.feedAt(at, psh(c2s, 3, "late again"))
			case ms == 11200 && read:
				sc.feedAt(at, upd(s2c, 3, 18, 262144)) // it read the late data
			case ms%1000 == 0:
				sc.feedAt(at, nop(c2s), nop(s2c))
			}
			reg.Evaluate(at, cfg)
			if recs := findingRecords(reg); resolved.IsZero() && len(recs) > 1 {
				resolved = recs[1].At
			}
		}
		want := "+DATA_AFTER_CLOSE"
		if read {
			want = "+DATA_AFTER_CLOSE -DATA_AFTER_CLOSE"
			if !resolved.Equal(sec(11.2)) {
				t.Errorf("read: resolved at %v, want at the UPD, %v", resolved.Sub(t0), 11.2)
			}
		}
		if got := codes(reg); got != want {
			t.Errorf("read %v: %s, want %s:%s", read, got, want, describeRecords(findingRecords(reg)))
		}
	}
}

// TestOpenFindingsThroughAMomentaryWrite: a write in progress at two
// evaluations in a row (100 ms) makes its direction stuck at once, so
// that its silence is not taken for the sender's; SESSION_BLOCKED opens
// only after --blocked-after. A finding already open, of a condition
// that holds on, resolved at such a write and re-opened at the next
// evaluation: LEAK, UNANSWERED, KEEPALIVE, WINDOW_STALL.
func TestOpenFindingsThroughAMomentaryWrite(t *testing.T) {
	chunk := strings.Repeat("x", 32<<10)
	cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, LeakAfter: 2 * time.Second, StallAfter: time.Second,
		BlockedAfter: time.Second, Churn: -1}
	for _, tc := range []struct {
		name  string
		ver   uint8
		setup func(sc *script)
		nops  [2]bool // keepalive NOPs every second of c2s, s2c
		want  string
	}{
		{"leak", 1, func(sc *script) {
			sc.worked(sec(0))
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"))
		}, [2]bool{true, true}, "+LEAK"},
		{"unanswered", 1, func(sc *script) {
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "HOLD"), psh(s2c, 3, "12345678"), fin(c2s, 3), fin(s2c, 3))
			sc.feedAt(sec(0.5), syn(c2s, 5), psh(c2s, 5, "RAND"))
		}, [2]bool{true, true}, "+UNANSWERED"},
		{"keepalive", 1, func(sc *script) {
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "12345678"), fin(c2s, 3), fin(s2c, 3))
			sc.feedAt(sec(0.5), nop(s2c), nop(c2s))
			sc.feedAt(sec(1), nop(s2c), nop(c2s))
		}, [2]bool{false, true}, "+KEEPALIVE"},
		{"stall", 2, func(sc *script) {
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"))
			for range 8 {
				sc.feedAt(sec(0.01), psh(s2c, 3, chunk))
			}
		}, [2]bool{true, true}, "+WINDOW_STALL"},
	} {
		reg := live.New(live.Config{})
		sc := openSession(reg, tc.ver)
		tc.setup(sc)
		for ms := 100; ms <= 8000; ms += 100 {
			at := sec(float64(ms) / 1000)
			if ms%1000 == 0 {
				if tc.nops[0] {
					sc.feedAt(at, nop(c2s))
				}
				if tc.nops[1] {
					sc.feedAt(at, nop(s2c))
				}
			}
			reg.Evaluate(at, cfg)
			switch ms {
			case 5000:
				sc.s.WriteStarted(c2s)
			case 5200:
				sc.s.WriteDone(c2s) // the evaluations at 5.1 and 5.2 s saw it in progress
			}
		}
		if got := codes(reg); got != tc.want {
			t.Errorf("%s: %s, want %s:%s", tc.name, got, tc.want, describeRecords(findingRecords(reg)))
		}
	}
}

// TestNoUnansweredAsThePeerFreezes: in v1 a request 5 ms after its SYN
// waits from the request; the server's keepalive NOP came 5 ms after it,
// and then nothing: it froze. UNANSWERED's cutoff (the request's) passes
// 5 ms before KEEPALIVE's (the NOP's): UNANSWERED, "it is alive and not
// accepting", opened and resolved a moment later as KEEPALIVE said the
// server is silent. A server that goes on sending its NOPs, one of them
// 50 ms late, is UNANSWERED's.
func TestNoUnansweredAsThePeerFreezes(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	for _, tc := range []struct {
		name   string
		frozen bool
		want   string
	}{
		{"frozen", true, "+KEEPALIVE"},
		{"alive", false, "+UNANSWERED"},
	} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		sc.feedAt(sec(0.010), nop(s2c))
		for ms := 1; ms <= 6000; ms++ {
			at := sec(float64(ms) / 1000)
			if ms%1000 == 0 {
				sc.feedAt(at, nop(c2s))
			}
			switch {
			case ms == 1000:
				sc.feedAt(at, syn(c2s, 3))
			case ms == 1005:
				sc.feedAt(at, psh(c2s, 3, "FRZE"))
			case ms == 1010:
				sc.feedAt(at, nop(s2c)) // the frozen server's last
			case !tc.frozen && (ms%1000 == 10 && ms != 3010 || ms == 3060):
				sc.feedAt(at, nop(s2c))
			}
			if ms >= 2500 {
				reg.Evaluate(at, cfg)
			}
		}
		if got := codes(reg); got != tc.want {
			t.Errorf("%s: %s, want %s:%s", tc.name, got, tc.want, describeRecords(findingRecords(reg)))
		}
	}
}

// TestNoLeakAsABacklogDrains: with --leak-after equal to
// --unanswered-after, a stream accepted after waiting that long (a
// backlog draining) is UNANSWERED's until its first frame back; its
// answer and FIN came a moment later, and LEAK, "a side forgot Close",
// opened between and resolved at the FIN. In v2 the first frame back is
// the reader's UPD at its first read, in a packet of its own. Such a
// stream counts from its answer: left open, it is a LEAK LeakAfter after
// it (5.5 s), once both sides have spoken since (their NOPs at 6 s:
// until then, a side silent since before the deadline may be frozen,
// TestNoLeakBesideAFrozenPeer).
func TestNoLeakAsABacklogDrains(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, LeakAfter: 2 * time.Second, Churn: -1}
	for _, ver := range []uint8{1, 2} {
		for _, closed := range []bool{true, false} {
			reg := live.New(live.Config{})
			sc := openSession(reg, ver)
			var leakAt time.Time
			for ms := 1; ms <= 8000; ms++ {
				at := sec(float64(ms) / 1000)
				if ms%1000 == 0 {
					sc.feedAt(at, nop(c2s), nop(s2c))
				}
				switch ms {
				case 1000:
					sc.worked(at) // stream 3 is no setup stream
					sc.feedAt(at, syn(c2s, 3), psh(c2s, 3, "RAND"))
				case 3500:
					if ver == 2 {
						sc.feedAt(at, upd(s2c, 3, 4, 262144))
					} else {
						sc.feedAt(at, psh(s2c, 3, "12345678"))
					}
				case 3520:
					if ver == 2 {
						sc.feedAt(at, psh(s2c, 3, "12345678"))
					}
					if closed {
						sc.feedAt(at, fin(s2c, 3), fin(c2s, 3))
					}
				}
				if ms >= 2000 {
					reg.Evaluate(at, cfg)
				}
				if recs := findingRecords(reg); leakAt.IsZero() && len(recs) == 3 {
					leakAt = recs[2].At
				}
			}
			want := "+UNANSWERED -UNANSWERED"
			if !closed {
				want += " +LEAK"
				if !leakAt.Equal(sec(6)) {
					t.Errorf("v%d left open: LEAK at %v, want at the NOPs after 2 s after the answer, 6s", ver, leakAt.Sub(t0))
				}
			}
			if got := codes(reg); got != want {
				t.Errorf("v%d closed %v: %s, want %s:%s", ver, closed, got, want, describeRecords(findingRecords(reg)))
			}
		}
	}
}

// TestUnansweredUntilTheWindowStalls: a v2 upload nobody reads (no UPD)
// is UNANSWERED's, and its writer's full window WINDOW_STALL's; a writer
// at the window before the stream counted for UNANSWERED is not
// UNANSWERED's at all. Where the window filled after UNANSWERED had
// counted the stream (a slow upload), UNANSWERED resolved at once ("the
// streams got an answer"), and LEAK, "a side forgot Close", opened for
// the second until WINDOW_STALL did. Now UNANSWERED hands over to
// WINDOW_STALL at the evaluation that opens it, and there is no LEAK; its
// resolution says so.
func TestUnansweredUntilTheWindowStalls(t *testing.T) {
	chunk := strings.Repeat("x", 32<<10)
	for _, tc := range []struct {
		every       int // ms between the upload's 32 KiB writes: the window fills at 8 times it
		leak        time.Duration
		want        string
		stallOpened float64
	}{
		{300, 2 * time.Second, "+UNANSWERED -UNANSWERED +WINDOW_STALL", 3.4},
		{225, 1500 * time.Millisecond, "+WINDOW_STALL", 2.8},
	} {
		cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, LeakAfter: tc.leak, StallAfter: time.Second, Churn: -1}
		reg := live.New(live.Config{})
		sc := openSession(reg, 2)
		sc.feedAt(sec(0), syn(c2s, 3))
		n := 0
		for ms := 1; ms <= 6000; ms++ {
			at := sec(float64(ms) / 1000)
			if ms%1000 == 0 {
				sc.feedAt(at, nop(c2s), nop(s2c))
			}
			if ms%tc.every == 0 && n < 8 {
				sc.feedAt(at, psh(c2s, 3, chunk))
				n++
			}
			reg.Evaluate(at, cfg)
		}
		recs := findingRecords(reg)
		if got := codes(reg); got != tc.want {
			t.Errorf("window full at %d ms: %s, want %s:%s", 8*tc.every, got, tc.want, describeRecords(recs))
			continue
		}
		for _, r := range recs {
			if !r.At.Equal(sec(tc.stallOpened)) && r.Finding.Code != live.CodeUnanswered {
				t.Errorf("window full at %d ms: %s %s at %v, want at %v", 8*tc.every, r.Kind, r.Finding.Code, r.At.Sub(t0), tc.stallOpened)
			}
			if r.Kind == live.FindingResolved && !r.At.Equal(sec(tc.stallOpened)) {
				t.Errorf("window full at %d ms: UNANSWERED resolved at %v, want as WINDOW_STALL opened, %v", 8*tc.every, r.At.Sub(t0), tc.stallOpened)
			}
			// It said "the streams got an answer, or closed": neither.
			if want := "stream 3, still unanswered, is WINDOW_STALL's now: the client's writer is held by a full window, which the server has not read from"; r.Kind == live.FindingResolved && r.Detail != want {
				t.Errorf("window full at %d ms: UNANSWERED resolved: %q, want %q", 8*tc.every, r.Detail, want)
			}
		}
	}
}

// TestDataAfterCloseResolvesThroughReadLateData: an open DATA_AFTER_CLOSE
// waits for late data of its direction pending lateGrace only where that
// data came while the finding was fresh: pending data of other streams,
// which their receivers then read (a CloseWrite-then-read on each of a
// stream of requests), must not hold it open for ever. Here, after one
// stream's counted late data at 1 s, a new stream every 100 ms half-closes
// and is read after its FIN, its late data pending 300 ms for the UPD that
// shows it read: some is always pending.
func TestDataAfterCloseResolvesThroughReadLateData(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	cfg := live.FindingsConfig{Churn: -1, LeakAfter: time.Hour, UnansweredAfter: time.Hour}
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "RAND"), upd(s2c, 3, 4, 262144), psh(s2c, 3, "12345678"), fin(s2c, 3))
	sc.feedAt(sec(1), psh(c2s, 3, "late"))
	sid := uint32(5)
	var reads []uint32 // streams whose late data waits, oldest first
	for ms := 1000; ms <= 20000; ms += 10 {
		at := sec(float64(ms) / 1000)
		if ms%1000 == 0 {
			sc.feedAt(at, nop(c2s), nop(s2c))
		}
		if ms >= 2000 && ms%100 == 0 {
			sc.feedAt(at, syn(c2s, sid), psh(c2s, sid, "REQ!"), upd(s2c, sid, 4, 262144), fin(s2c, sid), psh(c2s, sid, "more"))
			reads = append(reads, sid)
			sid += 2
		}
		if ms >= 2300 && ms%100 == 0 {
			sc.feedAt(at, upd(s2c, reads[0], 8, 262144)) // it read the late data
			reads = reads[1:]
		}
		reg.Evaluate(at, cfg)
	}
	if got, want := codes(reg), "+DATA_AFTER_CLOSE -DATA_AFTER_CLOSE"; got != want {
		t.Errorf("%s, want %s:%s", got, want, describeRecords(findingRecords(reg)))
	}
}

// TestNoLeakBesideAFrozenPeer: a peer that freezes (SIGSTOP) is
// KEEPALIVE's, and a stream it left open ages past --leak-after during
// the freeze: LEAK said "a side forgot Close" about it beside KEEPALIVE,
// though the frozen peer explains it. Here the server answers stream 3 at
// 4.5 s and then sends nothing (its keepalive came every second:
// KEEPALIVE at 6.5 s); the stream's leak deadline comes before KEEPALIVE's
// cutoff, at it, or after it. Evaluated around every instant where a
// clock turns, no LEAK opens while the server is silent; when it wakes at
// 9 s, the stream, still open, is a LEAK from its SYN at once. A server
// that does not freeze has its LEAK at its first frame after the deadline
// (its NOP at 7 s, for the deadline at 6.5 s), as does one that woke
// before the deadline.
func TestNoLeakBesideAFrozenPeer(t *testing.T) {
	for _, tc := range []struct {
		leak   float64 // --leak-after, s: the deadline is at 4.5 s plus it
		frozen bool
		want   string
		leakAt float64
	}{
		{1, true, "+KEEPALIVE -KEEPALIVE +LEAK", 9},
		{1.5, true, "+KEEPALIVE -KEEPALIVE +LEAK", 9},
		{2, true, "+KEEPALIVE -KEEPALIVE +LEAK", 9}, // the deadline at KEEPALIVE's cutoff
		{2.5, true, "+KEEPALIVE -KEEPALIVE +LEAK", 9},
		{4.5, true, "+KEEPALIVE -KEEPALIVE +LEAK", 9}, // the deadline as it wakes
		{5, true, "+KEEPALIVE -KEEPALIVE +LEAK", 10},  // it woke before the deadline: its next NOP
		{2, false, "+LEAK", 7},
	} {
		cfg := live.FindingsConfig{LeakAfter: time.Duration(tc.leak * float64(time.Second)), Churn: -1}
		reg := live.New(live.Config{})
		freeze := frozenPeer{from: 4500, until: 9000}
		if !tc.frozen {
			freeze = frozenPeer{}
		}
		leak := freeze.replay(t, reg, cfg, syn(c2s, 3), psh(c2s, 3, "FRZE"), psh(s2c, 3, "ok"))
		name := fmt.Sprintf("leak-after %v s, frozen %v", tc.leak, tc.frozen)
		if got := codes(reg); got != tc.want {
			t.Errorf("%s: %s, want %s:%s", name, got, tc.want, describeRecords(findingRecords(reg)))
		}
		if leak == nil || !leak.At.Equal(sec(tc.leakAt)) || !leak.Finding.Since.Equal(sec(4.5)) {
			t.Errorf("%s: LEAK %s, want at %v s since the SYN, 4.5s", name, leakTimes(leak), tc.leakAt)
		}
	}
}

// leakTimes describes a LEAK record's time and its finding's Since.
func leakTimes(r *live.Record) string {
	if r == nil {
		return "never opened"
	}
	return fmt.Sprintf("at %v since %v", r.At.Sub(t0), r.Finding.Since.Sub(t0))
}

// frozenPeer is a v1 session's traffic to 11 s: the client sends a NOP
// every second, and so does the server, except while it is frozen, from
// from until until (ms).
type frozenPeer struct{ from, until int }

// replay feeds it to a session of reg, with ws, stream 3's frames, at
// 4.5 s, and evaluates with cfg around every instant where a clock may
// turn, and every 100 ms between: its frames, their thresholds (the
// deadline, the keepalive's cadence and its silence limit) and the
// freeze's ends all fall on multiples of 500 ms, so the evaluations a
// millisecond before, at and after each see every change of every rule,
// as evaluations every millisecond did, for a fortieth of their cost. It
// returns the first LEAK record, nil if none.
func (fp frozenPeer) replay(t *testing.T, reg *live.Registry, cfg live.FindingsConfig, ws ...wire) *live.Record {
	t.Helper()
	const turn = 500 // ms
	if cfg.LeakAfter%(turn*time.Millisecond) != 0 || fp.from%turn != 0 || fp.until%turn != 0 {
		t.Fatalf("leak-after %v, freeze %d to %d ms: not on the %d ms instants the replay evaluates around", cfg.LeakAfter, fp.from, fp.until, turn)
	}
	sc := openSession(reg, 1)
	for ms := 1; ms <= 11000; ms++ {
		if off := ms % turn; ms%100 != 0 && off != 1 && off != turn-1 {
			continue
		}
		at := sec(float64(ms) / 1000)
		if ms%1000 == 0 {
			sc.feedAt(at, nop(c2s))
			if ms < fp.from || ms >= fp.until {
				sc.feedAt(at, nop(s2c))
			}
		}
		if ms == 4500 {
			sc.feedAt(at, ws...)
		}
		reg.Evaluate(at, cfg)
	}
	for _, r := range findingRecords(reg) {
		if r.Finding.Code == live.CodeLeak {
			return &r
		}
	}
	return nil
}

// TestLeakBeforeAPeerFreezesStays: a stream that was a LEAK before the
// server froze stays one beside KEEPALIVE; one whose deadline came during
// the freeze is left out of its count until the server speaks again.
func TestLeakBeforeAPeerFreezesStays(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 2 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	count := func() uint64 {
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeLeak {
				return f.Evidence.Count
			}
		}
		return 0
	}
	for ms := 1; ms <= 11000; ms++ {
		at := sec(float64(ms) / 1000)
		if ms%1000 == 0 {
			sc.feedAt(at, nop(c2s))
			if ms < 4500 || ms >= 9000 {
				sc.feedAt(at, nop(s2c))
			}
		}
		switch ms {
		case 1000:
			sc.worked(at)                                                      // stream 3 is no setup stream
			sc.feedAt(at, syn(c2s, 3), psh(c2s, 3, "RAND"), psh(s2c, 3, "ok")) // a LEAK at 3 s
		case 4000:
			sc.feedAt(at, syn(c2s, 5), psh(c2s, 5, "FRZE"), psh(s2c, 5, "ok")) // its deadline at 6 s
		case 4500:
			sc.feedAt(at, psh(s2c, 5, "ok")) // the server's last frame
		}
		reg.Evaluate(at, cfg)
		switch ms {
		case 3000, 6000, 8999:
			if n := count(); n != 1 {
				t.Errorf("at %v: LEAK counts %d streams, want 1", at.Sub(t0), n)
			}
		case 9000:
			if n := count(); n != 2 {
				t.Errorf("at %v: LEAK counts %d streams, want 2", at.Sub(t0), n)
			}
		}
	}
	if got, want := codes(reg), "+LEAK +KEEPALIVE -KEEPALIVE"; got != want {
		t.Errorf("%s, want %s:%s", got, want, describeRecords(findingRecords(reg)))
	}
}

// TestStallOfASlowReader: a v2 writer held at a full window is a
// WINDOW_STALL after --stall-after (1 s). Its reader's UPD at 3 s consumes
// 8 KiB and leaves the window full (248 KiB in flight against the 16 KiB
// it announces, which the words say; before, "a full 16 KiB window"): it read again, after leaving the
// writer held 2.5 s, having paused or reading slowly; the stall holds on,
// from 0.5 s, saying so (it resolved at that UPD and opened again a
// second later, one finding per UPD of a slow reader; and it said the
// reader "reads, but far slower than it writes", which one UPD does not
// show). The UPD at 5.5 s consumes everything: the
// window opens, and it resolves at once, saying the writer was held 5.0 s
// (from 0.5 s to that UPD), as the resolved finding does: not the 4.0 s of
// its latest wording.
func TestStallOfASlowReader(t *testing.T) {
	chunk := strings.Repeat("x", 32<<10)
	cfg := live.FindingsConfig{StallAfter: time.Second, LeakAfter: time.Hour, UnansweredAfter: time.Hour, Churn: -1}
	reg := live.New(live.Config{})
	sc := openSession(reg, 2)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "BULK"), upd(s2c, 3, 4, 262144))
	for range 8 {
		sc.feedAt(sec(0.5), psh(s2c, 3, chunk)) // smux's initial 256 KiB
	}
	for ms := 1; ms <= 7000; ms++ {
		at := sec(float64(ms) / 1000)
		if ms%1000 == 0 {
			sc.feedAt(at, nop(c2s), nop(s2c))
		}
		switch ms {
		case 3000:
			sc.feedAt(at, upd(c2s, 3, 8<<10, 16<<10)) // 8 KiB read: 248 KiB unread, the window still full
		case 5500:
			sc.feedAt(at, upd(c2s, 3, 256<<10, 256<<10)) // all read
		}
		reg.Evaluate(at, cfg)
	}
	recs := findingRecords(reg)
	if got, want := codes(reg), "+WINDOW_STALL -WINDOW_STALL"; got != want {
		t.Fatalf("%s, want %s:%s", got, want, describeRecords(recs))
	}
	if f := recs[1].Finding; f.Evidence.Slow != 2500*time.Millisecond ||
		f.Text != "stream 3: the server's writer has been held for 5.0 s: 248 KiB in flight (sent, not consumed per the client's latest UPD) against the 16 KiB window it announced; it writes on once a UPD reports over 232 KiB more consumed — its reader, the client, paused, or reads far slower than it writes: its latest UPD came after the writer had waited 2.5 s" {
		t.Errorf("the stall held on across the UPD at 3 s: %+v", f)
	}
	for i, want := range []struct {
		at, since float64
		detail    string
	}{
		{1.5, 0.5, ""},
		{5.5, 0.5, "the window opened (a UPD); the writer had been held 5.0 s"},
	} {
		r := recs[i]
		if !r.At.Equal(sec(want.at)) || !r.Finding.Since.Equal(sec(want.since)) || r.Detail != want.detail {
			t.Errorf("%s at %v since %v: %q, want at %vs since %vs: %q", r.Kind, r.At.Sub(t0), r.Finding.Since.Sub(t0), r.Detail, want.at, want.since, want.detail)
		}
	}
}

// TestUnansweredHandsOver: an open UNANSWERED resolves when the other
// side goes silent (KEEPALIVE says so) or the session is blocked
// (SESSION_BLOCKED): its resolution said "the streams got an answer, or
// closed", and they had not.
func TestUnansweredHandsOver(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, BlockedAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
	for _, tc := range []struct {
		name, want, detail string
	}{
		{"frozen", "+UNANSWERED -UNANSWERED +KEEPALIVE", "the server went silent: KEEPALIVE says so"},
		{"blocked", "+UNANSWERED -UNANSWERED +SESSION_BLOCKED", "the session is blocked: SESSION_BLOCKED says why"},
	} {
		reg := live.New(live.Config{})
		sc := openSession(reg, 1)
		for ms := 100; ms <= 8000; ms += 100 {
			at := sec(float64(ms) / 1000)
			if ms%1000 == 0 {
				sc.feedAt(at, nop(c2s))
				if tc.name != "frozen" || ms <= 4000 {
					sc.feedAt(at, nop(s2c))
				}
			}
			if ms == 1000 {
				sc.feedAt(at, syn(c2s, 3), psh(c2s, 3, "HOLD"))
			}
			if ms == 4500 && tc.name == "blocked" {
				sc.s.WriteStarted(s2c) // the server's write to the connection never returns
			}
			reg.Evaluate(at, cfg)
		}
		recs := findingRecords(reg)
		if got := codes(reg); got != tc.want {
			t.Errorf("%s: %s, want %s:%s", tc.name, got, tc.want, describeRecords(recs))
			continue
		}
		if recs[1].Detail != tc.detail {
			t.Errorf("%s: UNANSWERED resolved: %q, want %q", tc.name, recs[1].Detail, tc.detail)
		}
	}
}

// TestLeakOfTheSideThatSpeaks: the server answers a stream and closes its
// half (FIN) at 4.5 s, then freezes; the client goes on (NOPs every
// second) and never closes its half. The server's silence explains no
// stream the server has closed: the client forgot Close. LEAK opens at
// the client's first frame after the deadline (6.5 s), its NOP at 7 s,
// beside KEEPALIVE, as it would with no freeze; it never opened.
func TestLeakOfTheSideThatSpeaks(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 2 * time.Second, Churn: -1}
	reg := live.New(live.Config{})
	frozen := frozenPeer{from: 4500, until: 12000} // it never wakes
	if leak := frozen.replay(t, reg, cfg, syn(c2s, 3), psh(c2s, 3, "GET"), psh(s2c, 3, "ok"), fin(s2c, 3)); leak == nil || !leak.At.Equal(sec(7)) {
		t.Errorf("LEAK %s, want at 7s:%s", leakTimes(leak), describeRecords(findingRecords(reg)))
	}
}

// TestUnansweredHandsOverSeveral: an UNANSWERED that counts several
// client streams resolves as some of them hand over to WINDOW_STALL (v2
// uploads nobody reads, whose windows filled after they counted) in one
// evaluation. Its resolution named the first of them and added "the
// others got an answer, or closed", false of the second. It names each
// one WINDOW_STALL now holds, says of those the server's silence excuses
// that they are KEEPALIVE's, and says the others got an answer only where
// some did. A stream whose WINDOW_STALL was open before UNANSWERED
// counted anything (its window full at once) is not handed over: it was
// named too, where the one stream UNANSWERED counted got its answer.
func TestUnansweredHandsOverSeveral(t *testing.T) {
	chunk := strings.Repeat("x", 32<<10)
	const (
		upload = iota // a write every 300 ms: the window full at 2.4 s, WINDOW_STALL at 3.4 s
		waits         // a request with no answer
		served        // a request answered at 3.4 s
		full          // the window full at once: WINDOW_STALL at 1 s
		pushed        // written on again at 3.4 s, in v1
	)
	for _, tc := range []struct {
		name    string
		ver     uint8
		streams []int // stream 3, 5, 7... in order
		silent  bool  // the server sends nothing after 2 s: KEEPALIVE at 3.4 s (--silent-after 1.4 s)
		blocked bool  // the client's write from 2.4 s never returns: SESSION_BLOCKED at 3.4 s
		want    string
		detail  string
	}{
		{"two uploads", 2, []int{upload, upload}, false, false,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL +WINDOW_STALL",
			"streams 3 and 5, still unanswered, are WINDOW_STALL's now: the client's writers are held by full windows, which the server has not read from"},
		{"two uploads and a request served", 2, []int{upload, served, upload}, false, false,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL +WINDOW_STALL",
			"streams 3 and 7, still unanswered, are WINDOW_STALL's now: the client's writers are held by full windows, which the server has not read from; the other got an answer, or closed"},
		{"five uploads", 2, []int{upload, upload, upload, upload, upload}, false, false,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL +WINDOW_STALL +WINDOW_STALL +WINDOW_STALL +WINDOW_STALL",
			"streams 3, 5, 7 and 2 more, still unanswered, are WINDOW_STALL's now: the client's writers are held by full windows, which the server has not read from"},
		{"an upload and a request, the server silent", 2, []int{upload, waits}, true, false,
			"+UNANSWERED -UNANSWERED +KEEPALIVE +WINDOW_STALL",
			"stream 3, still unanswered, is WINDOW_STALL's now: the client's writer is held by a full window, which the server has not read from; stream 5 is KEEPALIVE's: the server went silent"},
		{"an upload stalled from the start and a request served", 2, []int{full, served}, false, false,
			"+WINDOW_STALL +UNANSWERED -UNANSWERED",
			"the streams got an answer, or closed"},
		{"a request while the session blocks, and one served", 2, []int{waits, served}, false, true,
			"+UNANSWERED -UNANSWERED +SESSION_BLOCKED",
			"stream 3 is SESSION_BLOCKED's: the session is blocked; the other got an answer, or closed"},
		{"v1: a push written on again and a request served", 1, []int{pushed, served}, false, false,
			"+UNANSWERED -UNANSWERED",
			"the client writes on stream 3 again: in smux v1 a stream's wait counts from its opener's last frame on it; the other got an answer, or closed"},
	} {
		cfg := live.FindingsConfig{UnansweredAfter: 2 * time.Second, StallAfter: time.Second, BlockedAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
		if tc.silent {
			cfg.SilentAfter = 1400 * time.Millisecond
		}
		reg := live.New(live.Config{})
		sc := openSession(reg, tc.ver)
		for i, kind := range tc.streams {
			sid := uint32(3 + 2*i)
			sc.feedAt(sec(0), syn(c2s, sid), psh(c2s, sid, "REQ!"))
			if kind == full {
				for range 8 {
					sc.feedAt(sec(0), psh(c2s, sid, chunk))
				}
			}
		}
		writes := 0
		for ms := 100; ms <= 4000; ms += 100 {
			at := sec(float64(ms) / 1000)
			if ms%1000 == 0 {
				sc.feedAt(at, nop(c2s))
				if !tc.silent || ms <= 2000 {
					sc.feedAt(at, nop(s2c))
				}
			}
			if ms%300 == 0 && writes < 8 {
				writes++
				for i, kind := range tc.streams {
					if kind == upload {
						sc.feedAt(at, psh(c2s, uint32(3+2*i), chunk))
					}
				}
			}
			if ms == 2400 && tc.blocked {
				sc.s.WriteStarted(c2s)
			}
			if ms == 3400 {
				for i, kind := range tc.streams {
					switch kind {
					case served:
						sc.feedAt(at, psh(s2c, uint32(3+2*i), "ok"))
					case pushed:
						sc.feedAt(at, psh(c2s, uint32(3+2*i), "more"))
					}
				}
			}
			reg.Evaluate(at, cfg)
		}
		recs := findingRecords(reg)
		if got := codes(reg); got != tc.want {
			t.Errorf("%s: %s, want %s:%s", tc.name, got, tc.want, describeRecords(recs))
			continue
		}
		for _, r := range recs {
			if r.Kind == live.FindingResolved && r.Detail != tc.detail {
				t.Errorf("%s: UNANSWERED resolved at %v:\n  %q\nwant\n  %q", tc.name, r.At.Sub(t0), r.Detail, tc.detail)
			}
		}
	}
}
