package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// serveCapture serves a new pcapout.Live on loopback at the path the
// README gives; the Live closes, then the server, when the test ends.
func serveCapture(t *testing.T) (*pcapout.Live, string) {
	t.Helper()
	lc := pcapout.NewLive()
	mux := http.NewServeMux()
	mux.Handle("/debug/muxtop/capture", lc)
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(func() { lc.Close(); srv.Close() })
	return lc, srv.URL + "/debug/muxtop/capture"
}

// waitViewers waits until lc has n viewers.
func waitViewers(t *testing.T, lc *pcapout.Live, n int) {
	t.Helper()
	smuxtest.Eventually(t, fmt.Sprintf("%d viewers of the live capture", n), func() bool { return lc.Viewers() == n })
}

// checkFrames fails t unless the JSON summary's frames, by direction and
// command (or yamux type), are the tap's counts want: every count want
// has, and no frame more.
func checkFrames(t *testing.T, c capture, want live.Counts) {
	t.Helper()
	var sum, all uint64
	for d := range 2 {
		dir := live.Dir(d).Code()
		for cmd := range decoder.NumCmds {
			if n := want.Frames[d][cmd]; n > 0 {
				if got := c.count(dir, decoder.Cmd(cmd).String()); got != n {
					t.Errorf("%s %s: read counted %d frames, the tap %d", dir, decoder.Cmd(cmd), got, n)
				}
			}
		}
		for ty := range yamux.Type(yamux.NumTypes) {
			if n := want.TypeFrames[d][ty]; n > 0 {
				if got := c.count(dir, ty.String()); got != n {
					t.Errorf("%s %s: read counted %d frames, the tap %d", dir, ty, got, n)
				}
			}
		}
		for _, n := range c.summary["frames"].(map[string]any)[dir].(map[string]any) {
			sum += uint64(n.(float64))
		}
	}
	all = want.Total()
	if sum != all {
		t.Errorf("read counted %d frames in all, the tap %d after read joined", sum, all)
	}
}

// joinedTraffic is the traffic of the tests of read URL: on a session of
// m tapped into a registry of its own and lc, stream A carries a round trip and two
// streams come and go before read joins (ready, once it has); then A
// carries three more round trips, five streams come and go, and a second
// session opens and carries four. It returns the tap's counts from where
// read joined.
func joinedTraffic(t *testing.T, m livecaptest.Mux, lc *pcapout.Live, ready func()) live.Counts {
	t.Helper()
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)
	a, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	livecaptest.RoundTrip(t, a, "before-read")
	livecaptest.Streams(t, cli, 2, "closed-before")
	before := livecaptest.Settle(t, reg, 1)
	ready()
	for i := range 3 {
		livecaptest.RoundTrip(t, a, fmt.Sprintf("after-read-%d", i))
	}
	livecaptest.Streams(t, cli, 5, "new-stream")
	cli2 := livecaptest.Tapped(t, m, reg, lc)
	livecaptest.Streams(t, cli2, 4, "second-session")
	after := livecaptest.Settle(t, reg, 1)
	return livecaptest.Delta(after.Totals, before.Totals)
}

// checkJoinedSummary checks what read's summary says of joinedTraffic:
// exactly the tap's frames from where it joined, ten streams opened (the
// nine opened since, and A, which read counts as it adopts it mid-stream
// as a tcpdump begun then does), two sessions, no violation, nothing lost
// or skipped, one session incomplete (the one open when it joined: the
// summary does not say which), as of any capture begun while a
// connection was open.
func checkJoinedSummary(t *testing.T, c capture, want live.Counts) {
	t.Helper()
	checkFrames(t, c, want)
	s := c.summary
	if s["violations"] != 0.0 || s["anomalies"] != 0.0 || s["sessions"] != 2.0 || s["streams_opened"] != 10.0 {
		t.Errorf("summary: %v violations, %v anomalies, %v sessions, %v streams opened; want none, none, 2, 10",
			s["violations"], s["anomalies"], s["sessions"], s["streams_opened"])
	}
	if s["incomplete"] != 1.0 || fmt.Sprint(s["lost"]) != "map[c2s:0 s2c:0]" || fmt.Sprint(s["skipped"]) != "map[c2s:0 s2c:0]" {
		t.Errorf("summary: incomplete %v, lost %v, skipped %v; want the joined session alone, nothing lost or skipped",
			s["incomplete"], s["lost"], s["skipped"])
	}
}

// TestReadURLRealSessions: muxtop read URL of a program's live capture
// (pcapout.Live, over real smux v1, v2 and yamux sessions tapped with
// tap.Record) counts exactly the frames the tap counted after read
// joined, none of those before; the session open when it joined is read
// as joined mid-way, with no violation; once the program closes the
// capture, read ends as read - does at its pipe's end: done, exit 0.
// Nothing of its stream is left behind.
func TestReadURLRealSessions(t *testing.T) {
	for _, m := range livecaptest.Muxes() {
		t.Run(m.Name, func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			lc, url := serveCapture(t)
			var stdout, stderr syncBuffer
			code := make(chan int, 1)
			want := joinedTraffic(t, m, lc, func() {
				go func() { code <- run(context.Background(), []string{"read", url, "-o", "json"}, &stdout, &stderr) }()
				waitViewers(t, lc, 1)
			})
			lc.Close() // the program's shutdown: the capture ends
			select {
			case c := <-code:
				if c != 0 {
					t.Fatalf("exit %d: %s", c, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("read URL did not end 30 s after the capture did")
			}
			c := parseJSON(t, stdout.String())
			checkJoinedSummary(t, c, want)
			if st, _ := c.summary["status"].(map[string]any); st["read"] != "done" {
				t.Errorf("status %v: want read done", c.summary["status"])
			}
		})
	}
}

// TestReadURLBinary: the built muxtop, read URL -o json --duration, as a
// user runs it beside the program: the same exact counts, its run ended by
// --duration (stopped early, exit 0), and its stream gone from the
// program once it exits.
func TestReadURLBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds muxtop and runs it for seconds")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	bin := muxtopBinary(t)
	lc, url := serveCapture(t)
	var stdout, stderr syncBuffer
	cmd := exec.Command(bin, "read", url, "-o", "json", "--duration", "6s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	want := joinedTraffic(t, livecaptest.Muxes()[1], lc, func() {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitViewers(t, lc, 1)
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Skipf("the traffic took %v of read's 6 s: too slow a machine to tell what read missed", d)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("read URL: %v: %s", err, stderr.String())
	}
	c := parseJSON(t, stdout.String())
	checkJoinedSummary(t, c, want)
	if st, _ := c.summary["status"].(map[string]any); st["read"] != "stopped early" {
		t.Errorf("status %v: want read stopped early, by --duration", c.summary["status"])
	}
	waitViewers(t, lc, 0)
}

// TestReadURLInterrupted: an interrupt (ctrl+c; q in the UI closes it
// alike) stops read URL as it stops read -: what came is summarised,
// stopped early, exit 0; its stream leaves the program, and no goroutine
// is left.
func TestReadURLInterrupted(t *testing.T) {
	lc, url := serveCapture(t)
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, livecaptest.Muxes()[2], reg, lc)
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"read", url, "-o", "json"}, &stdout, &stderr) }()
	waitViewers(t, lc, 1)
	livecaptest.Streams(t, cli, 3, "watched")
	smuxtest.Eventually(t, "read to print the streams' frames", func() bool { return strings.Count(stdout.String(), `"type":"frame"`) >= 3 })
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d: %s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("read URL did not end 30 s after its interrupt")
	}
	c := parseJSON(t, stdout.String())
	if st, _ := c.summary["status"].(map[string]any); st["read"] != "stopped early" || c.summary["streams_opened"] != 3.0 {
		t.Errorf("status %v, %v streams; want read stopped early, 3 streams", c.summary["status"], c.summary["streams_opened"])
	}
	waitViewers(t, lc, 0)
	livecaptest.Streams(t, cli, 1, "after") // the program's session goes on
	smuxtest.NoGoroutinesAbove(t, base)
}

// TestReadURLDurationNoPacket: a program whose taps carry nothing sends a
// capture with no packet: read URL --duration waits for one as read -
// does, and says in one line that none came, exit 1. The notice that it
// waits comes waitNoticeAfter (1 s) after the answer, and --duration
// counts from read's start: 4 s leave the answer 3 s to come, which a
// race run's load took past 0.5 s (ci78, at 1500ms: no notice).
func TestReadURLDurationNoPacket(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	lc, url := serveCapture(t)
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"read", url, "-o", "plain", "--duration", "4s"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// An answer a loaded machine took a second or more to give is said
	// first, as it should be (ci87, under -race: "waiting for … to
	// answer: connected, no answer yet").
	got := strings.TrimPrefix(stderr.String(), "muxtop: read: waiting for "+url+" to answer: connected, no answer yet\n")
	if want := "muxtop: read: waiting for the first packet from " + url + ": it answered, and nothing tapped has passed since\nmuxtop: read: no capture from " + url + " in 4s\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	waitViewers(t, lc, 0)
}

// TestReadURLErrors: what a user can get wrong about a URL is one line,
// exit 1 (2 for a usage error): nothing listening there, another status
// than 200, an answer that is no capture (an HTML page, a 404's text,
// nothing), a URL beside capture files.
func TestReadURLErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/debug/muxtop/capture"
	ln.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><body>the program's home page</body></html>\n")
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "404 page not found\n") })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/closed", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the capture is closed: the program is shutting down", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{refused}, 1, "read " + refused + ": nothing listens at " + ln.Addr().String() + " (connection refused): is the program running, and serving its capture there?"},
		{[]string{srv.URL + "/nowhere"}, 1, "read " + srv.URL + "/nowhere: the server answered 404 Not Found (it says \"404 page not found\"), not a capture: is the program serving its capture at this path?"},
		{[]string{srv.URL + "/closed"}, 1, "read " + srv.URL + "/closed: the server answered 503 Service Unavailable (it says \"the capture is closed: the program is shutting down\"), not a capture"},
		{[]string{srv.URL + "/page"}, 1, "read " + srv.URL + "/page: the server's answer is no pcap or pcapng capture (text/html; charset=utf-8, beginning \"<!DOCTYPE html>\"): is this the URL the program serves its capture at?"},
		{[]string{srv.URL + "/text"}, 1, "read " + srv.URL + "/text: the server's answer is no pcap or pcapng capture (text/plain; charset=utf-8, beginning \"404 page not found\")"},
		{[]string{srv.URL + "/empty"}, 1, "read " + srv.URL + "/empty: the server's answer is empty: no capture"},
		{[]string{"capture/testdata/base-v2.pcapng", srv.URL + "/page"}, 2, "read " + srv.URL + "/page: a URL's live capture is read alone"},
	} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), append([]string{"read", "-o", "plain"}, c.args...), &stdout, &stderr)
		out := stderr.String()
		if code != c.code || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "muxtop: "+c.want) {
			t.Errorf("read %v: exit %d, stderr %q; want exit %d, one line beginning %q", c.args, code, out, c.code, "muxtop: "+c.want)
		}
		if stdout.String() != "" {
			t.Errorf("read %v: stdout %q, want nothing", c.args, stdout.String())
		}
	}
}
