package live_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
)

// TestStallInFlightAboveWindowReal: a real smux v2 writer (newVStall's
// server) writes 1 MiB to a reader that reads 1 KiB once and stops. The
// writer starts with a 256 KiB window (smux's initialPeerWindow) and
// fills it before the reader's first UPD, sent at that read, announces
// the reader's MaxStreamBuffer: consumed 1 KiB, window 64 KiB by
// default (4 KiB configured). 255 KiB are in flight against that
// window, and the writer goes on only once a UPD reports in-flight
// below it (writeV2: win := peerWindow − inflight; win > 0), 191 KiB
// (251 KiB) more consumed. Before, WINDOW_STALL said "held by a full
// 64 KiB window", its JSON "bytes":65536, as though 64 KiB were in
// flight. The finding's words and numbers say the bytes in flight, the
// window, and what must be consumed. A reader that never reads (no UPD:
// the 256 KiB window the writer starts with) and a yamux writer, whose
// in-flight never passes its window, keep "held by a full … window",
// in-flight equal to the window.
func TestStallInFlightAboveWindowReal(t *testing.T) {
	for _, c := range []struct {
		name          string
		proto         string
		window, first int // the reader's window (0: the library's default), its one read
		inFlight, win uint64
		head          string
	}{
		{"smux v2 default", "smux v2", 0, 1024, 261120, 65536,
			"stream 3: the server's writer has been held for %s: 255 KiB in flight (sent, not consumed per the client's latest UPD) against the 64 KiB window it announced; it writes on once a UPD reports over 191 KiB more consumed — its reader, the client, is not reading"},
		{"smux v2 4 KiB", "smux v2", 4096, 1024, 261120, 4096,
			"stream 3: the server's writer has been held for %s: 255 KiB in flight (sent, not consumed per the client's latest UPD) against the 4 KiB window it announced; it writes on once a UPD reports over 251 KiB more consumed"},
		{"smux v2 no read", "smux v2", 0, 0, 262144, 262144,
			"stream 3: the server's writer has been held by a full 256 KiB window for %s — its reader, the client, is not reading"},
		{"yamux", "yamux", 0, 1024, 262144, 262144,
			"stream 1: the server's writer has been held by a full 256 KiB window for %s — its reader, the client, is not reading"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := newVStall(t, c.proto, c.window, 1<<20)
			if c.first > 0 {
				v.readAt(t0, c.first)
			}
			cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
			for at := t0; len(stallRecords(v.reg)) == 0 && at.Before(t0.Add(3*time.Second)); at = at.Add(100 * time.Millisecond) {
				v.reg.Evaluate(at, cfg)
			}
			recs := stallRecords(v.reg)
			if len(recs) != 1 || recs[0].Kind != live.FindingOpened {
				t.Fatalf("WINDOW_STALL records %d, want one opened", len(recs))
			}
			f := recs[0].Finding
			t.Logf("%s | %s", f.Text, f.Advice)
			if st := v.reg.Snapshot().Sessions[0].Stream(v.sid); st == nil || uint64(st.Flow[live.ServerToClient].InFlight()) != c.inFlight {
				t.Fatalf("the stream's flow %+v, want %d in flight", st, c.inFlight)
			}
			if f.Evidence.Bytes != c.inFlight || f.Evidence.Window != c.win {
				t.Errorf("evidence: bytes %d, window %d; want %d in flight against a %d window", f.Evidence.Bytes, f.Evidence.Window, c.inFlight, c.win)
			}
			if head := fmt.Sprintf(c.head, live.FormatAge(f.Evidence.Age)); !strings.HasPrefix(f.Text, head) {
				t.Errorf("text %q\nwant it to begin %q", f.Text, head)
			}
			var out bytes.Buffer
			if err := headless.NewPrinter(v.reg, &out, headless.JSON).Flush(); err != nil {
				t.Fatal(err)
			}
			want := `"bytes":` + strconv.FormatUint(c.inFlight, 10) + `,"window":` + strconv.FormatUint(c.win, 10) + `,`
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, `"code":"WINDOW_STALL"`) && !strings.Contains(line, want) {
					t.Errorf("JSON %s\nwant %s", line, want)
				}
			}
		})
	}
}
