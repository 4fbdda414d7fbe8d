package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unsafe"

	"github.com/muxtop/muxtop/demo"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bytes returns a copy of what was written so far.
func (b *syncBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// capture is the JSON output of one muxtop run, sorted by type.
type capture struct {
	sessions map[float64]bool
	frames   []map[string]any
	other    []map[string]any
	summary  map[string]any
}

func parseJSON(t *testing.T, out string) capture {
	t.Helper()
	c := capture{sessions: map[float64]bool{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		switch m["type"] {
		case "frame":
			c.frames = append(c.frames, m)
		case "session-opened":
			c.sessions[m["session"].(float64)] = true
		case "summary":
			c.summary = m
		default:
			c.other = append(c.other, m)
		}
	}
	if c.summary == nil {
		t.Fatalf("no summary in output:\n%s", out)
	}
	return c
}

func (c capture) count(dir, cmd string) uint64 {
	return uint64(c.summary["frames"].(map[string]any)[dir].(map[string]any)[cmd].(float64))
}

// serverNumbers returns every number the service sent, decoded from the
// server's data payloads (smux's PSH, yamux's DATA of a length); it checks
// each is 8 bytes and each client one is RAND.
func (c capture) serverNumbers(t *testing.T) map[uint64]bool {
	t.Helper()
	nums := map[uint64]bool{}
	for _, f := range c.frames {
		if f["cmd"] != "PSH" && (f["cmd"] != "DATA" || f["len"].(float64) == 0) {
			continue
		}
		p, err := hex.DecodeString(strings.ReplaceAll(f["payload"].(string), " ", ""))
		if err != nil {
			t.Fatalf("payload %q: %v", f["payload"], err)
		}
		switch f["dir"] {
		case "c2s":
			if string(p) != "RAND" {
				t.Errorf("client %s payload = %q, want RAND", f["cmd"], p)
			}
		case "s2c":
			if len(p) != 8 {
				t.Errorf("server %s payload has %d bytes, want 8", f["cmd"], len(p))
				continue
			}
			nums[binary.BigEndian.Uint64(p)] = true
		}
	}
	return nums
}

var gatewayURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/rand`)

// getNumbers asks the gateway for n numbers.
func getNumbers(t *testing.T, url string, n int) []uint64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var nums []uint64
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", url, resp.Status, body)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64)
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		nums = append(nums, v)
	}
	return nums
}

// clientUnsent matches the notice of a client write that failed
// (live.UnsentText), capturing the offset from which nothing went out.
var clientUnsent = regexp.MustCompile(`^→ a write failed: the last \d+ bytes recorded, from offset (\d+) on, never went out`)

// checkPoolSessions checks that a demo's gateway dialed its pool: pool
// sessions, or more where it replaced some. A request that times out
// (demo.DefaultTimeout, 2 s, which a race run at load 16 exceeded: 12
// sessions of a pool of 4 in 3 s) fails its session, and the gateway
// replaces it by design (demo/gateway.go); it says so only at Info, which
// no front end shows, so the extra sessions are logged, not counted as
// a fault.
func checkPoolSessions(t *testing.T, c capture, pool int) {
	t.Helper()
	switch got := len(c.sessions); {
	case got < pool:
		t.Errorf("sessions = %d, want the pool size %d", got, pool)
	case got > pool:
		t.Logf("sessions = %d, the pool size %d: the gateway replaced %d whose requests timed out", got, pool, got-pool)
	}
}

// checkConsistent checks what a tapped demo must show: every stream opened
// by the client carries SYN, one RAND, one 8-byte answer and a FIN each way
// — except the few requests that the shutdown cut short, which must be
// exactly the streams the summary says ended with their session — and no
// violations, drops or anomalies.
func checkConsistent(t *testing.T, c capture, pool int) {
	t.Helper()
	checkPoolSessions(t, c, pool)
	type key struct {
		session, sid float64
	}
	type stream struct{ syn, rand, answer, fin [2]int }
	streams := map[key]*stream{}
	// A FIN recorded after its session ended (a write racing the
	// shutdown's Close) does not close the stream: it ended with the
	// session, as the summary counts it.
	endSeq := map[float64]float64{}
	// A client write that failed as the shutdown closed its conn never
	// sent the frames not wholly before the offset its notice names
	// (live.UnsentText): they are printed, and not in the summary's counts.
	unsentFrom := map[float64]float64{}
	for _, o := range c.other {
		switch o["type"] {
		case "session-ended":
			endSeq[o["session"].(float64)] = o["seq"].(float64)
		case "notice":
			if m := clientUnsent.FindStringSubmatch(o["text"].(string)); m != nil {
				from, _ := strconv.ParseFloat(m[1], 64)
				unsentFrom[o["session"].(float64)] = from
			}
		}
	}
	var unsentSYN uint64
	for _, f := range c.frames {
		k := key{f["session"].(float64), f["sid"].(float64)}
		st := streams[k]
		if st == nil {
			st = &stream{}
			streams[k] = st
		}
		d := 0
		if f["dir"] == "s2c" {
			d = 1
		}
		switch f["cmd"] {
		case "SYN":
			st.syn[d]++
			if from, ok := unsentFrom[k.session]; ok && d == 0 && f["offset"].(float64)+8 > from {
				unsentSYN++
			}
		case "PSH":
			if d == 0 {
				st.rand[d]++
			} else {
				st.answer[d]++
			}
		case "FIN":
			if end, ok := endSeq[k.session]; !ok || f["seq"].(float64) < end {
				st.fin[d]++
			}
		}
	}
	var complete, cut uint64
	for k, st := range streams {
		if k.sid == 0 {
			continue // keepalive NOPs
		}
		if st.syn != [2]int{1, 0} || st.rand[0] > 1 || st.answer[1] > 1 {
			t.Errorf("session %v stream %v: %+v, want one SYN from the client and at most one RAND and one answer", k.session, k.sid, *st)
		}
		if st.fin == [2]int{1, 1} {
			complete++
			if st.rand[0] != 1 || st.answer[1] != 1 {
				t.Errorf("closed stream %v of session %v: %+v, want a RAND and an answer", k.sid, k.session, *st)
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
	if cut > 64 {
		t.Errorf("%d requests cut by the shutdown, more than the load's 64 in flight", cut)
	}
	if got := c.count("c2s", "SYN"); got != complete+cut-unsentSYN {
		t.Errorf("summary SYN = %d, printed streams %d, of whose SYNs %d were never sent", got, complete+cut, unsentSYN)
	}
	if got := c.count("s2c", "SYN"); got != 0 {
		t.Errorf("server opened %d streams, want 0", got)
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

// runDemoJSON runs muxtop demo with args and --output json in this
// process, asks its gateway for n numbers, and stops it, as ctrl+c does,
// once they are in and it has run for at least minRun. It returns what the
// demo printed and the numbers HTTP answered. A --duration would race the
// requests: under -race on a loaded machine, 20 of them took longer than
// a 3 s demo ("502 Bad Gateway demo: gateway closed").
func runDemoJSON(t *testing.T, minRun time.Duration, n int, args ...string) (capture, []uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { // ends with ctx: the deferred cancel if not before
		done <- run(ctx, append([]string{"demo", "--output", "json"}, args...), &stdout, &stderr)
	}()
	var url string
	smuxtest.Eventually(t, "the gateway URL on stderr", func() bool {
		url = gatewayURL.FindString(stderr.String())
		return url != ""
	})
	mine := getNumbers(t, url, n)
	time.Sleep(minRun - time.Since(start))
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	return parseJSON(t, stdout.String()), mine
}

// runDemoUntil runs the demo in-process with args, no --duration, until
// its stdout satisfies until (within a minute: a loaded machine may start
// its load late), then stops it as a user's interrupt does (its context
// canceled), and returns its stdout, summary included, and stderr. A
// fixed --duration cut runs short where the load came late.
func runDemoUntil(t *testing.T, what string, until func(stdout string) bool, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"demo"}, args...), &out, &errs) }()
	deadline := time.Now().Add(time.Minute)
	for !until(out.String()) {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no %s within a minute; stdout:\n%s", what, out.String())
		}
		select {
		case code := <-done:
			t.Fatalf("the demo ended by itself before %s, exit %d, stderr: %s", what, code, errs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errs.String())
	}
	return out.String(), errs.String()
}

func TestDemoInProcessJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel() // two demos, each on ports of its own
			const pool = 4
			c, mine := runDemoJSON(t, 3*time.Second, 20, "--pool", fmt.Sprint(pool), "--rate", "50", "--smux-version", version)
			checkConsistent(t, c, pool)
			nums := c.serverNumbers(t)
			for _, n := range mine {
				if !nums[n] {
					t.Errorf("HTTP answered %d, which no server PSH carried", n)
				}
			}
			if v := c.frames[0]["ver"].(float64); fmt.Sprint(v) != version {
				t.Errorf("frame version %v, want %s", v, version)
			}
		})
	}
}

// e2eParallel is how many of this package's parallel tests run at once
// unless go test's -parallel says otherwise. Its end-to-end tests spend
// their seconds waiting on real time (thresholds, keepalives, scrape
// intervals) in light processes (20 requests a second), not on the CPU:
// at -parallel's default, GOMAXPROCS (2 on CI), the package took 290 s,
// nearly all of it asleep.
const e2eParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", fmt.Sprint(max(e2eParallel, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir) // 22 MB a run, left in the temp dir before
	}
	os.Exit(code)
}

// binDir holds the binary buildBinary built, removed as the tests end.
var binDir string

// buildBinary builds muxtop once for the tests that run it as a process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "muxtop-bin")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "muxtop")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// muxtopBinary returns the binary buildBinary built, for a test that runs
// it as a process. Under -race the test is skipped: the binary is built
// without the race detector, so such a test checks the same process as
// the run without -race does, at the cost of its seconds again (the
// root package's commands run in-process, under the race detector, in
// the tests that call run).
func muxtopBinary(t *testing.T) string {
	t.Helper()
	if racetest.Enabled {
		t.Skip("runs the muxtop binary, built without -race: the run without -race covers it")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// freePort returns a loopback address nothing listens on now, for a
// process the test starts to listen on. Its port is below the kernel's
// ephemeral range where the kernel says what that is: a port the kernel
// handed out (":0") may be taken again, between the check and the
// process's listen, as the local port of one of the many connections the
// package's parallel tests dial, and the process's listen then fails.
func freePort(t *testing.T) string {
	t.Helper()
	if lo, ok := ephemeralLow(); ok && lo > 2048 {
		base := max(1024, lo-16384)
		for range 50 {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+rand.IntN(lo-base)))
			if err == nil {
				defer l.Close()
				return l.Addr().String()
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ephemeralLow returns the lowest port of Linux's ephemeral range, from
// which it picks the local ports of connections and of listens on port 0.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0, false
	}
	return lo, true
}

// runDemoPair runs "demo server" and "demo client" as two processes, both
// with args (as --protocol yamux), the client with a gateway pool of pool
// sessions, and asks the gateway for 10 numbers over HTTP while it runs;
// neither process may open a finding.
// It returns what the client and the server printed as JSON, and the
// numbers HTTP answered.
func runDemoPair(t *testing.T, pool int, args ...string) (cli, srv capture, mine []uint64) {
	t.Helper()
	bin := muxtopBinary(t)
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var srvOut, srvErr, cliOut, cliErr syncBuffer
	sc := exec.CommandContext(ctx, bin, append(append([]string{"demo", "server"}, args...),
		"--listen", addr, "--output", "json")...)
	sc.Stdout, sc.Stderr = &srvOut, &srvErr
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	// Probing the port would count as a session: wait for the server's word.
	exited := make(chan error, 1)
	go func() { exited <- sc.Wait() }()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(srvErr.String(), "listening on "+addr) {
		select {
		case err := <-exited:
			t.Fatalf("the server exited (%v) before it listened on %s:\n%s", err, addr, srvErr.String())
		case <-deadline:
			t.Fatalf("timed out after 10 s waiting for the server to listen on %s; it said:\n%s", addr, srvErr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	cc := exec.CommandContext(ctx, bin, append(append([]string{"demo", "client"}, args...),
		"--connect", addr, "--http", "127.0.0.1:0", "--pool", fmt.Sprint(pool), "--rate", "50", "--output", "json")...)
	cc.Stdout, cc.Stderr = &cliOut, &cliErr
	start := time.Now()
	if err := cc.Start(); err != nil {
		t.Fatal(err)
	}
	var url string
	smuxtest.Eventually(t, "the gateway URL on stderr", func() bool {
		url = gatewayURL.FindString(cliErr.String())
		return url != ""
	})
	mine = getNumbers(t, url, 10)
	// Both stop as ctrl+c stops them, not at a --duration, which on a
	// stalled machine could end the client before the requests (as in
	// runDemoJSON): the client once they are in and it has run for 2 s,
	// the server once it has seen the client's sessions end, so that it
	// saw every frame the client wrote.
	time.Sleep(2*time.Second - time.Since(start))
	cc.Process.Signal(os.Interrupt)
	if err := cc.Wait(); err != nil {
		t.Fatalf("client: %v\n%s", err, cliErr.String())
	}
	smuxtest.Eventually(t, "the server to see the client's sessions end", func() bool {
		return strings.Count(srvOut.String(), `{"type":"session-ended"`) >= pool
	})
	sc.Process.Signal(os.Interrupt)
	if err := <-exited; err != nil {
		t.Fatalf("server: %v\n%s", err, srvErr.String())
	}
	cli, srv = parseJSON(t, cliOut.String()), parseJSON(t, srvOut.String())
	// A healthy pair: neither tap, the client's conns nor the server's
	// accepted ones (whose reads are watched too), opens a finding.
	for side, c := range map[string]capture{"client": cli, "server": srv} {
		if n := c.summary["findings_opened"]; n != 0.0 {
			t.Errorf("the %s opened %v findings in a healthy run: %v", side, n, c.summary["findings"])
		}
	}
	return cli, srv, mine
}

func TestDemoTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processes for seconds")
	}
	t.Parallel() // two processes on a port of their own
	const pool = 3
	c, s, mine := runDemoPair(t, pool, "--blocked-after", "1s", "--unanswered-after", "1s")
	checkConsistent(t, c, pool)
	if got := len(s.sessions); got != pool {
		t.Errorf("server saw %d sessions, want %d", got, pool)
	}
	// The server outlives the client, so it saw every frame the client wrote.
	for _, cmd := range []string{"SYN", "PSH", "FIN"} {
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

func TestCommandLineErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"bogus"}, 2, `unknown command "bogus"`},
		{"unknown subcommand", []string{"demo", "bogus"}, 2, `unknown command "bogus" for "muxtop demo"`},
		{"unknown flag", []string{"demo", "--bogus"}, 2, "unknown flag: --bogus"},
		{"bad output", []string{"demo", "--output", "xml"}, 2, `--output "xml": use tui, plain or json`},
		{"bad version", []string{"demo", "--smux-version", "3", "-o", "plain"}, 2, "--smux-version 3: use 1 or 2"},
		{"bad snaplen", []string{"demo", "--snaplen", "70000", "-o", "plain"}, 2, "--snaplen 70000"},
		{"history 0 headless", []string{"demo", "--history", "0", "-o", "plain"}, 2, "--history 0 keeps no frames"},
		// json and plain print from history, which 0 leaves empty: the range says 1.
		{"history too big", []string{"demo", "--history", "1000000000", "-o", "json"}, 2, "--history 1000000000: use 1 to 10000000"},
		{"history negative plain", []string{"demo", "--history", "-1", "-o", "plain"}, 2, "--history -1: use 1 to 10000000"},
		{"history negative tui", []string{"demo", "--history", "-1", "-o", "tui"}, 2, "--history -1: use 0 to 10000000"},
		{"history too much memory", []string{"demo", "--history", "10000000", "--snaplen", "65535", "-o", "json"}, 2, "MiB of memory for json output"},
		// 4.26 GB of payloads, under the old bound; slots, a batch and headroom take it over.
		{"history memory beyond payloads", []string{"demo", "--history", "130000", "--snaplen", "32768", "-o", "json", "--duration", "1s"}, 2, "--history 130000 × --snaplen 32768 would need about"},
		// 4 GB of payloads, under the old bound; the UI's own copy doubles it.
		{"history memory of the ui's copy", []string{"demo", "--history", "100000", "--snaplen", "40000", "-o", "tui"}, 2, "MiB of memory for tui output"},
		{"closed-streams negative", []string{"demo", "--closed-streams", "-1", "-o", "plain"}, 2, "--closed-streams -1: use 0 to 4000000"},
		{"closed-streams too many", []string{"attach", ":9000", "--closed-streams", "5000000", "-o", "plain"}, 2, "--closed-streams 5000000: use 0 to 4000000 (each costs about 576 bytes)"},
		{"tui without a terminal", []string{"demo", "-o", "tui"}, 2, "--output tui needs a terminal"},
		{"stall-after 0", []string{"demo", "--stall-after", "0", "-o", "plain"}, 2, "--stall-after 0s: use a positive duration"},
		{"leak-after negative", []string{"demo", "--leak-after", "-1s", "-o", "plain"}, 2, "--leak-after -1s: use a positive duration"},
		{"blocked-after 0", []string{"demo", "--blocked-after", "0", "-o", "plain"}, 2, "--blocked-after 0s: use a positive duration"},
		{"unanswered-after 0", []string{"attach", ":9000", "--unanswered-after", "0", "-o", "plain"}, 2, "--unanswered-after 0s: use a positive duration"},
		{"closewait-after 0", []string{"read", "x.pcap", "--closewait-after", "0", "-o", "plain"}, 2, "--closewait-after 0s: use a positive duration"},
		{"silent-after negative", []string{"demo", "--silent-after", "-1s", "-o", "plain"}, 2, "--silent-after -1s: use 0"},
		{"churn negative", []string{"demo", "--churn", "-1", "-o", "plain"}, 2, "--churn -1: use 0 (off)"},
		{"session-leak negative", []string{"demo", "--session-leak", "-1", "-o", "plain"}, 2, "--session-leak -1: use 0 (off)"},
		{"unknown fault", []string{"demo", "--fault", "bogus", "-o", "plain"}, 2, `--fault "bogus": use one of leak, stall`},
		{"client fault to the server", []string{"demo", "server", "--fault", "churn", "-o", "plain"}, 2, "--fault churn lives on the client's side: give it to muxtop demo client"},
		{"server fault to the client", []string{"demo", "client", "--fault", "leak", "-o", "plain"}, 2, "--fault leak lives on the server's side: give it to muxtop demo server"},
		{"fault of the other version", []string{"demo", "--fault", "stall", "--smux-version", "1", "-o", "plain"}, 2, "--fault stall needs --smux-version 2"},
		{"leak and another fault", []string{"demo", "--leak", "--fault", "churn", "-o", "plain"}, 2, "--leak is --fault leak: it cannot go with --fault churn"},
		{"keepalive negative", []string{"demo", "--keepalive", "-1s", "-o", "plain"}, 2, "--keepalive -1s: use 0"},
		{"bad listen address", []string{"demo", "--listen", "nonsense", "-o", "plain"}, 2, `--listen "nonsense" is not an address`},
		{"bad http port", []string{"demo", "--http", ":99999", "-o", "plain"}, 2, "--http \":99999\": port"},
		{"bad connect address", []string{"demo", "client", "--connect", "x:y:z", "-o", "plain"}, 2, "--connect"},
		{"port in use", []string{"demo", "server", "--listen", busy.Addr().String(), "-o", "plain"}, 1, "address already in use (pick another with --listen)"},
		{"metrics port in use", []string{"demo", "--metrics", busy.Addr().String(), "-o", "plain"}, 1, "address already in use (pick another with --metrics)"},
		{"attach metrics port in use", []string{"attach", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--metrics", busy.Addr().String(), "-o", "json"}, 1, "metrics: listen tcp " + busy.Addr().String()},
		{"bad metrics address", []string{"demo", "--metrics", "nonsense", "-o", "plain"}, 2, `--metrics "nonsense" is not an address`},
		{"metrics-sessions without metrics", []string{"demo", "--metrics-sessions", "5", "-o", "plain"}, 2, "--metrics-sessions needs --metrics ADDR"},
		{"metrics-sessions beyond the cap", []string{"attach", ":9000", "--metrics", ":0", "--metrics-sessions", "101", "-o", "plain"}, 2, "--metrics-sessions 101: use 0 to 100"},
		// A name from a glob or a bug report's attachment: its escape and
		// newline would reach the terminal raw, and make two lines.
		{"file name with an escape and a newline", []string{"read", "no\x1b]0;title\asuch\nfile.pcap"}, 1, "read: open no.]0;title.such.file.pcap: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			msg := stderr.String()
			if !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr = %q, want one line containing %q", msg, tc.want)
			}
			if i := strings.IndexFunc(strings.TrimSuffix(msg, "\n"), unicode.IsControl); i >= 0 {
				t.Errorf("stderr = %q: a control character at %d reaches the terminal", msg, i)
			}
		})
	}
}

func TestHistoryBytes(t *testing.T) {
	const (
		slot    = 64        // live/history.go: a slot per record
		pos     = 8         // the TUI's frame list: a seq per record at most
		batch   = 8192      // live.DefaultScan: records the printer reads at a time
		reserve = 256 << 20 // the GC's headroom above the history, at most
		mib     = int64(1 << 20)
	)
	record := int64(unsafe.Sizeof(live.Record{})) // a reader's batch: a copied Record per record
	for _, tc := range []struct {
		history, snaplen int
		output           string
		live             int64 // what the history keeps live
	}{
		{100_000, 256, "plain", 100_000*(slot+256) + batch*(record+256)},
		{100_000, 256, "tui", 100_000*(slot+256) + batch*(record+256) + 100_000*pos},
		{10_000, 32768, "json", 10_000*(slot+32768) + batch*(record+32768)},
		{10_000, 32768, "tui", 10_000*(slot+32768) + batch*(record+32768) + 10_000*pos},
		{1000, 65535, "plain", 1000*(slot+65535) + 1000*(record+65535)}, // a batch is at most the history
		{0, 256, "tui", 0},
		{10, 0, "tui", 10*slot + 10*record + 10*pos},
		{10, 0, "json", 10*slot + 10*record},
	} {
		got := historyBytes(tc.history, tc.snaplen, tc.output)
		if want := tc.live + min(tc.live, reserve); got != want {
			t.Errorf("historyBytes(%d, %d, %s) = %d MiB, want %d MiB", tc.history, tc.snaplen, tc.output, got/mib, want/mib)
		}
	}
	// Peak RSS measured with 32 KiB PSH frames through `muxtop attach`
	// under the memory limit muxtop sets: json and plain 0.83 GB for 20 s,
	// the TUI, reading history in place, 670 MB for 90 s. The estimate must
	// not promise less.
	for _, tc := range []struct {
		output string
		peak   int64
	}{{"json", 832e6}, {"plain", 829e6}, {"tui", 670e6}} {
		if got := historyBytes(10_000, 32768, tc.output); got < tc.peak {
			t.Errorf("historyBytes(10000, 32768, %s) = %d MB, under the %d MB measured", tc.output, got/1e6, tc.peak/1e6)
		}
	}
}

// TestEveryInterfaceWarning runs each command that listens with an
// unspecified address, on port 0 and for a moment only, and checks that
// stderr says once that the port is reachable from other machines; and
// with loopback, that it says nothing of the kind.
func TestEveryInterfaceWarning(t *testing.T) {
	dead := freePort(t) // the client's service and attach's upstream: nothing is dialled anyway
	const warning = "reachable from other machines"
	for _, tc := range []struct {
		name string
		args []string
		warn string // the flags the warning names; "" for none
	}{
		{"attach", []string{"attach", dead, "--listen", "0.0.0.0:0"}, "attach: --listen 0.0.0.0:0 listens on every interface"},
		{"attach v6", []string{"attach", dead, "--listen", "[::]:0"}, "attach: --listen [::]:0 listens on every interface"},
		{"attach loopback", []string{"attach", dead, "--listen", "127.0.0.1:0"}, ""},
		{"demo server", []string{"demo", "server", "--listen", "0.0.0.0:0"}, "demo server: --listen 0.0.0.0:0 listens on every interface"},
		{"demo server loopback", []string{"demo", "server", "--listen", "127.0.0.1:0"}, ""},
		{"demo client", []string{"demo", "client", "--connect", dead, "--http", "0.0.0.0:0"}, "demo client: --http 0.0.0.0:0 listens on every interface"},
		{"demo client loopback", []string{"demo", "client", "--connect", dead, "--http", "127.0.0.1:0"}, ""},
		{"demo service", []string{"demo", "--listen", "0.0.0.0:0"}, "demo: --listen 0.0.0.0:0 listens on every interface"},
		{"demo gateway", []string{"demo", "--http", "0.0.0.0:0"}, "demo: --http 0.0.0.0:0 listens on every interface"},
		{"demo both", []string{"demo", "--listen", "0.0.0.0:0", "--http", "0.0.0.0:0"}, "demo: --listen 0.0.0.0:0 and --http 0.0.0.0:0 listen on every interface"},
		{"demo loopback", []string{"demo"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(strings.Join(tc.args, " "), "[::]") {
				if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
					t.Skip("no IPv6:", err)
				} else {
					l.Close()
				}
			}
			for _, out := range []string{"plain", "json"} {
				var stdout, stderr syncBuffer
				args := append(slices.Clone(tc.args), "-o", out, "--duration", "1ms")
				if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
					t.Fatalf("%s: exit %d: %s", out, code, stderr.String())
				}
				msg := stderr.String()
				switch n := strings.Count(msg, warning); {
				case tc.warn == "" && n != 0:
					t.Errorf("%s: a warning with a loopback address:\n%s", out, msg)
				case tc.warn != "" && (n != 1 || !strings.Contains(msg, "muxtop: "+tc.warn)):
					t.Errorf("%s: stderr %q, want one line %q ... %q", out, msg, tc.warn, warning)
				}
				if strings.Contains(stdout.String(), warning) {
					t.Errorf("%s: the warning is in the capture too, which says it twice:\n%s", out, stdout.String())
				}
			}
		})
	}
}

func TestEveryInterface(t *testing.T) {
	for _, tc := range []struct {
		ls   []listener
		want string
	}{
		{[]listener{{"--listen", "127.0.0.1:9000", "127.0.0.1:9000"}}, ""},
		{[]listener{{"--listen", "localhost:9000", "127.0.0.1:9000"}}, ""},
		{[]listener{{"--listen", "10.0.0.5:9000", "10.0.0.5:9000"}}, ""}, // one interface, spelled out
		{[]listener{{"--listen", "0.0.0.0:9000", "0.0.0.0:9000"}},
			"x: --listen 0.0.0.0:9000 listens on every interface: port 9000 is reachable from other machines"},
		{[]listener{{"--listen", "0.0.0.0:0", "[::]:41234"}},
			"x: --listen 0.0.0.0:0 listens on every interface, IPv4 and IPv6: port 41234 is reachable from other machines"},
		{[]listener{{"--listen", "[::ffff:0.0.0.0]:9000", "[::]:9000"}},
			"x: --listen [::ffff:0.0.0.0]:9000 listens on every interface, IPv4 and IPv6: port 9000 is reachable from other machines"},
		{[]listener{{"--listen", "[::]:9000", "[::]:9000"}, {"--http", "127.0.0.1:8080", "127.0.0.1:8080"}},
			"x: --listen [::]:9000 listens on every interface, IPv4 and IPv6: port 9000 is reachable from other machines"},
		{[]listener{{"--listen", "0.0.0.0:9000", "0.0.0.0:9000"}, {"--http", "0.0.0.0:8080", "0.0.0.0:8080"}},
			"x: --listen 0.0.0.0:9000 and --http 0.0.0.0:8080 listen on every interface: ports 9000 and 8080 are reachable from other machines"},
	} {
		if got := everyInterface("x", tc.ls...); got != tc.want {
			t.Errorf("everyInterface(%v) = %q, want %q", tc.ls, got, tc.want)
		}
	}
}

// TestDemoLeakSummary: after demo --leak, the summary, plain and JSON,
// counts the suspected leaks as the header showed them, LEAK's, with the oldest
// one's age, the stalls with their threshold and the violations by code;
// JSON's status is the load generator's figures as an object.
func TestDemoLeakSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	for _, output := range []string{"json", "plain"} {
		t.Run(output, func(t *testing.T) {
			t.Parallel() // two demos, each on ports of its own
			// The demo runs until a LEAK has opened, then stops (a fixed
			// --duration 2500ms ended before one opened where a loaded
			// machine started the load late).
			opened := regexp.MustCompile(map[string]string{"json": `"type":"finding-opened".*"code":"LEAK"|"code":"LEAK".*"type":"finding-opened"`, "plain": ` FINDING \d+ LEAK `}[output])
			out, _ := runDemoUntil(t, "LEAK opened", opened.MatchString, "--leak", "--output", output,
				"--rate", "100", "--pool", "2", "--leak-after", "1s")
			if output == "plain" {
				sum := out[strings.LastIndex(out, "muxtop summary"):]
				for _, want := range []*regexp.Regexp{
					regexp.MustCompile(`\n  leaks     [1-9]\d* suspected: the open LEAK findings' count at the last evaluation, streams open and idle longer than 1s that no other finding explains nor an smux v1 reader may still be reading; the oldest for [1-9]\d*(\.\d)? s( \(\d+ open longer than 1s in all\))?(; (some of them|they) ended with their sessions since, as muxtop stopped)?\n`),
					regexp.MustCompile(`\n  stalls    0: no writer held at a full flow-control window for 2s when the capture ended\n`),
					regexp.MustCompile(`\n  violations 0 framing, 0 anomalies\n`),
					regexp.MustCompile(`\n  status    load 100/s  ok [1-9]\d*  err 0  skipped \d+  p50 \S+  p99 \S+\n`),
				} {
					if !want.MatchString(sum) {
						t.Errorf("the summary does not match %s:\n%s", want, sum)
					}
				}
				return
			}
			c := parseJSON(t, out)
			leaks, _ := c.summary["leaks"].(map[string]any)
			if n, _ := leaks["count"].(float64); n < 1 || leaks["evaluated"] != true || leaks["after_seconds"] != 1.0 || leaks["oldest_seconds"].(float64) < 1 {
				t.Errorf("summary leaks %v, want some older than 1 s", c.summary["leaks"])
			}
			if stalls, _ := c.summary["stalls"].(map[string]any); stalls["count"] != 0.0 || stalls["after_seconds"] != 2.0 {
				t.Errorf("summary stalls %v, want 0 after 2 s", c.summary["stalls"])
			}
			if codes, ok := c.summary["by_code"].(map[string]any); !ok || len(codes) != 0 {
				t.Errorf("summary by_code %v, want an empty object", c.summary["by_code"])
			}
			status, ok := c.summary["status"].(map[string]any)
			if !ok || status["rate"] != 100.0 || status["ok"].(float64) < 1 || status["errors"] != 0.0 {
				t.Errorf("summary status %v, want the load generator's fields", c.summary["status"])
			}
		})
	}
}

func TestFaultList(t *testing.T) {
	for _, args := range [][]string{{"demo", "--fault", "list"}, {"demo", "server", "--fault", "list"}, {"demo", "client", "--fault", "list"}} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 || stderr.String() != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
		for _, f := range demo.Faults {
			if !strings.Contains(stdout.String(), f.Name+" ("+f.Side+" side") {
				t.Errorf("%v: %s is not listed with its side:\n%s", args, f.Name, stdout.String())
			}
			for _, p := range []demo.Protocol{demo.Smux, demo.Yamux} {
				_, shows, whyNot := f.For(p)
				if !strings.Contains(stdout.String(), shows+whyNot) {
					t.Errorf("%v: %s does not say what it shows over %s, or why it does not apply:\n%s", args, f.Name, p, stdout.String())
				}
			}
		}
	}
}
