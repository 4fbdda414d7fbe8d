package metrics_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// TestFindingsOpenBySeverity: muxtop_findings_open's severity is the
// finding's, as the summary's findings_open and the header count it: a
// PROTOCOL finding of a connection whose two ends speak HTTP to each
// other is a warning (no mux there), not a critical one.
func TestFindingsOpenBySeverity(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	c := tap.Wrap(cc, live.Client, reg, "test")
	req, resp := "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	io.ReadFull(sc, make([]byte, len(req)))
	go sc.Write([]byte(resp))
	if _, err := io.ReadFull(c, make([]byte, len(resp))); err != nil {
		t.Fatal(err)
	}
	reg.Evaluate(time.Now(), live.FindingsConfig{Churn: -1})
	snap := reg.Snapshot()
	if len(snap.Findings) != 1 || snap.Findings[0].Severity != live.Warning || snap.FindingCounts[live.Warning] != 1 {
		t.Fatalf("findings %v, counts %v: want one PROTOCOL warning", snap.Findings, snap.FindingCounts)
	}
	m := scrape(t, metrics.NewCollector(reg, metrics.Options{}))
	if w, c := m["muxtop_findings_open{code=PROTOCOL,severity=warning}"], m["muxtop_findings_open{code=PROTOCOL,severity=critical}"]; w != 1 || c != 0 {
		t.Errorf("muxtop_findings_open PROTOCOL: %v warning, %v critical; want 1 warning, as the finding is", w, c)
	}
}

// TestFindingsOpenedBySeverityAtOpening: muxtop_findings_opened_total
// counts a finding under the severity it opened with, and keeps it there
// when the severity changes; muxtop_findings_resolved_total counts it
// under the one it had as it resolved. Two sessions of an HTTP client
// and server: in one the evaluation sees the request before the answer
// (PROTOCOL opens critical, and becomes a warning), in the other both
// (it opens a warning). Before, both counted under the code's own
// severity, critical, and nothing counted resolutions.
func TestFindingsOpenedBySeverityAtOpening(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := live.FindingsConfig{Churn: -1}
	req, resp := "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	now := time.Now()
	var taps []*tap.Conn
	for i := range 2 {
		cc, sc := smuxtest.Conns(t)
		c := tap.Wrap(cc, live.Client, reg, "test")
		taps = append(taps, c)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		io.ReadFull(sc, make([]byte, len(req)))
		if i == 0 {
			reg.Evaluate(now, cfg) // only the client has spoken: critical
		}
		go sc.Write([]byte(resp))
		if _, err := io.ReadFull(c, make([]byte, len(resp))); err != nil {
			t.Fatal(err)
		}
	}
	reg.Evaluate(now.Add(100*time.Millisecond), cfg)
	col := metrics.NewCollector(reg, metrics.Options{})
	wantScraped(t, "", scrape(t, col), map[string]float64{
		"muxtop_findings_opened_total{code=PROTOCOL,severity=critical}": 1,
		"muxtop_findings_opened_total{code=PROTOCOL,severity=warning}":  1,
		"muxtop_findings_open{code=PROTOCOL,severity=critical}":         0,
		"muxtop_findings_open{code=PROTOCOL,severity=warning}":          2,
	})
	for _, c := range taps {
		c.Close()
	}
	reg.Evaluate(time.Now(), cfg)
	wantScraped(t, "after the end, ", scrape(t, col), map[string]float64{
		"muxtop_findings_resolved_total{code=PROTOCOL,severity=critical}": 0,
		"muxtop_findings_resolved_total{code=PROTOCOL,severity=warning}":  2,
		"muxtop_findings_opened_total{code=PROTOCOL,severity=critical}":   1,
		"muxtop_findings_open{code=PROTOCOL,severity=warning}":            0,
	})
}

// wantScraped fails the test for each series of want whose value in the
// scrape m is not the one wanted; when begins each message.
func wantScraped(t *testing.T, when string, m, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s%s = %v, want %v", when, k, m[k], w)
		}
	}
}
