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
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// stallingPipe copies a Live's stream from its answer to a pipe, as ssh
// -L or curl does, and stalls while told to: what comes meanwhile is
// kept, and written at once when the stall ends (a flood).
type stallingPipe struct {
	mu      sync.Mutex
	stalled bool
	held    bytes.Buffer
	w       *os.File
	all     bytes.Buffer // every byte written to the pipe
}

func (p *stallingPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		return p.held.Write(b)
	}
	p.all.Write(b)
	return p.w.Write(b)
}

func (p *stallingPipe) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = on
	if !on {
		p.all.Write(p.held.Bytes())
		p.w.Write(p.held.Bytes())
		p.held.Reset()
	}
}

// TestReadStalledStreamNoKeepalive: the review's stall. A healthy smux v2
// session (a keepalive NOP every 2 s, a ping and its answer every second)
// tapped into a Live, its stream read by muxtop read - through a pipe
// that stalls for 7 s, longer than KEEPALIVE's limit, and then floods
// what it held. The reader cannot tell a stall from a silent program:
// only the producer's heartbeats move its clock, and they stalled too. No
// KEEPALIVE opens, and every frame read has the time the tap gave it.
// Before, the clock went on by the wall clock through the stall, and
// read said the healthy client was frozen or gone:
//
//	a stalled stream opened KEEPALIVE: ... the client has sent nothing, not even a keepalive NOP ...
func TestReadStalledStreamNoKeepalive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds muxtop and runs it for seconds")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	bin := muxtopBinary(t)
	lc, url := serveCapture(t)
	var pipe *stallingPipe
	pr := pipeGET(t, url, func(pw *os.File) io.Writer {
		pipe = &stallingPipe{w: pw}
		return pipe
	})
	cmd := exec.Command(bin, "read", "-", "-o", "json")
	cmd.Stdin = pr
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitViewers(t, lc, 1)

	// The program: an echo server tapped into the Live, a client that
	// pings every second, keepalive every 2 s.
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(2)
	cfg.KeepAliveInterval = 2 * time.Second
	cfg.KeepAliveTimeout = time.Minute
	cli, ln := tappedEcho(t, reg, lc, cfg)
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	ping := func(n int) {
		for i := range n {
			msg := fmt.Sprintf("ping %d\n", i)
			if _, err := st.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(st, make([]byte, len(msg))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the program's pace, not a synchronisation
		}
	}
	ping(3)
	pipe.stall(true)
	ping(7) // the stall: 7 s of pings and keepalives held back
	pipe.stall(false)
	ping(3)
	// Everything the tap saw, read: the reader's frames are the tap's.
	tapped := tapFrames(reg)
	smuxtest.Eventually(t, "read to read every frame the tap saw", func() bool {
		return len(parseJSON(t, stdout.String()+`{"type":"summary"}`+"\n").frames) >= len(tapped[0])+len(tapped[1])
	})
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("read -: %v: %s", err, stderr.String())
	}
	out := parseJSON(t, stdout.String())
	for _, r := range out.other {
		if r["type"] == "finding-opened" && r["code"] == "KEEPALIVE" {
			t.Errorf("a stalled stream opened KEEPALIVE: %v", r["text"])
		}
	}
	// Each frame read is at the time of a packet of its direction in
	// what came down the pipe: the time the tap's recorder stamped.
	pipe.mu.Lock()
	ps := pcaptest.Read(t, bytes.NewReader(pipe.all.Bytes()))
	pipe.mu.Unlock()
	srvPort := uint16(ln.Addr().(*net.TCPAddr).Port)
	var stamped [2]map[string]bool
	for d := range stamped {
		stamped[d] = map[string]bool{}
	}
	for _, p := range ps {
		if len(p.Payload) == 0 {
			continue
		}
		d := live.ClientToServer
		if uint16(p.TCP.SrcPort) == srvPort {
			d = live.ServerToClient
		}
		stamped[d][p.CI.Timestamp.UTC().Format(time.RFC3339Nano)] = true
	}
	wrong := 0
	for _, f := range out.frames {
		d := live.ClientToServer
		if f["dir"] == "s2c" {
			d = live.ServerToClient
		}
		if !stamped[d][f["time"].(string)] {
			wrong++
			if wrong <= 5 {
				t.Errorf("a %v frame read at %v, no packet's time: %v", d, f["time"], f)
			}
		}
	}
	// read had every frame the tap saw when it was waited for (above);
	// NOPs the tap recorded after that, before the interrupt, read may not
	// have had yet (CI: "read 41 frames, the tap 43", compared here).
}

// tapFrames returns the times of the frames reg recorded, by direction,
// as JSON says them.
func tapFrames(reg *live.Registry) [2][]string {
	var ts [2][]string
	for next := uint64(0); ; {
		recs, n := reg.Frames(live.Query{From: next}, nil)
		for _, r := range recs {
			if r.Kind == live.FrameRecord {
				ts[r.Dir] = append(ts[r.Dir], r.At.UTC().Format(time.RFC3339Nano))
			}
		}
		if n == next {
			return ts
		}
		next = n
	}
}

// lastBeat returns the latest heartbeat in the pcapng capture raw, which
// may end in the middle of a block.
func lastBeat(raw []byte) time.Time {
	var at time.Time
	opts := pcapgo.DefaultNgReaderOptions
	opts.StatisticsCallback = func(_ int, st pcapgo.NgInterfaceStatistics) { at = st.LastUpdate }
	ng, err := pcapgo.NewNgReader(bytes.NewReader(raw), opts)
	if err != nil {
		return at
	}
	for {
		if _, _, err := ng.ReadPacketData(); err != nil {
			return at
		}
	}
}

// findingsOpened returns the findings opened in JSON output out, as
// "CODE count" lines, sorted.
func findingsOpened(t *testing.T, out string) []string {
	t.Helper()
	var fs []string
	for _, r := range parseJSON(t, out).other {
		if r["type"] == "finding-opened" {
			fs = append(fs, fmt.Sprintf("%v %v", r["code"], r["count"]))
		}
	}
	slices.Sort(fs)
	return fs
}

// TestReadSavedLiveAsLive: a Live's stream saved to a file (curl URL >
// FILE) holds its heartbeats, and muxtop read FILE goes on by them as
// read URL did live: the idle leaking program's LEAK opens in both, the
// same findings. Before, read FILE stood at the file's last packet and
// found nothing:
//
//	read FILE found [] where read URL found [LEAK 2]
func TestReadSavedLiveAsLive(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	lc, url := serveCapture(t)
	resp, err := http.Get(url) // the saved stream
	if err != nil {
		t.Fatal(err)
	}
	var saved syncBuffer
	copied := make(chan struct{})
	go func() { // ends as the body is closed
		defer close(copied)
		io.Copy(&saved, resp.Body)
	}()
	stdout, stderr, stop := readIdle(t, url)
	waitViewers(t, lc, 2)
	leakThenIdle(t, lc)
	var leak map[string]any
	smuxtest.Eventually(t, "read URL's LEAK", func() bool {
		leak = leakOpened(t, stdout.String())
		return leak != nil
	})
	opened, err := time.Parse(time.RFC3339Nano, leak["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if c := stop(); c != 0 {
		t.Fatalf("read URL: exit %d: %s", c, stderr.String())
	}
	smuxtest.Eventually(t, "the saved stream's heartbeats past the LEAK", func() bool {
		return !lastBeat(saved.bytes()).Before(opened)
	})
	resp.Body.Close()
	<-copied
	file := filepath.Join(t.TempDir(), "saved.pcapng")
	if err := os.WriteFile(file, saved.bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var fout, ferr syncBuffer
	if c := run(context.Background(), []string{"read", file, "-o", "json", "--leak-after", idleLeakAfter.String()}, &fout, &ferr); c != 0 {
		t.Fatalf("read FILE: exit %d: %s", c, ferr.String())
	}
	live, offline := findingsOpened(t, stdout.String()), findingsOpened(t, fout.String())
	if !slices.Equal(live, offline) {
		t.Errorf("read FILE found %v where read URL found %v", offline, live)
	}
}
