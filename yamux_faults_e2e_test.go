package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// streamSYN returns the frame that opened stream sid of session: DATA or
// WINDOW_UPDATE with SYN (a PING's SYN asks for an answer, it opens
// nothing).
func streamSYN(recs []map[string]any, session, sid float64) map[string]any {
	for _, m := range ofType(recs, "frame") {
		flags, _ := m["flags"].(string)
		if m["session"] == session && m["sid"] == sid && m["cmd"] != "PING" && strings.Contains(flags, "SYN") {
			return m
		}
	}
	return nil
}

// inYamuxWords fails if a finding of a yamux session is not worded for
// yamux.
func inYamuxWords(t *testing.T, f map[string]any) {
	t.Helper()
	if f["proto"] != nil && f["proto"] != "yamux" {
		t.Errorf("finding of proto %v, want yamux: %v", f["proto"], f)
	}
	for _, key := range []string{"text", "advice"} {
		if s, _ := f[key].(string); strings.Contains(s, "smux") {
			t.Errorf("finding %s speaks of smux in a yamux demo: %q", key, s)
		}
	}
}

var yamuxFaultCases = []faultCase{
	{name: "leak", args: []string{"--leak-after", "2s"}, code: "LEAK", limit: 2*time.Second + time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s := f["session"].(float64)
			if sessionsLabelled(recs, "demo")[s] == nil {
				t.Errorf("LEAK names session %v, not a pool session", s)
			}
			wantField(t, f, "dir", "s2c") // the server never sent FIN
			inYamuxWords(t, f)
			syn := streamSYN(recs, s, f["sid"].(float64))
			if syn == nil {
				t.Fatalf("no SYN of stream %v of session %v", f["sid"], s)
			}
			wantField(t, f, "since", syn["time"])
			if !strings.HasPrefix(f["text"].(string), "the server never closes its streams: ") {
				t.Errorf("text %q", f["text"])
			}
			return timeOf(t, f, "since"), "the oldest stream's SYN, with --leak-after 2s"
		}},
	{name: "stall", code: "WINDOW_STALL", limit: time.Second + time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			bulk := firstPayload(recs, s, "c2s", "BULK")
			if bulk == nil {
				t.Fatal("no BULK request in the fault session")
			}
			wantField(t, f, "sid", bulk["sid"])
			wantField(t, f, "dir", "s2c")
			wantField(t, f, "bytes", 262144.0) // yamux's initial window
			inYamuxWords(t, f)
			return timeOf(t, bulk, "time"), "the BULK request, with --stall-after 1s"
		}},
	{name: "blocked", code: "SESSION_BLOCKED", limit: 200*time.Millisecond + time.Second + 1500*time.Millisecond,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			frze := firstPayload(recs, s, "c2s", "FRZE")
			if frze == nil {
				t.Fatal("no FRZE request in the fault session")
			}
			wantField(t, f, "dir", "c2s")
			// One of the streams opened after the freeze, each sent a
			// full window.
			if sid := f["sid"].(float64); sid <= frze["sid"].(float64) || streamSYN(recs, s, sid) == nil {
				t.Errorf("SESSION_BLOCKED names stream %v, not one opened after FRZE (stream %v)", sid, frze["sid"])
			}
			wantField(t, f, "bytes", 262144.0)
			inYamuxWords(t, f)
			wantField(t, f, "sign", "write")
			if !strings.Contains(f["text"].(string), "the server stopped reading the connection") {
				t.Errorf("text %q", f["text"])
			}
			return timeOf(t, frze, "time"), "the FRZE request, 200 ms before the writes, with --blocked-after 1s"
		}},
	{name: "mismatch", code: "PROTOCOL", limit: time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			// A session of the gateway's pool, the one speaking smux: the
			// others speak yamux and answer.
			s := f["session"].(float64)
			opened := sessionsLabelled(recs, "demo")[s]
			if opened == nil {
				t.Fatalf("PROTOCOL names session %v, not a pool session", s)
			}
			wantField(t, f, "dir", "c2s")
			wantField(t, f, "offset", 0.0)
			wantField(t, f, "guess", "smux-v1")
			wantField(t, f, "violation", "BAD_VERSION")
			if !strings.Contains(f["text"].(string), "speaks smux, not yamux") {
				t.Errorf("text %q", f["text"])
			}
			// The yamux service hung up on the smux header: the ends differ,
			// and muxtop's --protocol is not in question.
			if a := f["advice"].(string); !strings.HasPrefix(a, "fix the client's address or protocol") {
				t.Errorf("advice %q", a)
			}
			mismatched := map[float64]bool{}
			for _, m := range ofType(recs, "violation") {
				if m["dir"] == "c2s" && m["code"] == "BAD_VERSION" {
					mismatched[m["session"].(float64)] = true
				}
			}
			if !mismatched[s] {
				t.Errorf("session %v, which the finding names, has no BAD_VERSION violation", s)
			}
			answered := 0
			for _, m := range ofType(recs, "frame") {
				if m["dir"] == "s2c" && m["cmd"] == "DATA" && !mismatched[m["session"].(float64)] {
					answered++
				}
			}
			if answered == 0 {
				t.Error("no other pool session answered: the demo stopped serving")
			}
			for _, m := range ofType(recs, "finding-opened") {
				if !mismatched[m["session"].(float64)] {
					t.Errorf("a finding names session %v, which speaks yamux: %v", m["session"], m["text"])
				}
			}
			return timeOf(t, opened, "time"), "the session's start"
		}},
	// --leak-after 1s: the FRZE stream, left open by the frozen service,
	// grows older than it before KEEPALIVE opens; it is KEEPALIVE's, not a LEAK.
	{name: "keepalive", code: "KEEPALIVE", args: []string{"--leak-after", "1s"},
		limit: live.SilenceLimit(time.Second) + time.Second, // --keepalive 1s
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			wantField(t, f, "dir", "s2c")
			inYamuxWords(t, f)
			wantCadence(t, f, time.Second)
			if p, ok := f["ping"].(float64); ok && p < live.PingAnswerLimit.Seconds() {
				t.Errorf("KEEPALIVE opened by a ping that waited %v s, under PingAnswerLimit: %v", p, f)
			}
			frze := firstPayload(recs, s, "c2s", "FRZE")
			if frze == nil {
				t.Fatal("no FRZE request in the fault session")
			}
			for _, m := range ofType(recs, "finding-opened") {
				if m["dir"] != "s2c" {
					t.Errorf("a KEEPALIVE for %v, whose keepalive waits for its ping's answer: %v", m["dir"], m["text"])
				}
			}
			// The frozen service's own keepalive gives up at about the
			// same time as the client's (its pings cannot go out): where
			// its FIN came first, the end says that the silent server
			// closed first (ecfc7dc), not which keepalive acted.
			for _, m := range ofType(recs, "session-ended") {
				if d, _ := m["detail"].(string); m["session"] == s && !strings.Contains(d, "(KEEPALIVE): yamux's keepalive ends") && !strings.Contains(d, "the server, silent for ") {
					t.Errorf("session-ended %v says neither that keepalive ended it nor that the silent server closed first", m)
				}
			}
			return timeOf(t, frze, "time"), "the FRZE request, with --keepalive 1s"
		},
		until: faultSessionEnded},
	{name: "backlog", code: "UNANSWERED", limit: time.Second + time.Second + time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			hold := firstPayload(recs, s, "c2s", "HOLD")
			if hold == nil {
				t.Fatal("no HOLD request in the fault session")
			}
			first := hold["sid"].(float64) + 2 // the first stream the service does not accept (ACK)
			wantField(t, f, "sid", first)
			wantField(t, f, "dir", "c2s")
			inYamuxWords(t, f)
			if !strings.Contains(f["text"].(string), "got no ACK") {
				t.Errorf("text %q", f["text"])
			}
			return timeOf(t, f, "since"), "the first unaccepted stream's SYN, with --unanswered-after 1s and --keepalive 1s"
		}},
	{name: "protocol", code: "PROTOCOL", limit: time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			_, opened := theFault(t, recs, f)
			wantField(t, f, "guess", "http-request")
			wantField(t, f, "dir", "c2s")
			wantField(t, f, "offset", 0.0)
			inYamuxWords(t, f)
			if !strings.Contains(f["text"].(string), "not yamux") || !strings.Contains(f["text"].(string), "to the yamux port") {
				t.Errorf("text %q", f["text"])
			}
			return timeOf(t, opened, "time"), "the session's start"
		}},
	{name: "churn", code: "CHURN", limit: 1500 * time.Millisecond,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			if _, ok := f["session"]; ok {
				t.Errorf("CHURN names session %v", f["session"])
			}
			n := 0
			faults := sessionsLabelled(recs, "fault")
			for _, m := range ofType(recs, "session-ended") {
				if faults[m["session"].(float64)] != nil {
					if m["proto"] != "yamux" {
						t.Errorf("a churned session of proto %v: %v", m["proto"], m)
					}
					if n++; n == 10 {
						return timeOf(t, m, "time"), "the 10th redialled session's end, with --churn 10"
					}
				}
			}
			t.Fatal("fewer than 10 fault sessions ended")
			return time.Time{}, ""
		}},
	{name: "goaway", code: "GO_AWAY", limit: time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			goaw := firstPayload(recs, s, "c2s", "GOAW")
			if goaw == nil {
				t.Fatal("no GOAW request in the fault session")
			}
			wantField(t, f, "dir", "s2c")
			wantField(t, f, "goaway_code", 0.0)
			wantField(t, f, "severity", "warning") // a drain: open streams go on
			inYamuxWords(t, f)
			sent := false
			for _, m := range ofType(recs, "frame") {
				if m["session"] == s && m["dir"] == "s2c" && m["cmd"] == "GO_AWAY" && m["len"] == 0.0 {
					sent = true
				}
			}
			if !sent {
				t.Error("no GO_AWAY frame (normal) from the server in the fault session")
			}
			return timeOf(t, goaw, "time"), "the GOAW request"
		}},
}

// TestYamuxFaultsDiagnosed is TestFaultsDiagnosed over yamux: for every
// fault with a yamux meaning, the real binary running muxtop demo
// --protocol yamux opens the right finding within its stated time, naming
// the right session and stream, in yamux's words, and no other finding.
func TestYamuxFaultsDiagnosed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop for seconds per fault")
	}
	t.Parallel()
	for _, tc := range yamuxFaultCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, tc, []string{"demo", "--protocol", "yamux", "--fault", tc.name})
		})
	}
}

// TestYamuxBlockedThroughAttach: between a yamux client that writes to a
// frozen service and the service, the attach proxy's own write is what
// blocks; it names the session and one of the streams written after the
// freeze, in yamux's words.
func TestYamuxBlockedThroughAttach(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes for seconds")
	}
	t.Parallel()
	upstream, listen := freePort(t), freePort(t)
	srv := startRun(t, "demo", "server", "--protocol", "yamux", "--listen", upstream, "--duration", "40s")
	srv.waitStderr(regexp.MustCompile(regexp.QuoteMeta("listening on " + upstream)))
	proxy := startRun(t, "attach", upstream, "--listen", listen, "--duration", "40s", "--blocked-after", "1s")
	proxy.waitStderr(regexp.MustCompile(regexp.QuoteMeta("clients connect to " + listen)))
	cli := startRun(t, "demo", "client", "--protocol", "yamux", "--connect", listen, "--http", "127.0.0.1:0", "--pool", "2",
		"--rate", "20", "--duration", "40s", "--fault", "blocked")
	proxy.waitFor("SESSION_BLOCKED", 20*time.Second, func(recs []map[string]any) bool { return firstFinding(recs, "SESSION_BLOCKED") != nil })
	time.Sleep(time.Second)
	cli.stop()
	srv.stop()
	recs := proxy.stop()
	f := firstFinding(recs, "SESSION_BLOCKED")
	s := f["session"].(float64)
	frze := firstPayload(recs, s, "c2s", "FRZE")
	if frze == nil {
		t.Fatalf("the finding names session %v, which sent no FRZE: %v", s, f)
	}
	wantField(t, f, "dir", "c2s")
	wantField(t, f, "sign", "write") // the proxy's
	if sid := f["sid"].(float64); sid <= frze["sid"].(float64) || streamSYN(recs, s, sid) == nil {
		t.Errorf("SESSION_BLOCKED names stream %v, not one opened after FRZE (stream %v)", sid, frze["sid"])
	}
	inYamuxWords(t, f)
	took := timeOf(t, f, "time").Sub(timeOf(t, frze, "time"))
	t.Logf("SESSION_BLOCKED opened %v after the FRZE request, through attach: %s", took.Round(time.Millisecond), f["text"])
	if took > 2700*time.Millisecond+evalSlack {
		t.Errorf("SESSION_BLOCKED opened %v after the FRZE request, want within 2.7 s (and %v for a loaded machine)", took, evalSlack)
	}
	for _, m := range ofType(recs, "finding-opened") {
		if m["code"] != "SESSION_BLOCKED" {
			t.Errorf("another finding opened: %s %v: %v", m["code"], m["session"], m["text"])
		}
	}
}

// TestYamuxKeepaliveFaultAtDefaults runs the keepalive fault over yamux at
// yamux's default keepalive (30 s) and muxtop's default --leak-after
// (30 s): the service freezes the fault session as it begins, with the
// FRZE stream open; the client's first ping, 30 s in, gets no answer,
// and yamux ends the session ConnectionWriteTimeout (10 s) later.
// KEEPALIVE opens for the server PingAnswerLimit after that ping, before
// the session ends, and no LEAK says a side forgot Close for the FRZE
// stream: the frozen server left it open. Before, LEAK opened at 30 s
// and KEEPALIVE never did: its 1.5 "intervals" of silence, 45 s, came
// after yamux had ended the session. The pool's healthy sessions, which
// ping and answer at the defaults, open nothing.
func TestYamuxKeepaliveFaultAtDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop for 45 s")
	}
	t.Parallel()
	r := startRun(t, "demo", "--protocol", "yamux", "--fault", "keepalive", "--pool", "2", "--rate", "20", "--duration", "60s")
	r.waitFor("the fault session's end", 55*time.Second, faultSessionEnded)
	time.Sleep(1500 * time.Millisecond) // time for another finding to show, if one would
	recs := r.stop()
	f := firstFinding(recs, "KEEPALIVE")
	if f == nil {
		t.Fatal("no KEEPALIVE before yamux ended the frozen session")
	}
	s, _ := theFault(t, recs, f)
	wantField(t, f, "dir", "s2c")
	wantField(t, f, "limit", live.PingAnswerLimit.Seconds())
	inYamuxWords(t, f)
	var ping, ended map[string]any
	for _, m := range recs {
		if m["session"] != s {
			continue
		}
		if m["type"] == "frame" && m["cmd"] == "PING" && m["dir"] == "c2s" && ping == nil {
			ping = m
		}
		if m["type"] == "session-ended" {
			ended = m
		}
	}
	if ping == nil || ended == nil {
		t.Fatalf("fault session %v: ping %v, end %v", s, ping, ended)
	}
	opened, end := timeOf(t, f, "time"), timeOf(t, ended, "time")
	took := opened.Sub(timeOf(t, ping, "time"))
	t.Logf("KEEPALIVE opened %v after the client's first ping, %v before the session ended: %s", took.Round(time.Millisecond), end.Sub(opened).Round(time.Millisecond), f["text"])
	if took < live.PingAnswerLimit || took > live.PingAnswerLimit+time.Second+evalSlack || !opened.Before(end) {
		t.Errorf("KEEPALIVE opened %v after the ping, want within 1 s of PingAnswerLimit (%v), and before the session ended", took, live.PingAnswerLimit)
	}
	if !strings.Contains(f["text"].(string), "and the client's ping has waited 5") {
		t.Errorf("text %q", f["text"])
	}
	for _, m := range ofType(recs, "finding-opened") {
		if m["code"] != "KEEPALIVE" || m["session"] != s {
			t.Errorf("another finding opened: %s %v: %v", m["code"], m["session"], m["text"])
		}
	}
}

// TestYamuxKeepalivePingJSON: the keepalive fault over yamux at
// --keepalive 1s, with --silent-after long enough that the silence alone
// opens nothing, so that KEEPALIVE opens by the client's ping, unanswered
// for PingAnswerLimit; in the JSON of the run, that finding's evidence
// says how long the ping waited (ping), and borrowed says that every is
// the client's cadence, as the frozen server sent fewer than two pings of
// its own (none to measure its cadence by).
func TestYamuxKeepalivePingJSON(t *testing.T) {
	t.Parallel()
	r := startRun(t, "demo", "--protocol", "yamux", "--fault", "keepalive", "--keepalive", "1s", "--silent-after", "1m", "--pool", "1", "--rate", "5", "--duration", "30s")
	r.waitFor("KEEPALIVE", 20*time.Second, func(recs []map[string]any) bool { return firstFinding(recs, "KEEPALIVE") != nil })
	recs := r.stop()
	f := firstFinding(recs, "KEEPALIVE")
	s, _ := theFault(t, recs, f)
	wantField(t, f, "dir", "s2c")
	wantField(t, f, "limit", live.PingAnswerLimit.Seconds())
	wantCadence(t, f, time.Second)
	ping, ok := f["ping"].(float64)
	if age, _ := f["age"].(float64); !ok || ping < live.PingAnswerLimit.Seconds() || ping > age {
		t.Errorf("ping = %#v, want the client's ping's wait: PingAnswerLimit (%v) or more, and no more than the silence, age %v: %v", f["ping"], live.PingAnswerLimit, age, f)
	}
	pings := 0 // the server's own
	for _, m := range ofType(recs, "frame") {
		if m["session"] == s && m["dir"] == "s2c" && m["cmd"] == "PING" && m["flags"] == "SYN" {
			pings++
		}
	}
	if borrowed, _ := f["borrowed"].(bool); borrowed != (pings < 2) {
		t.Errorf("borrowed = %#v, with %d pings from the server before it froze: %v", f["borrowed"], pings, f)
	}
	t.Logf("the server sent %d pings: %s", pings, f["text"])
	for _, m := range ofType(recs, "finding-resolved") {
		if m["finding"] == f["finding"] {
			if p, _ := m["ping"].(float64); p < ping {
				t.Errorf("resolved with ping %v, less than the %v it opened with: %v", m["ping"], ping, m)
			}
		}
	}
}
