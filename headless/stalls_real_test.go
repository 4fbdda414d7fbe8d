package headless

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestStallsLineCountsTheRunsStalls: a real yamux client writes 1 MiB to
// a server that accepts the stream and never reads; WINDOW_STALL opens;
// the session then ends while the writer is held. The summary's stalls
// line counts the writers held as the capture ended (none: the session
// is gone) and says so, and names the WINDOW_STALL the run saw. Before,
// it read "stalls 0: no writer held at a full flow-control window for
// 100ms" three lines below the WINDOW_STALL finding, as if flow control
// had been fine (found reading a capture of a hung yamux service).
func TestStallsLineCountsTheRunsStalls(t *testing.T) {
	for _, format := range []Format{Plain, JSON} {
		t.Run(map[Format]string{Plain: "plain", JSON: "json"}[format], func(t *testing.T) {
			reg := live.New(live.Config{})
			cc, sc := smuxtest.Conns(t)
			cfg := smuxtest.YamuxConfig()
			cfg.EnableKeepAlive = false
			cli, srv := smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "cli", tap.WithProtocol(tap.Yamux)), sc, cfg, cfg)
			accepted := make(chan struct{})
			go func() {
				if _, err := srv.AcceptStream(); err == nil { // and never read
					close(accepted)
				}
			}()
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			if n, err := st.Write(make([]byte, 1<<20)); err == nil || n != int(hyamux.DefaultConfig().MaxStreamWindowSize) {
				t.Fatalf("wrote %d bytes, %v: want the first window's 256 KiB, then a timeout", n, err)
			}
			<-accepted
			cfgF := live.FindingsConfig{StallAfter: 100 * time.Millisecond, LeakAfter: time.Hour, UnansweredAfter: time.Hour, Churn: -1}
			smuxtest.Eventually(t, "WINDOW_STALL", func() bool {
				reg.Evaluate(time.Now(), cfgF)
				return reg.Snapshot().FindingsOpenedBy[live.CodeWindowStall][live.Warning]+reg.Snapshot().FindingsOpenedBy[live.CodeWindowStall][live.Critical] == 1
			})
			cli.Close()
			srv.Close()
			smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().LiveSessions == 0 })
			reg.Evaluate(time.Now(), cfgF)
			var out bytes.Buffer
			if _, err := Finish(&out, reg, Options{Format: format, LeakAfter: time.Hour, StallAfter: 100 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			if format == Plain {
				want := "  stalls    0: no writer held at a full flow-control window for 100ms when the capture ended; 1 WINDOW_STALL finding opened during the capture\n"
				if !strings.Contains(out.String(), want) {
					t.Errorf("plain summary lacks %q:\n%s", want, out.String())
				}
				return
			}
			var j struct {
				Stalls struct {
					Count  int    `json:"count"`
					Opened uint64 `json:"opened"`
				} `json:"stalls"`
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &j); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if j.Stalls.Count != 0 || j.Stalls.Opened != 1 {
				t.Errorf("JSON stalls %+v, want count 0 (none held at the end), opened 1", j.Stalls)
			}
		})
	}
}
