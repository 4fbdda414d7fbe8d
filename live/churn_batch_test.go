package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestChurnBatchWords: 300 sessions dialed within 3 s, all open at once,
// and closed together at 5 s, as a capture of one batch of concurrent
// yamux clients shows (many_yamux.pcap). CHURN's count is true, but it
// guessed "a client redialing in a loop": a single batch is no loop, and
// the text now says the sessions were all open at once. As its window
// slides past them its count falls (sniff's end summary quoted "61
// sessions…", its last update): the text keeps the peak beside it.
func TestChurnBatchWords(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := live.FindingsConfig{Churn: 20}
	var ss []*live.Session
	for i := range 300 {
		ss = append(ss, reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2"}, t0.Add(time.Duration(i)*10*time.Millisecond)))
	}
	for _, s := range ss {
		s.End(sec(5), live.LocalClose, nil)
	}
	reg.Evaluate(sec(5.1), cfg)
	recs := expect(t, reg, "+CHURN")
	f := recs[0].Finding
	if f.Evidence.Count != 300 || !strings.Contains(f.Text, "all of them open at once") || strings.Contains(f.Text, "redialing in a loop") {
		t.Errorf("a batch: count %d, text %q: want 300, all open at once, no loop", f.Evidence.Count, f.Text)
	}
	// 12 s: the window holds the 100 sessions that started from 2 s on.
	reg.Evaluate(sec(12), cfg)
	fs := reg.Snapshot().Findings
	if len(fs) != 1 || fs[0].Evidence.Count != 100 || !strings.HasPrefix(fs[0].Text, "100 sessions opened and ended in the last 10 s (300 at the peak)") {
		t.Errorf("later: %d findings, %+v: want CHURN of 100 with its peak of 300", len(fs), fs)
	}
}
