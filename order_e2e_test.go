package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// orderCapture records, as --write does, at the clients' taps, real
// hashicorp/yamux v0.1.2 sessions over loopback TCP with a connection
// that is not a mux and one that never says what it is, and returns the
// capture's path, the frames the taps counted, and the times the
// undecidable connection opened and ended.
//
// Session A opens a stream and subscribes (WINDOW_UPDATE SYN, DATA
// "SUB"), which the server accepts (WINDOW_UPDATE ACK): fewer headers
// than a chain, so the reader cannot tell it yamux until its client's
// next frames, 1.2 s later, as in a tcpdump capture of a yamux server
// with a subscriber. Sessions B and C ask for 100 bytes every 50 ms
// meanwhile, for 4.5 s and at least minAsks times each; an HTTP client
// asks once; and a client that
// sent one byte, a yamux version byte and nothing more, stays connected
// throughout: the reader holds it undecided to the end.
func orderCapture(t *testing.T) (path string, frames uint64, undecided [2]time.Time) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	web, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	// The yamux server: each stream answers every "REQ n" line with n bytes.
	yamuxServed := smuxtest.ServeYamux(ln, cfg, func(st net.Conn) {
		rd := bufio.NewReader(st)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			var n int
			if _, err := fmt.Sscanf(line, "REQ %d", &n); err == nil {
				st.Write(bytes.Repeat([]byte{'a'}, n))
			}
		}
	})
	var served sync.WaitGroup
	served.Add(1)
	go func() { // the HTTP server
		defer served.Done()
		c, err := web.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rd := bufio.NewReader(c)
		for {
			line, err := rd.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	}()
	reg := live.New(live.Config{})
	dial := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return tap.Wrap(c, live.Client, reg, "order", tap.Record(w))
	}
	session := func() *yamux.Session {
		s, err := yamux.Client(dial(ln.Addr().String()), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ask := func(st net.Conn, n int) {
		if _, err := fmt.Fprintf(st, "REQ %d\n", n); err != nil {
			t.Error(err)
			return
		}
		if _, err := io.ReadFull(st, make([]byte, n)); err != nil {
			t.Error(err)
		}
	}

	// The undecidable connection: its SYN and a byte, and its end at the
	// capture's, written as the capture would show them.
	undecided[0] = time.Now()
	odd := w.Conn("127.0.0.1:40001", ln.Addr().String(), undecided[0])
	// Its byte at its SYN's time: stamped later (it was a millisecond),
	// it went ahead of the packets written after it, and the capture's
	// disorder, the order checks' slack, was that much, not the taps'.
	odd.Write(live.ClientToServer, undecided[0], []byte{0})

	a := session()
	sub, err := a.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(sub, "SUB\n"); err != nil {
		t.Fatal(err)
	}
	var clients sync.WaitGroup
	for range 2 {
		s := session()
		clients.Add(1)
		go func() {
			defer clients.Done()
			defer s.Close()
			// At least minAsks asks, whatever the machine's speed: the
			// taps count 4 frames of an ask by the time it returns (SYN,
			// request, ACK, answer; 6 with the two FINs), and the test
			// wants 100 and more.
			end := time.Now().Add(4500 * time.Millisecond)
			for i := 0; i < minAsks || time.Now().Before(end); i++ {
				if i > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				st, err := s.OpenStream()
				if err != nil {
					t.Error(err)
					return
				}
				ask(st, 100)
				st.Close()
			}
		}()
	}
	h := dial(web.Addr().String())
	io.WriteString(h, "GET / HTTP/1.0\r\n\r\n")
	io.ReadAll(h)
	h.Close()
	time.Sleep(1200 * time.Millisecond)
	ask(sub, 10)
	sub.Close()
	a.Close()
	clients.Wait()
	undecided[1] = time.Now()
	odd.End(live.ClientToServer, undecided[1])
	odd.End(live.ServerToClient, undecided[1])
	ln.Close()
	web.Close()
	served.Wait()
	yamuxServed()
	time.Sleep(100 * time.Millisecond) // the taps' last records
	for _, ss := range reg.Snapshot().Sessions {
		for d := range ss.Counts.TypeFrames {
			for _, n := range ss.Counts.TypeFrames[d] {
				frames += n
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "order.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, frames, undecided
}

// minAsks is how many times each of orderCapture's sessions B and C
// asks at least, however slow the machine: 4.5 s of asks every 50 ms made
// 15 in all under -race on a loaded machine (ci95: "the taps counted 96
// frames", 6 of session A and 6 an ask).
const minAsks = 20

// TestReadInTimeOrder: read's records, plain and JSON, come in capture
// time order across connections, whichever of them the reader had to
// hold before it could tell it yamux, and none is lost. Before, session
// A's records, held until its third header, came after B's and C's of
// the second after A began ("09:49:31.836208 #4 session opened" after
// a frame of #1 at 09:49:32.837351, in an auditor's tcpdump capture).
func TestReadInTimeOrder(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	path, frames, _ := orderCapture(t)
	if frames < 100 {
		t.Fatalf("the taps counted %d frames: the sessions did not run", frames)
	}
	slack := disorder(t, path)

	var plain, stderr syncBuffer
	if code := run(context.Background(), []string{"read", path, "-o", "plain"}, &plain, &stderr); code != 0 {
		t.Fatalf("read -o plain: exit %d: %s", code, stderr.String())
	}
	checkPlainOrder(t, plain.String(), slack)

	var out syncBuffer
	stderr = syncBuffer{}
	if code := run(context.Background(), []string{"read", path, "-o", "json"}, &out, &stderr); code != 0 {
		t.Fatalf("read -o json: exit %d: %s", code, stderr.String())
	}
	checkJSONOrder(t, "read", out.String(), frames, slack)

	t.Run("slow pipe", func(t *testing.T) {
		bin := muxtopBinary(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "read", "-", "-o", "json")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 { // a slow pipe: packets come a few at a time
			n := min(len(data), 8<<10)
			if _, err := in.Write(data[:n]); err != nil {
				t.Fatal(err)
			}
			data = data[n:]
			time.Sleep(time.Millisecond)
		}
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("read -: %v: %s", err, errOut.String())
		}
		checkJSONOrder(t, "read -", out.String(), frames, slack)
	})
}

// checkPlainOrder fails the test if a line of plain output has a time
// earlier, by more than slack as plain output can show it (plainSlack),
// than a line before it.
func checkPlainOrder(t *testing.T, out string, slack time.Duration) {
	t.Helper()
	lines, back := plainGoesBack(out, slack)
	for _, b := range back {
		t.Error(b)
	}
	if lines < 100 {
		t.Errorf("%d timed lines of plain output:\n%s", lines, out)
	}
}

// plainGoesBack returns how many timed lines plain output out has, and
// a complaint for each line whose time is earlier than that of a line
// before it by more than plainSlack(slack).
func plainGoesBack(out string, slack time.Duration) (lines int, back []string) {
	slack = plainSlack(slack)
	var prev time.Time
	var prevLine string
	for _, l := range strings.Split(out, "\n") {
		stamp, _, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		at, err := time.Parse(live.TimeLayout, stamp)
		if err != nil {
			continue // the summary
		}
		lines++
		if lines > 1 && prev.Sub(at) > slack {
			back = append(back, fmt.Sprintf("plain output goes back %v in time:\n%.100s\n%.100s", prev.Sub(at), prevLine, l))
		}
		if lines == 1 || at.After(prev) {
			prev, prevLine = at, l
		}
	}
	return lines, back
}

// plainSlack returns how far back in time plain output's lines may go
// for a capture whose packets go back slack: plain output's times are
// truncated to the µs (live.TimeLayout), so two records d ≤ slack apart
// print less than d + 1µs apart, in whole µs: at most slack rounded up
// to the µs, and no more. (Records 269.333µs apart, as far as their
// capture's packets went back, printed ".470462" before ".470192": 270µs
// back.)
func plainSlack(slack time.Duration) time.Duration {
	return (slack + time.Microsecond - 1).Truncate(time.Microsecond)
}

// checkJSONOrder fails the test unless every record of JSON output has a
// time no earlier than the records before it (but by slack) and a seq
// after theirs, and
// the frames recorded are the frames the taps counted (want), each
// session's first records after its opening.
func checkJSONOrder(t *testing.T, what, out string, want uint64, slack time.Duration) {
	t.Helper()
	var prev time.Time
	var prevRec string
	var seq float64
	var recorded uint64
	opened := map[float64]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: not JSON: %q", what, sc.Text())
		}
		if m["type"] == "session-opened" {
			opened[m["session"].(float64)] = true
		}
		if m["type"] == "frame" {
			recorded++
			if s := m["session"].(float64); !opened[s] {
				t.Errorf("%s: a frame of session %v before the session opened: %.200s", what, s, sc.Text())
				opened[s] = true
			}
		}
		if s, ok := m["seq"].(float64); ok {
			if s <= seq {
				t.Errorf("%s: seq %v after %v", what, s, seq)
			}
			seq = s
		}
		ts, ok := m["time"].(string)
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("%s: time %q: %v", what, ts, err)
		}
		if prev.Sub(at) > slack {
			t.Errorf("%s: JSON goes back %v in time:\n%.200s\n%.200s", what, prev.Sub(at), prevRec, sc.Text())
		}
		if at.After(prev) {
			prev, prevRec = at, sc.Text()
		}
	}
	if recorded != want {
		t.Errorf("%s: %d frame records, the taps counted %d frames", what, recorded, want)
	}
	if len(opened) != 3 {
		t.Errorf("%s: %d sessions opened, want 3 (A, B and C)", what, len(opened))
	}
}

// TestReadHoldsTheOthersBoundedly: a connection that never says what it
// is (a SYN and one byte, open for the whole capture) holds the others'
// records for no longer than the order's bound: as each packet is read,
// the capture time the registry stands at is within 3 s of the packet's,
// and the sessions' frames up to then are recorded, in time order.
func TestReadHoldsTheOthersBoundedly(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	path, frames, undecided := orderCapture(t)
	src, rd, reg := pcaptest.OpenFile(t, path, pcap.Config{})
	const bound = 3 * time.Second
	var last time.Time
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rd.Packet(data, ci, src.LinkType())
		last = ci.Timestamp
		if lag := ci.Timestamp.Sub(reg.Now()); lag > bound {
			t.Fatalf("at %v the registry stands at %v, %v behind: the undecided connection holds the others for longer than %v",
				ci.Timestamp.Format("15:04:05.000000"), reg.Now().Format("15:04:05.000000"), lag, bound)
		}
	}
	// Before the end, which decides the undecidable connection, the
	// frames up to 3 s before it are recorded.
	var latest time.Time
	for next := uint64(0); ; {
		recs, n := reg.Frames(live.Query{From: next}, nil)
		for _, rec := range recs {
			if rec.Kind == live.FrameRecord && rec.At.After(latest) {
				latest = rec.At
			}
		}
		if n == next {
			break
		}
		next = n
	}
	if latest.Before(last.Add(-bound - 200*time.Millisecond)) {
		t.Errorf("before the capture's end (%v), the latest frame recorded is at %v", last.Format("15:04:05.000000"), latest.Format("15:04:05.000000"))
	}
	if !undecided[0].Before(latest) {
		t.Errorf("no frame recorded after the undecidable connection began, at %v", undecided[0].Format("15:04:05.000000"))
	}
	rd.Close()
	var n uint64
	for _, ss := range reg.Snapshot().Sessions {
		for d := range ss.Counts.TypeFrames {
			for _, k := range ss.Counts.TypeFrames[d] {
				n += k
			}
		}
	}
	if n != frames {
		t.Errorf("%d frames read, the taps counted %d", n, frames)
	}
}

// disorder returns how far back in time the packets of the capture at
// path go, at most: the taps that recorded it take a packet's time before
// the writer has it, and two sessions' packets can come out of order by
// as long as a recording goroutine is descheduled between the two (a few
// hundred nanoseconds on an idle machine, hundreds of µs to ms on a busy
// one: the two yamux sessions asking in lockstep). Read's records, in the
// capture's order, may go back as far (plain output, to the µs, as far
// rounded up: plainSlack).
func disorder(t *testing.T, path string) time.Duration {
	t.Helper()
	src, _, _ := pcaptest.OpenFile(t, path, pcap.Config{})
	var latest time.Time
	var back time.Duration
	for {
		_, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		back = max(back, latest.Sub(ci.Timestamp))
		if ci.Timestamp.After(latest) {
			latest = ci.Timestamp
		}
	}
	if back > 100*time.Millisecond {
		t.Skipf("the capture's packets go back %v in time: the machine is too busy for its taps to record in order", back)
	}
	return back
}
