package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// idleLeakAfter is --leak-after in the tests of a live capture that goes
// quiet, and idleMargin the wall time past it, and past liveLag, that
// the LEAK may take to open (the tick of a loaded machine, the printer).
// liveLag is how far a Live's heartbeats leave read's clock behind the
// program's at most: a heartbeat's period and its slack.
const (
	idleLeakAfter = time.Second
	idleMargin    = 5 * time.Second
	liveLag       = pcapout.LiveHeartbeatEvery + pcapout.HeartbeatSlack
)

// leakThenIdle runs the program of the review in-process: an smux v2
// server that taps its own listener into rec and echoes every stream,
// and a client of its own (untapped) that opens 10 streams, a round trip
// each, closes 8 and leaves every fifth open, then holds them and sends
// nothing more (keepalive off, as an idle program's with a long
// interval). It returns once the traffic is done: the streams leaked.
func leakThenIdle(t *testing.T, rec tap.Recorder) int {
	t.Helper()
	cfg := smuxtest.Config(2)
	cfg.KeepAliveDisabled = true
	cli, _ := tappedEcho(t, live.New(live.Config{}), rec, cfg)
	leaked := 0
	for i := 1; i <= 10; i++ {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		req := fmt.Sprintf("REQ %d\n", i)
		if _, err := st.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, make([]byte, len(req))); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			leaked++ // held open, idle: the leak
			continue
		}
		st.Close()
	}
	return leaked
}

// tappedEcho starts the program of the tests of a live capture: an smux
// server of cfg that taps its own listener into reg and rec and echoes
// every stream, and a client of its own (untapped) of cfg, dialled to
// it. It returns the client's session and the listener; both close, and
// the server returns, when the test ends.
func tappedEcho(t *testing.T, reg *live.Registry, rec tap.Recorder, cfg *smux.Config) (*smux.Session, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { // ends with the listener, closed at cleanup
		defer close(served)
		smuxtest.ServeEcho(tap.WrapListener(ln, reg, "svc", tap.Record(rec)), cfg)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); ln.Close(); <-served })
	return cli, ln
}

// pipeGET GETs url and copies the answer's body down a new pipe, as curl
// URL | does, through what wrap makes of the pipe's write end (the end
// itself where wrap is nil). It returns the pipe's read end. The body,
// the copy and the pipe end when the test does.
func pipeGET(t *testing.T, url string, wrap func(pw *os.File) io.Writer) *os.File {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = pw
	if wrap != nil {
		w = wrap(pw)
	}
	copied := make(chan struct{})
	go func() { // ends as the body is closed, at cleanup
		defer close(copied)
		io.Copy(w, resp.Body)
	}()
	t.Cleanup(func() { resp.Body.Close(); <-copied; pw.Close(); pr.Close() })
	return pr
}

// readIdle runs read url -o json --leak-after idleLeakAfter in-process
// until stop, which cancels it, as ctrl+c does, and returns its exit
// code; the test's end stops it too. stdout and stderr are what it
// writes.
func readIdle(t *testing.T, url string) (stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	stdout, stderr = new(syncBuffer), new(syncBuffer)
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"read", url, "-o", "json", "--leak-after", idleLeakAfter.String()}, stdout, stderr)
	}()
	stop = sync.OnceValue(func() int {
		cancel()
		return <-code
	})
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// leakOpened returns the first LEAK finding-opened record in out, JSON
// output, or nil.
func leakOpened(t *testing.T, out string) map[string]any {
	t.Helper()
	for l := range strings.Lines(out) {
		if strings.Contains(l, `"type":"finding-opened"`) && strings.Contains(l, `"code":"LEAK"`) {
			return parseRecord(t, l)
		}
	}
	return nil
}

// leakLatest returns the latest record, finding-opened or
// finding-updated, of the first LEAK finding in out, JSON output, or nil:
// its count grows as the streams cross --leak-after, which on a loaded
// machine an evaluation or more apart (streams leaked 0.4 s apart: the
// LEAK opened counting 1, and was updated to 2).
func leakLatest(t *testing.T, out string) map[string]any {
	t.Helper()
	first := leakOpened(t, out)
	if first == nil {
		return nil
	}
	latest := first
	for l := range strings.Lines(out) {
		if strings.Contains(l, `"type":"finding-updated"`) && strings.Contains(l, `"code":"LEAK"`) {
			if r := parseRecord(t, l); r["finding"] == first["finding"] {
				latest = r
			}
		}
	}
	return latest
}

// parseRecord parses one JSON record.
func parseRecord(t *testing.T, line string) map[string]any {
	t.Helper()
	c := parseJSON(t, line+`{"type":"summary"}`+"\n")
	if len(c.other) != 1 {
		t.Fatalf("not one record: %q", line)
	}
	return c.other[0]
}

// TestReadURLIdleLeak: read URL of a tapped program that leaks streams
// and then goes idle opens the LEAK within --leak-after (and
// how far its heartbeats leave it behind, liveLag) of the idle, as the
// program's own tap would: a Live's clock goes on by its heartbeats
// while nothing is tapped. Before, it stood at the last packet,
// and read said no finding however long the program held them:
//
//	no LEAK 7s after the program went idle holding 2 streams (--leak-after 1s)
func TestReadURLIdleLeak(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	lc, url := serveCapture(t)
	stdout, stderr, stop := readIdle(t, url)
	waitViewers(t, lc, 1)
	leaked := leakThenIdle(t, lc)
	idle := time.Now()
	bound := idleLeakAfter + liveLag + idleMargin
	var leak map[string]any
	for leak == nil || leak["count"] != float64(leaked) {
		if time.Since(idle) > bound {
			stop()
			if leak != nil {
				t.Fatalf("LEAK counts %v streams %v after the program went idle, want the %d leaked: %v", leak["count"], bound.Round(time.Second), leaked, leak)
			}
			t.Fatalf("no LEAK %v after the program went idle holding %d streams (--leak-after %v); stderr:\n%s", bound.Round(time.Second), leaked, idleLeakAfter, stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the output, which has no event to await
		leak = leakLatest(t, stdout.String())
	}
	t.Logf("LEAK counts the %d streams %v after the program went idle", leaked, time.Since(idle).Round(time.Millisecond))
	if c := stop(); c != 0 { // ctrl+c
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
	s := parseJSON(t, stdout.String()).summary
	if l := s["leaks"].(map[string]any); l["count"] != float64(leaked) {
		t.Errorf("summary leaks %v: want count %d", l, leaked)
	}
}

// TestReadLiveIdleLeakBinary: the built muxtop, as a user runs it beside
// the program, read URL and read - of the same live capture piped in
// (curl URL | muxtop read -, as tcpdump -U -w - | muxtop read -): the
// LEAK opens while the program idles, within a --duration that leaves it
// --leak-after and a margin, not at the end.
func TestReadLiveIdleLeakBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds muxtop and runs it for seconds")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	bin := muxtopBinary(t)
	for _, how := range []string{"url", "pipe"} {
		t.Run(how, func(t *testing.T) {
			lc, url := serveCapture(t)
			duration := idleLeakAfter + liveLag + idleMargin
			args := []string{"read", url, "-o", "json", "--leak-after", idleLeakAfter.String(), "--duration", duration.String()}
			cmd := exec.Command(bin, args...)
			if how == "pipe" {
				args[1] = "-"
				cmd = exec.Command(bin, args...)
				cmd.Stdin = pipeGET(t, url, nil) // a pipe, as tcpdump's
			}
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitViewers(t, lc, 1)
			leaked := leakThenIdle(t, lc)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("read: %v: %s", err, stderr.String())
			}
			leak := leakLatest(t, stdout.String())
			if leak == nil {
				t.Fatalf("no LEAK in a run of %v, the program idle holding %d streams for most of it; stderr:\n%s", duration, leaked, stderr.String())
			}
			if leak["count"] != float64(leaked) {
				t.Errorf("LEAK counts %v streams, want the %d leaked", leak["count"], leaked)
			}
			if s := parseJSON(t, stdout.String()).summary; s["leaks"].(map[string]any)["count"] != float64(leaked) {
				t.Errorf("summary leaks %v: want count %d", s["leaks"], leaked)
			}
		})
	}
}

// TestReadReplayIdleNoLeak: the same program's capture down a pipe that
// then stays open, with no heartbeat, stands still at its last packet, as
// read says, and no LEAK opens however long the pipe is quiet: written
// earlier and replayed (cat old.pcap, then nothing), and written as it
// is captured, stamped now (tcpdump -U -w -, whose pipe carries no
// heartbeat: a stalled pipe, ssh or network cannot be told from a quiet
// program). Before, a pipe whose packets were stamped within 5 s of this
// machine's clock went on by the wall clock:
//
//	a pipe with no heartbeat, stamped now, was taken for live: ... the capture is live, and its clock goes on by the wall clock ...
func TestReadReplayIdleNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds muxtop and runs it for seconds")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	for _, c := range []struct {
		name string
		ago  time.Duration
	}{{"replayed", time.Hour}, {"stamped-now", 0}} {
		t.Run(c.name, func(t *testing.T) { readPipeIdleNoLeak(t, c.ago) })
	}
}

func readPipeIdleNoLeak(t *testing.T, ago time.Duration) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaked := leakThenIdle(t, w)
	if err := w.Close(); err != nil { // what the taps recorded, written
		t.Fatal(err)
	}
	ps := pcaptest.Read(t, &buf)
	for i := range ps {
		ps[i].CI.Timestamp = ps[i].CI.Timestamp.Add(-ago) // captured ago
	}
	var old bytes.Buffer
	pcaptest.Write(t, &old, ps)

	bin := muxtopBinary(t)
	cmd := exec.Command(bin, "read", "-", "-o", "json", "--leak-after", idleLeakAfter.String())
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := in.Write(old.Bytes()); err != nil { // and the pipe stays open
		t.Fatal(err)
	}
	// The notice comes 3 s or more into the quiet (a late tick says 4s),
	// past --leak-after and liveLag: by then a clock that went on
	// would have opened it.
	const still = "s: the capture's clock, packet time, stands still until the next packet"
	start := time.Now()
	for !strings.Contains(stderr.String(), still) {
		time.Sleep(20 * time.Millisecond) // polling stderr, which has no event to await
		if strings.Contains(stderr.String(), "the capture is live") || strings.Contains(stderr.String(), "heartbeats") {
			t.Fatalf("a pipe with no heartbeat, captured %v ago, was taken for live:\n%s", ago, stderr.String())
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("read - did not say, 30 s into its pipe's quiet, that the clock stands still; stderr:\n%s", stderr.String())
		}
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("read -: %v: %s", err, stderr.String())
	}
	if leak := leakOpened(t, stdout.String()); leak != nil {
		t.Errorf("a quiet pipe with no heartbeat opened %v: its %d streams were idle only as long as its packets show", leak, leaked)
	}
	if s := parseJSON(t, stdout.String()).summary; s["findings_opened"] != 0.0 {
		t.Errorf("summary: %v findings opened, want none", s["findings_opened"])
	}
}
