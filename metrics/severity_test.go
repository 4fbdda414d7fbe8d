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
