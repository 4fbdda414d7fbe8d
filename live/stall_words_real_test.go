package live_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// vstall is one stream of a real smux v2 or hashicorp/yamux session,
// recorded at a virtual clock as TestSlowReaderOneStall's: the client
// opens it and reads what the server's writer pushes, total bytes, as far
// as the window lets it.
type vstall struct {
	t      *testing.T
	reg    *live.Registry
	clk    *vclock
	reader net.Conn
	sid    uint32
	total  int
	read   int
}

// newVStall starts proto's ("smux v2" or "yamux") sessions, the reader's
// window window bytes (smux's MaxStreamBuffer, yamux's
// MaxStreamWindowSize; 0: the library's default), and waits until the
// writer has filled the window.
func newVStall(t *testing.T, proto string, window, total int) *vstall {
	reg := live.New(live.Config{})
	clk := &vclock{now: t0}
	var sess *live.Session
	var cli, srv smuxtest.Session
	if proto == "yamux" {
		sess = reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
		a, b := net.Pipe()
		cfg := smuxtest.YamuxConfig() // keepalive off: no pings at real times
		if window > 0 {
			cfg.MaxStreamWindowSize = uint32(window)
		}
		c, s := smuxtest.YamuxPair(t,
			&vtap{Conn: a, clk: clk, sess: sess, dir: live.ClientToServer, yamux: yamux.New(64)},
			&vtap{Conn: b, clk: clk, sess: sess, dir: live.ServerToClient, yamux: yamux.New(64)}, cfg, cfg)
		cli, srv = smuxtest.YamuxSession(c), smuxtest.YamuxSession(s)
	} else {
		sess = reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Client, Label: "test"}, t0)
		cfg := smuxtest.Config(2)
		cfg.KeepAliveDisabled = true // no NOPs at real times
		if window > 0 {
			cfg.MaxStreamBuffer = window
		}
		c, s := smuxtest.Pair(t, cfg,
			func(c net.Conn) net.Conn {
				return &vtap{Conn: c, clk: clk, sess: sess, dir: live.ClientToServer, smux: decoder.New(64)}
			},
			func(c net.Conn) net.Conn {
				return &vtap{Conn: c, clk: clk, sess: sess, dir: live.ServerToClient, smux: decoder.New(64)}
			})
		cli, srv = smuxtest.SmuxSession(c), smuxtest.SmuxSession(s)
	}
	reader, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	reader.Write([]byte("GET"))
	writer, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	go writer.Write(make([]byte, total))
	v := &vstall{t: t, reg: reg, clk: clk, reader: reader, sid: smuxtest.StreamID(reader), total: total}
	v.filled()
	return v
}

// filled waits until the writer has filled the window it was given, at
// the virtual clock's time, or written all it had.
func (v *vstall) filled() {
	v.t.Helper()
	smuxtest.Eventually(v.t, "the writer to fill its window", func() bool {
		ss := v.reg.Snapshot().Sessions
		if len(ss) != 1 {
			return false
		}
		st := ss[0].Stream(v.sid)
		return st != nil && (!st.Flow[live.ServerToClient].FullSince.IsZero() || st.Bytes[live.ServerToClient] == uint64(v.total))
	})
}

// readAt reads n bytes (no more than are left) at the virtual time at,
// and, where that sent a report (a UPD, a window update), waits for the
// writer to fill what it opened.
func (v *vstall) readAt(at time.Time, n int) {
	v.t.Helper()
	v.clk.advance(at)
	v.clk.mu.Lock()
	before := v.clk.writes
	v.clk.mu.Unlock()
	k, err := io.ReadFull(v.reader, make([]byte, min(n, v.total-v.read)))
	if err != nil {
		v.t.Fatal(err)
	}
	v.read += k
	v.clk.mu.Lock()
	reported := v.clk.writes != before
	v.clk.mu.Unlock()
	if reported {
		v.filled()
	}
}

// stallRecords returns reg's WINDOW_STALL records.
func stallRecords(reg *live.Registry) []live.Record {
	var out []live.Record
	for _, r := range allRecords(reg) {
		if r.Finding != nil && r.Finding.Code == live.CodeWindowStall {
			out = append(out, r)
		}
	}
	return out
}

// slowWords is what a WINDOW_STALL says of a reader shown to read far
// slower than its writer writes; pausedWords of one that read again
// after its writer had waited --stall-after or more, once.
const (
	slowWords   = "reads, but far slower than it writes: its latest "
	pausedWords = "paused, or reads far slower than it writes: its latest "
)

// TestStallPausedReaderNotSlowReal: a download whose reader, the client,
// reads 1 MiB, stops for 5 s, then reads 64 KiB every 5 ms (12 MB/s) to
// the end, on real smux v2 (MaxStreamBuffer 1 MiB) and hashicorp/yamux
// (MaxStreamWindowSize 1 MiB) sessions at a virtual clock, evaluated after
// each read at --stall-after 2 s. Both report after each 512 KiB read:
// one report after the pause, to a writer held 5 s, the next 40 ms
// later. WINDOW_STALL opens at 2 s, and the one report says that the
// reader paused, or reads far slower; the next resolves it ("it reads").
// No record, nor the summary, says that it reads far slower than its
// writer writes: one report after a pause does not show that. Before,
// the update said "its reader, the client, reads, but far slower than it
// writes: its latest window update came after the writer had waited
// 5.0 s", and the summary kept it.
func TestStallPausedReaderNotSlowReal(t *testing.T) {
	for _, proto := range []string{"smux v2", "yamux"} {
		t.Run(proto, func(t *testing.T) {
			const chunk = 64 << 10
			v := newVStall(t, proto, 1<<20, 3<<20)
			cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
			for v.read < 1<<20 {
				v.readAt(t0, chunk)
			}
			at := t0
			for ; at.Before(t0.Add(5 * time.Second)); at = at.Add(100 * time.Millisecond) {
				v.reg.Evaluate(at, cfg)
			}
			for ; v.read < v.total; at = at.Add(5 * time.Millisecond) {
				v.readAt(at, chunk)
				v.reg.Evaluate(at, cfg)
			}
			for end := at.Add(cfg.StallAfter); at.Before(end); at = at.Add(100 * time.Millisecond) {
				v.reg.Evaluate(at, cfg)
			}
			recs := stallRecords(v.reg)
			var kinds []live.Kind
			for _, r := range recs {
				kinds = append(kinds, r.Kind)
				t.Logf("%v at %v: %s (%s)", r.Kind, r.At.Sub(t0), r.Finding.Text, r.Detail)
				if strings.Contains(r.Finding.Text, slowWords) || strings.Contains(r.Detail, "far slower than it writes") {
					t.Errorf("%v at %v says the reader reads far slower than it writes, after one report: %s", r.Kind, r.At.Sub(t0), r.Finding.Text)
				}
			}
			if len(recs) != 3 || kinds[0] != live.FindingOpened || kinds[1] != live.FindingUpdated || kinds[2] != live.FindingResolved {
				t.Fatalf("WINDOW_STALL records %v, want it opened, updated as the reader read again, resolved", kinds)
			}
			if u := recs[1].Finding; u.Evidence.Slow < 4*time.Second || !strings.Contains(u.Text, "— its reader, the client, "+pausedWords+"window update came after the writer had waited 5.0 s") && !strings.Contains(u.Text, "— its reader, the client, "+pausedWords+"UPD came after the writer had waited 5.0 s") {
				t.Errorf("updated: slow %v, %q; want slow 4 s or more, saying the reader paused, or reads far slower", u.Evidence.Slow, u.Text)
			}
			if r := recs[2]; !strings.Contains(r.Detail, "though the window is full again: it reads;") {
				t.Errorf("resolved: %q, want the reader read again", r.Detail)
			}
			var out bytes.Buffer
			if _, err := headless.NewPrinter(v.reg, &out, headless.Plain).Finish(headless.Options{StallAfter: cfg.StallAfter}); err != nil {
				t.Fatal(err)
			}
			var stalls []string // its WINDOW_STALL lines, the summary's too
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, "WINDOW_STALL") {
					stalls = append(stalls, line)
				}
			}
			if lines := strings.Join(stalls, "\n"); strings.Contains(lines, slowWords) || !strings.Contains(lines, pausedWords) {
				t.Errorf("the plain output's WINDOW_STALL lines, want none saying %q, some %q:\n%s", slowWords, pausedWords, lines)
			}
		})
	}
}

// TestStallSteadyReaderWordsReal: a reader that reads steadily, slower
// than its writer writes — 5000 bytes every 100 ms (50 KB/s) on a real
// hashicorp/yamux session's default 256 KiB window, 1000 bytes every
// 100 ms on a real smux v2 session's default 64 KiB MaxStreamBuffer —
// reports only once it has read half its window since its latest report
// (yamux: Stream.sendWindowUpdate omits a smaller delta; smux v2:
// tryReadV2's windowUpdateThreshold, and a UPD at its first read), every
// 2.6 s and 3.3 s: longer than --stall-after, 2 s. WINDOW_STALL opens
// 2 s into the hold, as before, and says that the reader is not reading
// or has read less than half the window since its latest report; before,
// "its reader, the client, is not reading", of a reader that had read
// all along. Its first report after that says it paused, or reads far
// slower; its second, that it reads far slower than its writer writes:
// each told at once (finding-updated).
func TestStallSteadyReaderWordsReal(t *testing.T) {
	for _, c := range []struct {
		proto string
		per   int
		open  string
	}{
		{"yamux", 5000, "— its reader, the client, is not reading, or has read less than half the window since its latest window update (yamux sends one only then)"},
		{"smux v2", 1000, "— its reader, the client, is not reading, or has read less than half the window since its latest UPD (smux v2 sends one only then, and at its first read)"},
	} {
		t.Run(c.proto, func(t *testing.T) {
			v := newVStall(t, c.proto, 0, 4<<20)
			cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
			for at := t0; at.Before(t0.Add(8 * time.Second)); at = at.Add(100 * time.Millisecond) {
				v.readAt(at, c.per)
				v.reg.Evaluate(at, cfg)
			}
			recs := stallRecords(v.reg)
			for _, r := range recs {
				t.Logf("%v at %v: %s (%s)", r.Kind, r.At.Sub(t0), r.Finding.Text, r.Detail)
			}
			if len(recs) == 0 || recs[0].Kind != live.FindingOpened {
				t.Fatal("no WINDOW_STALL opened")
			}
			if f := recs[0].Finding; !strings.HasSuffix(f.Text, c.open) || f.Evidence.Age < cfg.StallAfter || f.Evidence.Age > cfg.StallAfter+100*time.Millisecond {
				t.Errorf("opened at %v: %q; want it %q", f.Evidence.Age, f.Text, c.open)
			}
			if len(recs) != 3 || recs[1].Kind != live.FindingUpdated || recs[2].Kind != live.FindingUpdated {
				t.Fatalf("WINDOW_STALL records: %d, want it opened and updated twice, open", len(recs))
			}
			for i, want := range []string{pausedWords, slowWords} {
				if f := recs[1+i].Finding; f.Evidence.Slow < cfg.StallAfter || !strings.Contains(f.Text, "— its reader, the client, "+want) {
					t.Errorf("update %d: slow %v, %q; want %q", i+1, f.Evidence.Slow, f.Text, want)
				}
			}
		})
	}
}

// TestStallPausedReaderSmallWindowReal: TestStallPausedReaderNotSlowReal's
// reader on a real smux v2 session at its default MaxStreamBuffer, 64 KiB:
// it reads nothing for 5 s, then reads 64 KiB every 5 ms (12 MB/s,
// evaluated after each read) or every 50 ms (1.3 MB/s, evaluated every
// 100 ms, as the product does). smux v2's writer starts with a 256 KiB
// window, so the UPDs of the first 192 KiB read leave it full, each to a
// writer held since before the pause: two of them, 5 ms or 100 ms apart,
// said the reader "reads, but far slower than it writes", and the summary
// kept it (a review of the change). Reports that close together show a
// reader that reads: no record nor the summary says it reads far slower.
func TestStallPausedReaderSmallWindowReal(t *testing.T) {
	for _, c := range []struct {
		name        string
		every, eval time.Duration
	}{
		{"12MBps", 5 * time.Millisecond, 5 * time.Millisecond},
		{"1.3MBps", 50 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			const chunk = 64 << 10
			v := newVStall(t, "smux v2", 0, 3<<20)
			cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
			at := t0
			for ; at.Before(t0.Add(5 * time.Second)); at = at.Add(100 * time.Millisecond) {
				v.reg.Evaluate(at, cfg)
			}
			next := at
			for ; v.read < v.total; at = at.Add(c.every) {
				v.readAt(at, chunk)
				for ; next.Before(at.Add(c.every)); next = next.Add(c.eval) {
					if !next.Before(at) {
						v.reg.Evaluate(next, cfg)
					}
				}
			}
			for end := at.Add(cfg.StallAfter); at.Before(end); at = at.Add(100 * time.Millisecond) {
				v.reg.Evaluate(at, cfg)
			}
			recs := stallRecords(v.reg)
			if len(recs) == 0 {
				t.Fatal("no WINDOW_STALL opened in the pause")
			}
			for _, r := range recs {
				t.Logf("%v at %v: %s (%s)", r.Kind, r.At.Sub(t0), r.Finding.Text, r.Detail)
				if strings.Contains(r.Finding.Text, slowWords) {
					t.Errorf("%v at %v says the reader reads far slower than it writes: %s", r.Kind, r.At.Sub(t0), r.Finding.Text)
				}
			}
			var out bytes.Buffer
			if _, err := headless.NewPrinter(v.reg, &out, headless.Plain).Finish(headless.Options{StallAfter: cfg.StallAfter}); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, "WINDOW_STALL") && strings.Contains(line, slowWords) {
					t.Errorf("plain: %s", line)
				}
			}
		})
	}
}

// TestStallSlowThenStoppedReal: TestStallSteadyReaderWordsReal's readers
// (yamux 50 KB/s, smux v2 10 KB/s, on their default windows), shown to
// read far slower than their writers write by two reports, stop for good
// at 9 s. Before, the finding they held open still said, 61 s later, "its
// reader, the client, reads, but far slower than it writes: its latest
// window update came after the writer had waited 2.7 s". Once the
// writer's hold since that report is three times the one it came after
// (and --stall-after), it says the reader is not reading, or has read
// less than half the window since that report, how long ago that came
// and after what wait: told at once (finding-updated); no record says
// "far slower" after that.
func TestStallSlowThenStoppedReal(t *testing.T) {
	for _, c := range []struct {
		proto string
		per   int
	}{{"yamux", 5000}, {"smux v2", 1000}} {
		t.Run(c.proto, func(t *testing.T) {
			v := newVStall(t, c.proto, 0, 4<<20)
			cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
			at := t0
			for ; at.Before(t0.Add(9 * time.Second)); at = at.Add(100 * time.Millisecond) {
				v.readAt(at, c.per)
				v.reg.Evaluate(at, cfg)
			}
			for ; at.Before(t0.Add(70 * time.Second)); at = at.Add(100 * time.Millisecond) {
				v.reg.Evaluate(at, cfg)
			}
			recs := stallRecords(v.reg)
			slow, stopped := -1, -1
			for i, r := range recs {
				t.Logf("%v at %v: %s (%s)", r.Kind, r.At.Sub(t0), r.Finding.Text, r.Detail)
				switch {
				case strings.Contains(r.Finding.Text, slowWords):
					slow = i
				case strings.Contains(r.Finding.Text, "is not reading, or has read less than half the window since its latest") && strings.Contains(r.Finding.Text, " ago, after the writer had waited "):
					if stopped < 0 {
						stopped = i
					}
				}
			}
			if slow < 0 || stopped < slow || recs[stopped].Kind != live.FindingUpdated {
				t.Fatalf("records: the slow words at %d, the stopped words at %d; want the slow words, then a finding-updated saying the reader is quiet again", slow, stopped)
			}
			// Three times the hold its latest report came after (smux v2's
			// counts from the writer's first hold: its 256 KiB first window
			// stays full at a 64 KiB buffer), after that report.
			if u := recs[slow].Finding.Evidence; recs[stopped].At.After(t0.Add(9*time.Second + 3*u.Slow + time.Second)) {
				t.Errorf("told %v into the run; want within three times %v after the reader stopped at 9 s", recs[stopped].At.Sub(t0), u.Slow)
			}
			fs := v.reg.Snapshot().Findings
			if len(fs) != 1 || strings.Contains(fs[0].Text, slowWords) || !strings.Contains(fs[0].Text, "ago, after the writer had waited ") {
				t.Errorf("open at 70 s: %+v; want one WINDOW_STALL saying the reader is quiet again", fs)
			}
		})
	}
}
