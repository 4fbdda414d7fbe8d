package headless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// TestSummaryLatencyOverForgottenSessions: real smux sessions, tapped at
// the client, each answer requests and end; the registry keeps 2 ended
// sessions (EndedSessions) and forgets the rest. The summary's first-reply
// latency counts every reply the clients got, as the Prometheus histogram
// does, in plain and JSON alike, and its slowest-p99 list says it covers
// the sessions still tracked. Before, the summary counted the 2 tracked
// sessions' replies alone ("over 8 streams" of 24).
func TestSummaryLatencyOverForgottenSessions(t *testing.T) {
	const sessions, requests = 6, 4
	reg := live.New(live.Config{EndedSessions: 2})
	replies := 0
	for i := range sessions {
		cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn {
			return tap.Wrap(c, live.Client, reg, "test")
		}, nil)
		served := smuxtest.EchoSmux(srv)
		for j := range requests {
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			req := fmt.Sprintf("req %d.%d", i, j)
			if _, err := st.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(req))
			if _, err := io.ReadFull(st, got); err != nil || string(got) != req {
				t.Fatalf("answer %q, %v; want %q", got, err, req)
			}
			replies++
			st.Close()
		}
		cli.Close()
		srv.Close()
		<-served
	}
	smuxtest.Eventually(t, "every session ended, all but 2 forgotten", func() bool {
		snap := reg.Snapshot()
		return snap.Forgotten.Sessions == sessions-2 && len(snap.Sessions) == 2 && snap.Sessions[0].Ended && snap.Sessions[1].Ended
	})

	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(metrics.NewCollector(reg, metrics.Options{}))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metric uint64
	for _, mf := range mfs {
		if mf.GetName() == "muxtop_first_reply_latency_seconds" {
			metric = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if metric != uint64(replies) {
		t.Errorf("muxtop_first_reply_latency_seconds_count %d, the clients got %d replies", metric, replies)
	}

	var plain bytes.Buffer
	if _, err := NewPrinter(reg, &plain, Plain).Finish(Options{Format: Plain}); err != nil {
		t.Fatal(err)
	}
	line := ""
	for l := range strings.Lines(plain.String()) {
		if strings.HasPrefix(l, "  latency ") {
			line = strings.TrimSuffix(l, "\n")
		}
	}
	if want := fmt.Sprintf("over %d streams;", replies); !strings.Contains(line, want) {
		t.Errorf("latency line %q, want %q: the replies the clients got, the metric's %d", line, want, metric)
	}
	if want := "slowest p99 of the 2 sessions still tracked:"; !strings.Contains(line, want) {
		t.Errorf("latency line %q, want %q", line, want)
	}

	var out bytes.Buffer
	if _, err := NewPrinter(reg, &out, JSON).Finish(Options{Format: JSON}); err != nil {
		t.Fatal(err)
	}
	last := out.Bytes()[bytes.LastIndexByte(bytes.TrimSpace(out.Bytes()), '\n')+1:]
	var sum struct {
		Latency struct {
			Streams   uint64            `json:"streams"`
			Untracked uint64            `json:"untracked"`
			Sessions  []json.RawMessage `json:"sessions"`
		} `json:"latency"`
	}
	if err := json.Unmarshal(last, &sum); err != nil {
		t.Fatalf("summary %s: %v", last, err)
	}
	if l := sum.Latency; l.Streams != uint64(replies) || l.Untracked != sessions-2 || len(l.Sessions) != 2 {
		t.Errorf("JSON latency streams %d, untracked %d, %d sessions listed; want %d, %d, 2:\n%s", l.Streams, l.Untracked, len(l.Sessions), replies, sessions-2, last)
	}
}
