package live_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestYamuxFirstPingFrozenServerReal: a hashicorp/yamux client keeps
// alive every 700 ms, its server (keepalive off) frozen from the start, a
// SIGSTOP'd process: it never answers the client's first ping, which
// hashicorp sends an interval into the session. The server's KEEPALIVE
// borrows the time to that ping, the only one muxtop knows, and says so
// rather than call it an interval: "that ping, the client's first, came
// 701 ms into the session", with borrowed and first_ping in its JSON
// record. The virtual-clock TestYamuxBorrowedPingGapWording pins the
// words; this is the real library's timing, on a tapped client conn.
func TestYamuxFirstPingFrozenServerReal(t *testing.T) {
	t.Parallel()
	const every = 700 * time.Millisecond
	reg := live.New(live.Config{})
	cc, raw := smuxtest.Conns(t)
	sc := &stopConn{Conn: raw, release: make(chan struct{})}
	sc.reads.Store(true)
	sc.writes.Store(true)
	ccfg, scfg := smuxtest.YamuxConfig(), smuxtest.YamuxConfig()
	for _, y := range []*hyamux.Config{ccfg, scfg} {
		y.EnableKeepAlive, y.KeepAliveInterval, y.ConnectionWriteTimeout = y == ccfg, every, time.Minute
	}
	smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "yamux"), sc, ccfg, scfg)
	t.Cleanup(sc.free) // first: the stopped reads and writes let go before the sessions close
	var open *live.Record
	for start := time.Now(); open == nil && time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		reg.Evaluate(time.Now(), silentFixCfg)
		for _, r := range findingRecords(reg) {
			if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive {
				open = &r
				break
			}
		}
	}
	if open == nil {
		t.Fatalf("no KEEPALIVE of the frozen server within 10 s; findings:%s", describeRecords(findingRecords(reg)))
	}
	f := open.Finding
	t.Logf("opened %v into the session: %s", open.At.Sub(f.Since).Round(time.Millisecond), f.Text)
	ev := f.Evidence
	if f.Dir != live.ServerToClient || f.Severity != live.Critical || !ev.Borrowed || !ev.FirstPing ||
		ev.Every < every || ev.Every > every+300*time.Millisecond {
		t.Fatalf("%v %v, every %v, borrowed %v, first ping %v; want the server's critical KEEPALIVE on the client's first ping, about %v in",
			f.Dir, f.Severity, ev.Every, ev.Borrowed, ev.FirstPing, every)
	}
	if !strings.Contains(f.Text, "; that ping, the client's first, came ") || !strings.Contains(f.Text, " into the session: it is frozen or gone") ||
		strings.Contains(f.Text, "pings came every") {
		t.Errorf("text %q; want it to say the time to the client's first ping, no interval", f.Text)
	}
	if limit := live.SilenceLimit(ev.Every); open.At.Sub(f.Since) > limit+500*time.Millisecond {
		t.Errorf("opened %v after the server's last frame (the session's start); want within %v", open.At.Sub(f.Since), limit+500*time.Millisecond)
	}

	var out bytes.Buffer
	if err := headless.NewPrinter(reg, &out, headless.JSON).Flush(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if m["type"] != "finding-opened" || m["code"] != "KEEPALIVE" {
			continue
		}
		found = true
		if m["borrowed"] != true || m["first_ping"] != true || m["dir"] != "s2c" {
			t.Errorf("JSON %s; want borrowed and first_ping true, dir s2c", line)
		}
		if e, _ := m["every"].(float64); e < every.Seconds() || e > (every+300*time.Millisecond).Seconds() {
			t.Errorf("JSON every %v; want the time to the first ping, about %v", m["every"], every.Seconds())
		}
	}
	if !found {
		t.Errorf("no finding-opened KEEPALIVE in the JSON:\n%s", out.Bytes())
	}
}
