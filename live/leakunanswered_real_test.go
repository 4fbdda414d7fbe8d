package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// leakWordsCfg is the LEAK-words tests' findings config: leaks at 1 s.
var leakWordsCfg = live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}

// TestLeakOfUnansweredStreamReal: on real smux v2 and hashicorp/yamux
// sessions, keepalive on (every 100 ms), the client's conn tapped, after a
// request served and closed both ways (so that the next streams are no
// setup streams), the client sends a request on a stream of its own; the
// server's handler accepts it (yamux: its ACK), reads the request (smux
// v2: its UPD) and hangs: it never writes back, never closes. Its mux's
// frame took the stream off UNANSWERED's wait, and the stream is a LEAK
// at --leak-after, as before; but its words said only "a side forgot
// Close()", untrue of a handler that hangs before its answer. The LEAK
// now says the stream carried the client's bytes and none back, and
// its advice adds the goroutine dump that tells the two apart. Where the
// client half-closes its stream, the LEAK is the server's ("never closes
// its streams"), worded alike; with no payload kept (Snaplen -1) too. The
// twins keep the leak's own words: a server that answers and never
// closes; one that closes its side unanswered (the client's Close is the
// one missing); a download, the client's stream opened with no request,
// the server's bytes and its FIN, the client never closing (the client
// owes no answer).
func TestLeakOfUnansweredStreamReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	type leakCase struct {
		name                     string
		hang, half, noSnap       bool
		answer, closes, download bool
	}
	cases := []leakCase{
		{name: "hangs", hang: true},
		{name: "hangs-client-half-closed", hang: true, half: true},
		{name: "hangs-no-payload-kept", hang: true, noSnap: true},
		{name: "answers-never-closes", answer: true},
		{name: "server-closes-unanswered", closes: true},
		{name: "download-client-never-closes", download: true},
	}
	for _, name := range []string{"smux-v2", "yamux"} {
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				cfg := live.Config{}
				if c.noSnap {
					cfg.Snaplen = -1
				}
				reg := live.New(cfg)
				m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: time.Minute})
				leakWarm(t, m, reg)
				req, ans := "REQ 1\n", ""
				if c.download {
					req = "" // opening the stream is the request
				}
				if c.answer {
					ans = "ANS 1\n"
				}
				st, srv := leakAsk(t, m, req, ans)
				switch {
				case c.closes:
					srv.Close() // its FIN: the handler returned; the client never closes
				case c.download:
					io.WriteString(srv, "FILE CONTENTS\n")
					srv.Close()
					if _, err := io.ReadAll(st); err != nil {
						t.Fatal(err)
					}
				}
				if c.half {
					if err := closeWrite(st); err != nil {
						t.Fatal(err)
					}
				}
				// The handler keeps srv, neither written (but for the
				// answer) nor closed; the sessions close at the end.
				var leak *live.Finding
				for end := time.Now().Add(15 * time.Second); leak == nil && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
					reg.Evaluate(time.Now(), leakWordsCfg)
					if ls := leaksOf(reg); len(ls) > 0 {
						leak = ls[0]
					}
				}
				if leak == nil {
					t.Fatalf("no LEAK within 15 s; records:%s", describeRecords(findingRecords(reg)))
				}
				t.Logf("%s: %s — %s", leak.Code, leak.Text, leak.Advice)
				if !c.hang {
					if strings.Contains(leak.Text, "none back") || strings.Contains(leak.Advice, "goroutine dump") ||
						!strings.Contains(leak.Advice, "Close()") {
						t.Errorf("text %q, advice %q: want the leak's own words", leak.Text, leak.Advice)
					}
					return
				}
				words := fmt.Sprintf("; stream %d carried the client's bytes and none back from the server", leak.Stream)
				dump := fmt.Sprintf("; stream %d got no byte back: if the server should have answered it, its handler may hang before its answer", leak.Stream)
				closeAdvice := "if they are not meant to live this long, a side forgot Close()"
				if c.half {
					closeAdvice = "call Close() on the server's stream when it is done"
				}
				if !strings.HasSuffix(leak.Text, words) || !strings.HasPrefix(leak.Advice, closeAdvice) || !strings.Contains(leak.Advice, dump) ||
					!strings.Contains(leak.Advice, "goroutine dump of the server") {
					t.Errorf("text %q\nadvice %q\nwant %q at the text's end, the advice %q… and %q", leak.Text, leak.Advice, words, closeAdvice, dump)
				}
				if c.half != leak.HasDir {
					t.Errorf("LEAK has a direction %v, want %v: %s", leak.HasDir, c.half, leak.Text)
				}
			})
		}
	}
}

// leakWarm serves one request on m before the test's own, answered and
// closed both ways: a session that has served before, whose later
// streams are no setup streams, as a server's at 2 a.m.
func leakWarm(t *testing.T, m livecaptest.Pair, reg *live.Registry) {
	t.Helper()
	st, srv := leakAsk(t, m, "WARM\n", "OK\n")
	srv.Close()
	st.Close()
	smuxtest.Eventually(t, "the warm-up stream closed both ways", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].Open == 0 && ss[0].Counts.FramesDir(live.ServerToClient) > 0
	})
}

// TestLeakToldNewOldestReal: a real yamux session, keepalive on, leaks
// two streams, the oldest answered and the other not; the oldest then
// closes both ways and a third, unanswered, leaks in its place: the
// count stays 2, but the LEAK's oldest stream, its first bytes and its
// words change, and a FindingUpdated record says so. Before, a change
// was told only of the count, and the JSON's records kept the first
// oldest stream's sid and words while the UI showed the new.
func TestLeakToldNewOldestReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	reg := live.New(live.Config{})
	m := livecaptest.RealPair(t, "yamux", reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: time.Minute})
	leakWarm(t, m, reg)
	type pair struct{ cli, srv io.Closer }
	ask := func(answer bool) pair {
		t.Helper()
		ans := ""
		if answer {
			ans = "ANS 1\n"
		}
		st, srv := leakAsk(t, m, "REQ 1\n", ans)
		return pair{st, srv}
	}
	leakOf := func(count uint64) *live.Finding {
		t.Helper()
		for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			reg.Evaluate(time.Now(), leakWordsCfg)
			if ls := leaksOf(reg); len(ls) == 1 && ls[0].Evidence.Count == count {
				return ls[0]
			}
		}
		t.Fatalf("no LEAK of %d streams within 15 s; records:%s", count, describeRecords(findingRecords(reg)))
		return nil
	}
	first := ask(true)
	ask(false)
	was := leakOf(2)
	// The count of 2 told, its oldest stream with it: a count's change
	// is told at most once per UpdateEvery.
	told := func() int {
		for i, r := range allRecords(reg) {
			if r.Finding != nil && r.Finding.Code == live.CodeLeak && r.Finding.Evidence.Count == 2 && r.Finding.Stream == was.Stream {
				return i
			}
		}
		return -1
	}
	for end := time.Now().Add(5 * time.Second); told() < 0 && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		reg.Evaluate(time.Now(), leakWordsCfg)
	}
	from := told()
	if from < 0 {
		t.Fatalf("no record told the LEAK of 2 streams, the oldest %d:%s", was.Stream, describeRecords(findingRecords(reg)))
	}
	first.srv.Close()
	first.cli.Close()
	asked := time.Now()
	ask(false)
	// The closed stream leaves, the new one joins the count as it crosses
	// --leak-after: 2 again, the oldest now the first unanswered one. No
	// evaluation runs in between, so that the count never drops to 1 (a
	// count's change is told on its own): only the oldest stream's change
	// can tell this one.
	sleepUntil(asked.Add(leakWordsCfg.LeakAfter + 200*time.Millisecond))
	var now *live.Finding
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		reg.Evaluate(time.Now(), leakWordsCfg)
		if ls := leaksOf(reg); len(ls) == 1 && ls[0].Evidence.Count == 2 && ls[0].Stream != was.Stream {
			now = ls[0]
			break
		}
	}
	if now == nil {
		t.Fatalf("the LEAK's oldest stream did not change from %d at a count of 2; records:%s", was.Stream, describeRecords(findingRecords(reg)))
	}
	time.Sleep(live.UpdateEvery) // a change is told at most once per UpdateEvery
	reg.Evaluate(time.Now(), leakWordsCfg)
	var leakRecs []live.Record
	for _, r := range allRecords(reg)[from:] {
		if r.Finding != nil && r.Finding.Code == live.CodeLeak {
			leakRecs = append(leakRecs, r)
		}
	}
	for _, r := range leakRecs {
		if r.Finding.Evidence.Count != 2 {
			t.Fatalf("a LEAK record of %d streams: the count changed, and the test proves nothing of a change at the same count:%s",
				r.Finding.Evidence.Count, describeRecords(leakRecs))
		}
	}
	for _, r := range leakRecs {
		if r.Kind == live.FindingUpdated && r.Finding.Stream == now.Stream {
			if !strings.Contains(r.Finding.Text, "none back from the server") {
				t.Errorf("the update's text %q: want the new oldest stream's words", r.Finding.Text)
			}
			return
		}
	}
	t.Errorf("the LEAK's oldest stream changed from %d to %d, its words with it (%q), and no record told it:%s",
		was.Stream, now.Stream, now.Text, describeRecords(leakRecs))
}

// leakAsk opens a stream on m's client and writes req on it (none where
// req is empty: the opening asks), accepts it on the server, which reads
// req and writes ans (none where it is empty), which the client reads;
// it returns both ends, open.
func leakAsk(t *testing.T, m livecaptest.Pair, req, ans string) (cli, srv net.Conn) {
	t.Helper()
	cli, err := m.Cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if req != "" {
		if _, err := io.WriteString(cli, req); err != nil {
			t.Fatal(err)
		}
	}
	if srv, err = m.Srv.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(srv, make([]byte, len(req))); err != nil {
		t.Fatal(err)
	}
	if ans != "" {
		if _, err := io.WriteString(srv, ans); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cli, make([]byte, len(ans))); err != nil {
			t.Fatal(err)
		}
	}
	return cli, srv
}
