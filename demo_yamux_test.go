package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// checkYamuxConsistent is checkConsistent for a yamux demo: every stream
// the client opened carries the client's SYN, the service's ACK, one RAND
// and one 8-byte answer and a FIN each way — except the requests the
// shutdown cut short, which are exactly the streams the summary says
// ended with their session — and no violations, drops or anomalies.
func checkYamuxConsistent(t *testing.T, c capture, pool int) {
	t.Helper()
	checkPoolSessions(t, c, pool)
	type key struct{ session, sid float64 }
	type stream struct {
		syn, ack, rand, answer, fin [2]int
		// finFirst: the client's FIN came before any frame of the
		// service's, as when a request timed out and the gateway closed
		// its stream. yamux then never ACKs: a FIN moves a stream it has
		// not accepted from SYN-received to remote-closed, and only a
		// SYN-received stream's first frame carries ACK (stream.go,
		// sendFlags).
		finFirst bool
		s2c      int
	}
	streams := map[key]*stream{}
	// A FIN recorded after its session ended (a write racing the
	// shutdown's Close) does not close the stream: it ended with the
	// session, as the summary counts it.
	endSeq := map[float64]float64{}
	for _, o := range c.other {
		if o["type"] == "session-ended" {
			endSeq[o["session"].(float64)] = o["seq"].(float64)
		}
	}
	for _, f := range c.frames {
		if f["proto"] != "yamux" {
			t.Fatalf("a frame of a yamux demo says proto %v: %v", f["proto"], f)
		}
		if f["cmd"] == "PING" || f["cmd"] == "GO_AWAY" {
			continue
		}
		k := key{f["session"].(float64), f["sid"].(float64)}
		st := streams[k]
		if st == nil {
			st = &stream{}
			streams[k] = st
		}
		d := 0
		if f["dir"] == "s2c" {
			d = 1
			if st.s2c == 0 && st.fin[0] > 0 {
				st.finFirst = true
			}
			st.s2c++
		}
		flags, _ := f["flags"].(string)
		for _, fl := range strings.Split(flags, "|") {
			switch fl {
			case "SYN":
				st.syn[d]++
			case "ACK":
				st.ack[d]++
			case "FIN":
				if end, ok := endSeq[k.session]; !ok || f["seq"].(float64) < end {
					st.fin[d]++
				}
			}
		}
		if f["cmd"] == "DATA" && f["len"].(float64) > 0 {
			if d == 0 {
				st.rand[d]++
			} else {
				st.answer[d]++
			}
		}
	}
	var complete, cut uint64
	for k, st := range streams {
		if st.syn != [2]int{1, 0} || st.ack[0] != 0 || st.ack[1] > 1 || st.rand[0] > 1 || st.answer[1] > 1 {
			t.Errorf("session %v stream %v: %+v, want one SYN from the client, at most one ACK, RAND and answer", k.session, k.sid, *st)
		}
		if st.fin == [2]int{1, 1} {
			complete++
			if st.rand[0] != 1 || st.answer[1] != 1 || (st.ack[1] != 1 && !st.finFirst) {
				t.Errorf("closed stream %v of session %v: %+v, want an ACK, a RAND and an answer", k.sid, k.session, *st)
			}
		} else {
			cut++
		}
	}
	if complete == 0 {
		t.Fatal("no request completed")
	}
	closed, ended := uint64(c.summary["streams_closed"].(float64)), uint64(c.summary["streams_ended"].(float64))
	if complete != closed || cut != ended {
		t.Errorf("streams complete %d cut %d, summary says closed %d ended %d", complete, cut, closed, ended)
	}
	if v := c.summary["violations"].(float64) + c.summary["anomalies"].(float64); v != 0 {
		var named []map[string]any
		for _, r := range append(c.other, c.frames...) {
			if r["type"] == "violation" || r["anomaly"] != nil {
				named = append(named, r)
			}
		}
		t.Errorf("violations+anomalies = %v, want 0: %v", v, named)
	}
	if d := c.summary["dropped"].(float64) + c.summary["missed"].(float64); d != 0 {
		t.Errorf("dropped+missed = %v, want 0", d)
	}
}

func TestDemoYamuxJSON(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	const pool = 4
	c, mine := runDemoJSON(t, 3*time.Second, 20, "--protocol", "yamux", "--pool", fmt.Sprint(pool), "--rate", "50")
	checkYamuxConsistent(t, c, pool)
	nums := c.serverNumbers(t)
	for _, n := range mine {
		if !nums[n] {
			t.Errorf("HTTP answered %d, which no server DATA carried", n)
		}
	}
	for _, o := range c.other {
		if o["type"] == "session-ended" && o["proto"] != "yamux" {
			t.Errorf("session-ended of a yamux demo: %v", o)
		}
	}
}

func TestDemoYamuxPlain(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	// The demo runs until its output shows sid 1's SYN, request and ACK,
	// then stops, and prints its summary: a fixed --duration 1s showed
	// none of them where a loaded machine started the load late.
	frames := []string{"→ WINDOW_UPDATE SYN sid 1 delta 0", "→ DATA sid 1 len 4  52 41 4e 44  RAND", "← WINDOW_UPDATE ACK sid 1 delta 0"}
	out, stderr := runDemoUntil(t, "sid 1's SYN, request and ACK", func(out string) bool { return containsAll(out, frames) },
		"--protocol", "yamux", "--output", "plain", "--pool", "2", "--rate", "20")
	for _, want := range append(frames, "            DATA ", "            WINDOW_UPDATE ", "violations 0 framing, 0 anomalies") {
		if !strings.Contains(out, want) {
			t.Errorf("plain output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "yamux") && !strings.Contains(stderr, "demo gateway at") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestDemoYamuxTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processes for seconds")
	}
	t.Parallel() // two processes on a port of their own
	const pool = 3
	c, s, mine := runDemoPair(t, pool, "--protocol", "yamux", "--blocked-after", "1s", "--unanswered-after", "1s")
	checkYamuxConsistent(t, c, pool)
	if got := len(s.sessions); got != pool {
		t.Errorf("server saw %d sessions, want %d", got, pool)
	}
	// The server outlives the client, so it saw every frame the client wrote.
	for _, cmd := range []string{"DATA", "WINDOW_UPDATE"} {
		if got, want := s.count("c2s", cmd), c.count("c2s", cmd); got != want {
			t.Errorf("server saw %d c2s %s, client wrote %d", got, cmd, want)
		}
	}
	nums := s.serverNumbers(t)
	for _, n := range mine {
		if !nums[n] {
			t.Errorf("HTTP answered %d, which the server's tap never saw sent", n)
		}
	}
}

// TestDemoYamuxRefusesFaults: a fault with no yamux meaning is refused
// in one line that says why.
func TestDemoYamuxRefusesFaults(t *testing.T) {
	for _, tc := range []struct{ fault, want string }{
		{"hol", "--fault hol has no meaning over yamux: yamux has no session-wide receive buffer"},
		{"after-close", "--fault after-close has no meaning over yamux: yamux's Close is a half-close"},
	} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), []string{"demo", "--protocol", "yamux", "--fault", tc.fault, "--output", "plain", "--duration", "1s"}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
			t.Errorf("exit %d, stderr %q; want 2 and one line saying %q", code, stderr.String(), tc.want)
		}
	}
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"demo", "--fault", "goaway", "--output", "plain", "--duration", "1s"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--fault goaway has no meaning over smux: smux has no GoAway") {
		t.Errorf("smux demo with --fault goaway: exit %d, stderr %q", code, stderr.String())
	}
}

// containsAll says whether s contains every one of wants.
func containsAll(s string, wants []string) bool {
	for _, w := range wants {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
