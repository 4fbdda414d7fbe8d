package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// A run of the real binary whose JSON output is read as it comes.
type liveRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr syncBuffer
	mu     sync.Mutex
	recs   []map[string]any
	done   chan struct{} // closed when stdout ends
	exited chan error
}

// startRun runs muxtop with args and --output json.
func startRun(t *testing.T, args ...string) *liveRun {
	t.Helper()
	bin := muxtopBinary(t)
	r := &liveRun{t: t, done: make(chan struct{}), exited: make(chan error, 1)}
	r.cmd = exec.Command(bin, append(args, "--output", "json")...)
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go r.read(out)
	go func() {
		<-r.done
		r.exited <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

func (r *liveRun) read(out io.Reader) {
	defer close(r.done)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			r.t.Errorf("not JSON: %q: %v", sc.Text(), err)
			continue
		}
		r.mu.Lock()
		r.recs = append(r.recs, m)
		r.mu.Unlock()
	}
}

// records returns a copy of the records so far.
func (r *liveRun) records() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.recs...)
}

// waitFor waits up to limit for cond to hold of the records so far.
func (r *liveRun) waitFor(what string, limit time.Duration, cond func([]map[string]any) bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond(r.records()) {
		select {
		case <-r.done:
			if cond(r.records()) {
				return
			}
			r.t.Fatalf("muxtop ended before %s; stderr: %s\nfindings: %s", what, r.stderr.String(), findingLines(r.records()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no %s within %v; findings: %s", what, limit, findingLines(r.records()))
		}
	}
}

// stop interrupts muxtop, which prints its summary and exits 0, and
// returns every record.
func (r *liveRun) stop() []map[string]any {
	r.t.Helper()
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-r.exited:
		if err != nil {
			r.t.Errorf("muxtop: %v; stderr: %s", err, r.stderr.String())
		}
	case <-time.After(20 * time.Second):
		r.t.Fatal("muxtop did not stop within 20 s of an interrupt")
	}
	recs := r.records()
	if len(recs) == 0 || recs[len(recs)-1]["type"] != "summary" {
		r.t.Fatalf("no summary at the end")
	}
	return recs
}

// ofType returns the records of type typ.
func ofType(recs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, m := range recs {
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

// firstFinding returns the first finding-opened record of code, or nil.
func firstFinding(recs []map[string]any, code string) map[string]any {
	for _, m := range ofType(recs, "finding-opened") {
		if m["code"] == code {
			return m
		}
	}
	return nil
}

func findingLines(recs []map[string]any) string {
	var b strings.Builder
	for _, m := range recs {
		if t, _ := m["type"].(string); strings.HasPrefix(t, "finding-") {
			fmt.Fprintf(&b, "\n  %s %v session %v sid %v: %v", t, m["code"], m["session"], m["sid"], m["text"])
		}
	}
	return b.String()
}

func timeOf(t *testing.T, m map[string]any, key string) time.Time {
	t.Helper()
	s, _ := m[key].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s of %v: %v", key, m, err)
	}
	return at
}

// sessionsLabelled returns the ids of the sessions opened with label.
func sessionsLabelled(recs []map[string]any, label string) map[float64]map[string]any {
	out := map[float64]map[string]any{}
	for _, m := range ofType(recs, "session-opened") {
		if m["label"] == label {
			out[m["session"].(float64)] = m
		}
	}
	return out
}

// firstPayload returns the first frame of session in dir whose payload
// starts with text (smux's PSH, yamux's DATA): the stream a fault's
// command opened.
func firstPayload(recs []map[string]any, session float64, dir, text string) map[string]any {
	hex := strings.TrimSpace(fmt.Sprintf("% x", text))
	for _, m := range ofType(recs, "frame") {
		if m["session"] == session && m["dir"] == dir && (m["cmd"] == "PSH" || m["cmd"] == "DATA") && strings.HasPrefix(m["payload"].(string), hex) {
			return m
		}
	}
	return nil
}

// faultSessionEnded is an until: true once a session labelled "fault"
// has ended.
func faultSessionEnded(recs []map[string]any) bool {
	faults := sessionsLabelled(recs, "fault")
	for _, m := range ofType(recs, "session-ended") {
		if faults[m["session"].(float64)] != nil {
			return true
		}
	}
	return false
}

// faultCase is one fault's end-to-end test: muxtop demo --fault name with
// args, the finding it must open, and how to check that finding.
type faultCase struct {
	name  string
	args  []string
	code  string
	limit time.Duration // the stated time to open, from what it measures
	check func(t *testing.T, recs []map[string]any, f map[string]any) (from time.Time, what string)
	// until, if set, is what else to wait for before stopping.
	until func(recs []map[string]any) bool
}

// Thresholds short enough to test within seconds, for every case: a case
// whose finding they do not concern shows that they open nothing else.
var shortThresholds = []string{"--keepalive", "1s", "--stall-after", "1s", "--blocked-after", "1s",
	"--unanswered-after", "1s", "--churn", "10", "--pool", "2", "--rate", "20", "--duration", "45s"}

// theFault returns the one session labelled "fault" that f names.
func theFault(t *testing.T, recs []map[string]any, f map[string]any) (float64, map[string]any) {
	t.Helper()
	faults := sessionsLabelled(recs, "fault")
	s, _ := f["session"].(float64)
	opened := faults[s]
	if opened == nil {
		t.Fatalf("the finding names session %v, not a fault session (%v)", f["session"], faults)
	}
	return s, opened
}

func wantField(t *testing.T, f map[string]any, key string, want any) {
	t.Helper()
	if f[key] != want {
		t.Errorf("finding %s = %#v, want %#v: %v", key, f[key], want, f)
	}
}

// wantCadence checks a KEEPALIVE finding's every: the keepalive interval
// as measured between the keepalives on the wire, which a loaded machine
// delays by milliseconds (1.001 s for a 1 s interval).
func wantCadence(t *testing.T, f map[string]any, interval time.Duration) {
	t.Helper()
	if every, ok := f["every"].(float64); !ok || every < 0.9*interval.Seconds() || every > 1.5*interval.Seconds() {
		t.Errorf("finding every = %#v, want the %v interval as measured: %v", f["every"], interval, f)
	}
}

var faultCases = []faultCase{
	{name: "leak", args: []string{"--leak-after", "2s"}, code: "LEAK", limit: 2*time.Second + time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s := f["session"].(float64)
			if sessionsLabelled(recs, "demo")[s] == nil {
				t.Errorf("LEAK names session %v, not a pool session", s)
			}
			wantField(t, f, "dir", "s2c") // the server never sent FIN
			// It names the session's oldest stream, whose SYN is its since.
			for _, m := range ofType(recs, "frame") {
				if m["session"] == s && m["cmd"] == "SYN" {
					wantField(t, f, "sid", m["sid"])
					wantField(t, f, "since", m["time"])
					break
				}
			}
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
			wantField(t, f, "bytes", 262144.0)
			return timeOf(t, bulk, "time"), "the BULK request, with --stall-after 1s"
		}},
	{name: "hol", code: "SESSION_BLOCKED", limit: time.Second + 1500*time.Millisecond,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			sink := firstPayload(recs, s, "c2s", "SINK")
			if sink == nil {
				t.Fatal("no SINK request in the fault session")
			}
			wantField(t, f, "sid", sink["sid"])
			wantField(t, f, "dir", "c2s")
			// The client's tap sees its write held, which a slow reader
			// holds as well: the text says both.
			wantField(t, f, "sign", "write")
			if text := f["text"].(string); !strings.Contains(text, "in v1 one unread or slow stream holds every stream") ||
				!strings.Contains(text, "the server stopped reading, or it (or the path to it) takes the bytes far slower") {
				t.Errorf("text %q", f["text"])
			}
			return timeOf(t, sink, "time"), "the SINK request, with --blocked-after 1s"
		}},
	{name: "mismatch", code: "VERSION_MISMATCH", limit: time.Second + time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			// A session of the gateway's pool, the one whose frames are v2:
			// the others speak v1 and answer.
			s := f["session"].(float64)
			opened := sessionsLabelled(recs, "demo")[s]
			if opened == nil {
				t.Fatalf("VERSION_MISMATCH names session %v, not a pool session", s)
			}
			if v, _ := f["versions"].(map[string]any); v["c2s"] != 2.0 || v["s2c"] != 1.0 {
				t.Errorf("versions %v, want the client's 2 and the server's 1", f["versions"])
			}
			mismatched := map[float64]bool{}
			for _, m := range ofType(recs, "frame") {
				if m["dir"] == "c2s" && m["ver"] == 2.0 {
					mismatched[m["session"].(float64)] = true
				}
			}
			if !mismatched[s] {
				t.Errorf("session %v, which the finding names, sent no v2 frame", s)
			}
			answered := 0
			for _, m := range ofType(recs, "frame") {
				if m["dir"] == "s2c" && m["cmd"] == "PSH" && !mismatched[m["session"].(float64)] {
					answered++
				}
			}
			if answered == 0 {
				t.Error("no other pool session answered: the demo stopped serving")
			}
			for _, m := range ofType(recs, "finding-opened") {
				if !mismatched[m["session"].(float64)] {
					t.Errorf("a finding names session %v, which speaks v1: %v", m["session"], m["text"])
				}
			}
			return timeOf(t, opened, "time"), "the session's start, with --keepalive 1s"
		}},
	// --leak-after 1s: the FRZE stream, left open by the frozen service,
	// grows older than it before KEEPALIVE opens; it is KEEPALIVE's, not a LEAK.
	{name: "keepalive", code: "KEEPALIVE", args: []string{"--leak-after", "1s"},
		limit: live.SilenceLimit(time.Second) + time.Second, // --keepalive 1s
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			wantField(t, f, "dir", "s2c")
			frze := firstPayload(recs, s, "c2s", "FRZE")
			if frze == nil {
				t.Fatal("no FRZE request in the fault session")
			}
			// The service sent its first NOP before it froze: the silence
			// is measured against its own interval, not a borrowed one.
			nops := 0
			for _, m := range ofType(recs, "frame") {
				if m["session"] == s && m["dir"] == "s2c" && (m["cmd"] == "NOP" || m["cmd"] == "PING") {
					nops++
				}
			}
			if nops == 0 {
				t.Error("the service sent no keepalive before it froze")
			}
			wantCadence(t, f, time.Second) // the JSON says so too: no "borrowed"
			if _, ok := f["borrowed"]; ok {
				t.Errorf("KEEPALIVE of a service that sent its own NOPs says borrowed: %v", f)
			}
			for _, m := range ofType(recs, "session-ended") {
				// "(KEEPALIVE): smux's keepalive closes …", or, where the
				// tap saw the client close its side just before the end,
				// "(KEEPALIVE), up to when the client closed its side … before
				// the end: smux's keepalive closes …": either says it.
				// The pool's other sessions end local_close at the stop,
				// with no detail: only s's is read.
				// Or, where the frozen service's own keepalive closed its
				// side first (it hears nothing either), that the silent
				// server closed first (ecfc7dc).
				if d, _ := m["detail"].(string); m["session"] == s && (!strings.Contains(d, "(KEEPALIVE)") || !strings.Contains(d, ": smux's keepalive closes a session") && !strings.Contains(d, "the server, silent for ")) {
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
			first := hold["sid"].(float64) + 2 // the first stream the service does not accept
			wantField(t, f, "sid", first)
			wantField(t, f, "dir", "c2s")
			return timeOf(t, f, "since"), "the first unaccepted stream's SYN, with --unanswered-after 1s and --keepalive 1s"
		}},
	{name: "after-close", code: "DATA_AFTER_CLOSE", limit: time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			clos := firstPayload(recs, s, "c2s", "CLOS")
			if clos == nil {
				t.Fatal("no CLOS request in the fault session")
			}
			wantField(t, f, "sid", clos["sid"])
			wantField(t, f, "dir", "c2s")
			wantField(t, f, "count", 3.0)
			return timeOf(t, f, "since"), "the late data"
		}},
	{name: "protocol", code: "PROTOCOL", limit: time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			_, opened := theFault(t, recs, f)
			wantField(t, f, "guess", "http-request")
			wantField(t, f, "dir", "c2s")
			wantField(t, f, "offset", 0.0)
			return timeOf(t, opened, "time"), "the session's start"
		}},
	// --closewait-after 2s: the service holds the fault session, silent,
	// after the client shut its side; CLOSE_WAIT counts from the client's
	// FIN (its session-half-closed record), and names the server holding.
	{name: "closewait", code: "CLOSE_WAIT", args: []string{"--closewait-after", "2s"}, limit: 2 * time.Second,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			s, _ := theFault(t, recs, f)
			wantField(t, f, "dir", "s2c")
			var half map[string]any
			for _, m := range ofType(recs, "session-half-closed") {
				if m["session"] == s {
					half = m
				}
			}
			if half == nil || half["dir"] != "c2s" {
				t.Fatalf("no session-half-closed record of the client for session %v: %v", s, half)
			}
			// The tap ends the direction, then records the half-close: a
			// microsecond apart.
			if d := timeOf(t, half, "time").Sub(timeOf(t, f, "since")); d < 0 || d > time.Millisecond {
				t.Errorf("since %v, want the client's FIN at %v", f["since"], half["time"])
			}
			if text := f["text"].(string); !strings.HasPrefix(text, "the client closed its side of the connection ") {
				t.Errorf("text %q", text)
			}
			return timeOf(t, half, "time"), "the client's FIN, with --closewait-after 2s"
		}},
	{name: "churn", code: "CHURN", limit: 1500 * time.Millisecond,
		check: func(t *testing.T, recs []map[string]any, f map[string]any) (time.Time, string) {
			if _, ok := f["session"]; ok {
				t.Errorf("CHURN names session %v", f["session"])
			}
			// From the end of the 10th session of the loop: --churn 10.
			n := 0
			faults := sessionsLabelled(recs, "fault")
			for _, m := range ofType(recs, "session-ended") {
				if faults[m["session"].(float64)] != nil {
					if n++; n == 10 {
						return timeOf(t, m, "time"), "the 10th redialled session's end, with --churn 10"
					}
				}
			}
			t.Fatal("fewer than 10 fault sessions ended")
			return time.Time{}, ""
		}},
}

// evalSlack is what the end-to-end fault tests allow, past a finding's
// stated time, for a loaded machine: the binary evaluates every 100 ms of
// real time, and CI's -race run on 2 cores has delayed an evaluation by
// a second ("LEAK opened 3.089s … want within 3s"). The bounds are there
// to catch a wrong threshold (a LEAK after 30 s instead of 2), which this
// slack still does; a finding that opens too early fails at once.
const evalSlack = 2 * time.Second

// TestFaultsDiagnosed is the proof of the findings engine: for every fault,
// the real binary opens the right finding within its stated time, naming
// the right session and stream, and no other finding opens.
func TestFaultsDiagnosed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop for seconds per fault")
	}
	t.Parallel()
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, tc, []string{"demo", "--fault", tc.name})
		})
	}
}

// runFaultCase runs muxtop with args, shortThresholds and the case's own,
// and checks that the case's finding, and no other, opens in time.
func runFaultCase(t *testing.T, tc faultCase, args []string) {
	t.Helper()
	args = append(args, shortThresholds...)
	r := startRun(t, append(args, tc.args...)...)
	r.waitFor(tc.code, 20*time.Second, func(recs []map[string]any) bool { return firstFinding(recs, tc.code) != nil })
	if tc.until != nil {
		r.waitFor("the rest of the case", 20*time.Second, tc.until)
	}
	time.Sleep(1500 * time.Millisecond) // time for another finding to show, if one would
	recs := r.stop()
	f := firstFinding(recs, tc.code)
	from, what := tc.check(t, recs, f)
	took := timeOf(t, f, "time").Sub(from)
	t.Logf("%s opened %v after %s: %s", tc.code, took.Round(time.Millisecond), what, f["text"])
	if took < 0 || took > tc.limit+evalSlack {
		t.Errorf("%s opened %v after %s, want within %v (and %v for a loaded machine)", tc.code, took, what, tc.limit, evalSlack)
	}
	for _, m := range ofType(recs, "finding-opened") {
		if m["code"] != tc.code {
			t.Errorf("another finding opened: %s %v: %v", m["code"], m["session"], m["text"])
		}
	}
	sum := recs[len(recs)-1]
	if sum["findings_opened"].(float64) < 1 || len(sum["findings"].([]any)) < 1 {
		t.Errorf("the summary lists no finding: %v", sum)
	}
}

// TestHealthyDemoOpensNoFinding runs the demo, smux v1 and v2 and yamux,
// at the default rate for 10 s; MUXTOP_LONG_HEALTHY=1 runs each for 60 s
// at the default rate and then 60 s at 5 000 requests/s. No finding may
// open.
func TestHealthyDemoOpensNoFinding(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop for 10 s")
	}
	// CI runs each version for 10 s at the default rate; with
	// MUXTOP_LONG_HEALTHY set, for 60 s at the default rate and at 5,000
	// requests/s, one run at a time.
	type run struct {
		name string
		args []string
	}
	runs := []run{{"default rate", []string{"--duration", "10s"}}}
	long := os.Getenv("MUXTOP_LONG_HEALTHY") != ""
	if !long { // the long runs need the whole machine each
		t.Parallel()
	}
	if long {
		runs = []run{
			{"default rate", []string{"--duration", "60s"}},
			{"5000 per s", []string{"--duration", "60s", "--rate", "5000"}},
		}
	}
	for _, rn := range runs {
		t.Run("yamux/"+rn.name, func(t *testing.T) {
			if !long {
				t.Parallel()
			}
			healthyRun(t, append([]string{"demo", "--protocol", "yamux"}, rn.args...))
		})
	}
	for _, v := range []string{"1", "2"} {
		for _, rn := range runs {
			t.Run("v"+v+"/"+rn.name, func(t *testing.T) {
				if !long { // the long runs need the whole machine each
					t.Parallel()
				}
				healthyRun(t, append([]string{"demo", "--smux-version", v}, rn.args...))
			})
		}
	}
}

// healthyRun runs muxtop with args and fails if any finding opened.
func healthyRun(t *testing.T, args []string) {
	t.Helper()
	recs := runToEnd(t, 2*time.Minute, args...)
	sum := recs[len(recs)-1]
	if lines := findingLines(recs); lines != "" || sum["findings_opened"] != 0.0 {
		t.Errorf("a healthy demo opened findings:%s", lines)
	}
	if sum["latency"] == nil || sum["latency"].(map[string]any)["streams"].(float64) == 0 {
		t.Errorf("the summary has no latency: %v", sum["latency"])
	}
	t.Logf("%v requests answered; %v", sum["streams_closed"], sum["status"])
}

// holThresholds are shortThresholds for the two-process demo's
// processes: short enough that a wrong KEEPALIVE or UNANSWERED would open
// within the test.
var holThresholds = []string{"--keepalive", "1s", "--blocked-after", "1s", "--unanswered-after", "1s"}

// TestFaultsInTwoProcesses injects a fault on each side of the two-process
// demo, smux's and yamux's: the server's leak, seen by the server's own
// tap, and the client's stall (yamux: goaway), seen by the client's.
func TestFaultsInTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processes for seconds")
	}
	t.Parallel()
	for _, tc := range []struct {
		side, fault, code string
		server, client    []string
		both              bool // the other side's view opens code too
	}{
		{"server", "leak", "LEAK", []string{"--fault", "leak", "--leak-after", "2s"}, nil, false},
		{"client", "stall", "WINDOW_STALL", []string{"--smux-version", "2"}, []string{"--fault", "stall", "--stall-after", "1s"}, false},
		{"server", "yamux-leak", "LEAK", []string{"--protocol", "yamux", "--fault", "leak", "--leak-after", "2s"}, []string{"--protocol", "yamux"}, false},
		{"client", "yamux-goaway", "GO_AWAY", []string{"--protocol", "yamux"}, []string{"--protocol", "yamux", "--fault", "goaway"}, false},
		// The server's own tap sees its reader stop (one unread stream fills
		// v1's session-wide buffer): SESSION_BLOCKED, not the client's
		// silence (KEEPALIVE) nor its streams unanswered, which the server
		// no longer reads; the client's tap sees its write blocked.
		{"server", "hol", "SESSION_BLOCKED", append([]string{"--smux-version", "1"}, holThresholds...),
			append([]string{"--smux-version", "1", "--fault", "hol"}, holThresholds...), true},
	} {
		t.Run(tc.side+"/"+tc.fault, func(t *testing.T) {
			t.Parallel()
			addr := freePort(t)
			srv := startRun(t, append([]string{"demo", "server", "--listen", addr, "--duration", "40s"}, tc.server...)...)
			srv.waitStderr(regexp.MustCompile(regexp.QuoteMeta("listening on " + addr)))
			cli := startRun(t, append([]string{"demo", "client", "--connect", addr, "--http", "127.0.0.1:0", "--pool", "2",
				"--rate", "20", "--duration", "40s"}, tc.client...)...)
			watched := map[string]*liveRun{"server": srv, "client": cli}[tc.side]
			watched.waitFor(tc.code, 20*time.Second, func(recs []map[string]any) bool { return firstFinding(recs, tc.code) != nil })
			// Time for another finding to show, if one would: twice the
			// silence a 1 s keepalive is allowed (live.SilenceLimit).
			time.Sleep(2 * live.SilenceLimit(time.Second))
			for _, side := range []string{"client", "server"} {
				r := map[string]*liveRun{"server": srv, "client": cli}[side]
				recs := r.stop()
				for _, m := range ofType(recs, "finding-opened") {
					if m["code"] != tc.code {
						t.Errorf("another finding opened in the %s's view: %s %v: %v", side, m["code"], m["session"], m["text"])
					}
				}
				if tc.both && firstFinding(recs, tc.code) == nil {
					t.Errorf("no %s in the %s's view", tc.code, side)
				}
				if f := firstFinding(recs, tc.code); f != nil && tc.code == "SESSION_BLOCKED" {
					// Only the server's own tap sees it stop reading.
					sign := map[string]string{"server": "read", "client": "write"}[side]
					wantField(t, f, "sign", sign)
					if said := strings.Contains(f["text"].(string), "the server stopped reading"); !said || (sign == "read") != strings.Contains(f["text"].(string), " ago") {
						t.Errorf("the %s's view: %q", side, f["text"])
					}
				}
			}
		})
	}
}

// TestBlockedThroughAttach: between a client whose stream the service
// never reads and the service, the attach proxy's own write is what
// blocks; it names the session and the stream.
func TestBlockedThroughAttach(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes for seconds")
	}
	t.Parallel()
	upstream, listen := freePort(t), freePort(t)
	srv := startRun(t, "demo", "server", "--listen", upstream, "--duration", "40s")
	srv.waitStderr(regexp.MustCompile(regexp.QuoteMeta("listening on " + upstream)))
	proxy := startRun(t, "attach", upstream, "--listen", listen, "--duration", "40s", "--blocked-after", "1s")
	proxy.waitStderr(regexp.MustCompile(regexp.QuoteMeta("clients connect to " + listen)))
	cli := startRun(t, "demo", "client", "--connect", listen, "--http", "127.0.0.1:0", "--pool", "2", "--rate", "20",
		"--duration", "40s", "--fault", "hol")
	proxy.waitFor("SESSION_BLOCKED", 20*time.Second, func(recs []map[string]any) bool { return firstFinding(recs, "SESSION_BLOCKED") != nil })
	time.Sleep(time.Second)
	cli.stop()
	srv.stop()
	recs := proxy.stop()
	f := firstFinding(recs, "SESSION_BLOCKED")
	sink := firstPayload(recs, f["session"].(float64), "c2s", "SINK")
	if sink == nil {
		t.Fatalf("the finding names session %v, which sent no SINK: %v", f["session"], f)
	}
	wantField(t, f, "sid", sink["sid"])
	wantField(t, f, "dir", "c2s")
	wantField(t, f, "sign", "write") // the proxy's
	took := timeOf(t, f, "time").Sub(timeOf(t, sink, "time"))
	t.Logf("SESSION_BLOCKED opened %v after the SINK request, through attach: %s", took.Round(time.Millisecond), f["text"])
	if took > 2500*time.Millisecond+evalSlack {
		t.Errorf("SESSION_BLOCKED opened %v after the SINK request, want within 2.5 s (and %v for a loaded machine)", took, evalSlack)
	}
	for _, m := range ofType(recs, "finding-opened") {
		if m["code"] != "SESSION_BLOCKED" {
			t.Errorf("another finding opened: %s %v: %v", m["code"], m["session"], m["text"])
		}
	}
}
