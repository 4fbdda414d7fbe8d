package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// failAfter accepts n bytes, then fails every write, as a disk that fills.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errors.New("no space left on device")
	}
	f.n -= len(p)
	return len(p), nil
}

// A --write file whose writes fail loses what comes after, and says so:
// not as a writer that fell behind, which it did not.
func TestWriteFailureIsNotFallingBehind(t *testing.T) {
	w, err := pcapout.New(&failAfter{n: 1 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := &writeFlags{path: "capture.pcapng", limit: 1024, w: w}
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", time.Now())
	chunk := make([]byte, 32<<10)
	for range 64 { // 2 MiB: past the writer's buffer, so writes fail
		c.Write(live.ClientToServer, time.Now(), chunk)
	}
	var stderr bytes.Buffer
	if err := f.close(context.Background(), &stderr); err == nil {
		t.Fatal("close: no error from a file that could not be written")
	}
	if w.Dropped() == 0 {
		t.Fatalf("nothing counted as not written; stderr:\n%s", stderr.String())
	}
	if out := stderr.String(); strings.Contains(out, "fell behind") || !strings.Contains(out, "not written") {
		t.Errorf("stderr:\n%s", out)
	}
	// No reader sees them as lost: the file simply ends where it failed.
	// Before: "… not written (writing the file failed); a reader sees them as lost".
	if want := notWrittenFailed("capture.pcapng", w.Dropped()) + "\n"; !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant it to begin %q", stderr.String(), want)
	}
}

// A --write file whose writes fail says so at the first failure, as a
// notice every front end shows while the capture goes on, naming the file
// and the error; once, however many writes fail after it. The report at
// exit stays.
func TestWriteFailureIsANotice(t *testing.T) {
	w, err := pcapout.New(&failAfter{n: 1 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	f := &writeFlags{path: "capture.pcapng", limit: 1024, w: w}
	f.watch(reg)
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", time.Now())
	chunk := make([]byte, 32<<10)
	write := func() {
		for range 64 { // 2 MiB: past the writer's buffer, so writes fail
			c.Write(live.ClientToServer, time.Now(), chunk)
		}
	}
	write()
	notices := func() []live.Notice { return reg.Snapshot().Notices }
	smuxtest.Eventually(t, "a notice of the failed write", func() bool { return len(notices()) > 0 })
	if n := notices()[0].Text; !strings.Contains(n, "--write capture.pcapng") || !strings.Contains(n, "no space left on device") {
		t.Errorf("notice %q: want the file and the error", n)
	}
	write()
	var stderr bytes.Buffer
	if err := f.close(context.Background(), &stderr); err == nil || !strings.Contains(stderr.String(), "not written") {
		t.Errorf("close: %v, stderr %q; want the error and what was not written, at exit too", err, stderr.String())
	}
	if n := len(notices()); n != 1 {
		t.Errorf("%d notices, want 1: %v", n, notices())
	}
}

// `demo --write /dev/full`: the full disk is a notice of the plain output
// while the demo runs, within about a second, not first after the
// summary at exit; the exit says the file and the OS error, with nothing
// of the program's insides (no "pcapout:").
func TestWriteFullSaidWhileRunning(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--output", "plain", "--write", "/dev/full"}, &stdout, &stderr)
	}()
	const want = "notice: --write /dev/full: write /dev/full: no space left on device"
	// Said while the demo runs (it runs until cancel): within a flush or
	// two on a quiet machine, waited for up to a minute on a loaded one.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stdout.String(), want) {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no %q on stdout while the demo ran; stdout:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if out := stderr.String(); !strings.Contains(out, "muxtop: --write /dev/full: write /dev/full: no space left on device\n") || strings.Contains(out, "pcapout") {
		t.Errorf("stderr:\n%s\nwant the file and the OS error, no package name", out)
	}
	if strings.Contains(stdout.String(), "pcapout") {
		t.Errorf("stdout names the package:\n%s", stdout.String())
	}
}

// TestNotWrittenAgrees: the line saying what --write could not write
// agrees its pronoun with the count. Before, one byte read "1 byte not
// written (…); a reader sees them as lost".
func TestNotWrittenAgrees(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{1, "muxtop: --write c.pcapng: 1 byte not written (the writer fell behind); a reader sees it as lost"},
		{2, "muxtop: --write c.pcapng: 2 bytes not written (the writer fell behind); a reader sees them as lost"},
	} {
		if got := notWritten("c.pcapng", tc.n, "the writer fell behind"); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.n, got, tc.want)
		}
	}
}

// gated holds every write until open is closed, as a disk that stalls.
type gated struct {
	open chan struct{}
	buf  bytes.Buffer
}

func (g *gated) Write(p []byte) (int, error) { <-g.open; return g.buf.Write(p) }

// TestWriteEndsLostSaid: a --write file whose writer fell behind so far
// that a conn's FIN and close found no room says so at exit, as it says
// the bytes it could not write: the reader may see that conn still open.
func TestWriteEndsLostSaid(t *testing.T) {
	g := &gated{open: make(chan struct{})}
	w, err := pcapout.New(g, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := &writeFlags{path: "capture.pcapng", limit: 1024, w: w}
	now := time.Now()
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*pcapout.Conn)
	for i := range 20_000 { // handshakes fill the whole queue
		w.Conn("127.0.0.1:1001", "127.0.0.1:"+strconv.Itoa(3000+i%60000), now)
	}
	c.End(live.ClientToServer, now)
	c.Closed(live.ClientToServer, now)
	n := w.EndsLost()
	if n == 0 {
		t.Fatal("no end lost: the queue never filled")
	}
	close(g.open)
	var stderr bytes.Buffer
	if err := f.close(context.Background(), &stderr); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("muxtop: --write capture.pcapng: %d connection beginnings or ends (handshakes, FINs, RSTs, closes) not written (the writer fell behind); a reader may see those connections still open at the capture's end, or begun mid-stream\n", n)
	if out := stderr.String(); !strings.Contains(out, want) {
		t.Errorf("stderr:\n%s\nwant the line\n%s", out, want)
	}
}

// A --write file that reaches --write-limit says so as it does, a notice
// every front end shows, once; and at exit says that the file ends there,
// not that a reader sees a loss: the file holds no gap, it stops. Before,
// nothing was said while running, and the exit line read
//
//	muxtop: --write capture.pcapng: 1048576 bytes not written (the file reached --write-limit 1 MiB); a reader sees them as lost
func TestWriteLimitSaid(t *testing.T) {
	w, err := pcapout.New(io.Discard, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	f := &writeFlags{path: "capture.pcapng", limit: 1, w: w}
	f.watch(reg)
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", time.Now())
	chunk := make([]byte, 32<<10)
	for range 64 { // 2 MiB, past the limit
		c.Write(live.ClientToServer, time.Now(), chunk)
	}
	notices := func() []live.Notice { return reg.Snapshot().Notices }
	smuxtest.Eventually(t, "a notice of the limit reached", func() bool { return len(notices()) > 0 })
	const want = "--write capture.pcapng reached --write-limit 1 MiB: the file ends here; what passes from now on, later sessions included, is not in it"
	if n := notices()[0].Text; n != want {
		t.Errorf("notice %q, want %q", n, want)
	}
	later := w.Conn("127.0.0.1:1001", "127.0.0.1:2000", time.Now())
	later.Write(live.ClientToServer, time.Now(), chunk)
	var stderr bytes.Buffer
	if err := f.close(context.Background(), &stderr); err != nil {
		t.Fatal(err)
	}
	out := stderr.String()
	if !strings.Contains(out, "muxtop: --write capture.pcapng: the file ends where it reached --write-limit 1 MiB: what came after, ") ||
		!strings.Contains(out, " and any later sessions, is not in it") || strings.Contains(out, "as lost") {
		t.Errorf("stderr:\n%s\nwant the file's end at the limit, and no loss a reader sees", out)
	}
	if n := len(notices()); n != 1 {
		t.Errorf("%d notices, want 1: %v", n, notices())
	}
}

// TestWriteDropsBeforeLimitSaidApart: bytes a full queue dropped before
// the --write file reached --write-limit are a loss a reader of the file
// sees (a hole in the sequence numbers), and are said as that, apart from
// what came after the limit, which the file simply does not hold. Before,
// the exit counted them all as after the limit, in one line, and said
// nothing of the writer falling behind.
func TestWriteDropsBeforeLimitSaidApart(t *testing.T) {
	g := &gated{open: make(chan struct{})}
	w, err := pcapout.New(g, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	f := &writeFlags{path: "capture.pcapng", limit: 1, w: w}
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", time.Now())
	// The file stalls: its 256 KiB buffer and the queue's events fill,
	// and the rest of these 20 000 writes find no room.
	for range 20_000 {
		c.Write(live.ClientToServer, time.Now(), []byte{0})
	}
	before := w.Dropped()
	if before == 0 || w.Full() {
		t.Fatalf("dropped %d, full %v: want a queue that overflowed short of the limit", before, w.Full())
	}
	close(g.open)
	chunk := make([]byte, 32<<10)
	// Written on until the file is full, once the writer drained the
	// queue: those that find it full still are dropped before the limit.
	smuxtest.Eventually(t, "the file at its limit", func() bool {
		c.Write(live.ClientToServer, time.Now(), chunk)
		return w.Full()
	})
	c.Write(live.ClientToServer, time.Now(), chunk) // after the limit
	var stderr bytes.Buffer
	if err := f.close(context.Background(), &stderr); err != nil {
		t.Fatal(err)
	}
	out := stderr.String()
	fell := fmt.Sprintf("muxtop: --write capture.pcapng: %d bytes not written (the writer fell behind); a reader sees them as lost\n", w.Dropped())
	if w.Dropped() < before || !strings.Contains(out, fell) {
		t.Errorf("stderr:\n%s\nwant the bytes the queue dropped before the limit said as the writer falling behind:\n%s", out, fell)
	}
	cut := fmt.Sprintf("muxtop: --write capture.pcapng: the file ends where it reached --write-limit 1 MiB: what came after, %d bytes and any later sessions, is not in it", w.PastLimit())
	if w.PastLimit() < int64(len(chunk)) || !strings.Contains(out, cut) {
		t.Errorf("stderr:\n%s\nwant what came after the limit said apart:\n%s", out, cut)
	}
}
