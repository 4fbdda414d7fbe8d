//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// testFIFO is a FIFO of the test's and its reader's end, open before
// muxtop opens the FIFO to write, so that its open returns at once.
type testFIFO struct {
	path string
	rd   *os.File // non-blocking (Go's poller waits for its reads)
	size int      // the pipe's capacity
}

// newTestFIFO makes a FIFO whose reader opens it and reads nothing until
// the test reads rd: a --write to it blocks once the pipe is full. The
// read end is close-on-exec: without it a process another test started
// meanwhile (go test runs them in parallel) held a copy, so the reader's
// leaving failed no write and a close left blocked waited for good. It
// closes at the test's end (leave).
func newTestFIFO(t *testing.T) *testFIFO {
	t.Helper()
	f := &testFIFO{path: filepath.Join(t.TempDir(), "w.fifo")}
	if err := unix.Mkfifo(f.path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.size, err = unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	f.rd = os.NewFile(uintptr(fd), f.path)
	t.Cleanup(f.leave)
	return f
}

// leave closes the read end, if still open: muxtop opened the FIFO
// write-only, so it is no reader of it, and its writes, blocked or to
// come, fail (EPIPE).
func (f *testFIFO) leave() { f.rd.Close() }

// full reports whether the pipe holds so much that its writer blocks:
// every page in use, the last perhaps partly. pcapout writes a FIFO in
// pieces that end at the file's pages, so each page but the last is
// whole (pieces of a page regardless of the offset left a page partly
// filled at each flush: the writer blocked with 59984 of 65536 bytes in
// the pipe, and a test that waited for it full waited for good). Nor
// need the pipe reach its size: a writer waits for a free page, not for
// room in the last (65344 of 65536 for good under -race).
func (f *testFIFO) full() bool {
	n := -1
	c, err := f.rd.SyscallConn()
	if err == nil {
		err = c.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }) // FIONREAD
	}
	return err == nil && n > f.size-os.Getpagesize()
}

// fifoRun is muxtop demo, run in a goroutine of the test's, writing
// --write to a testFIFO.
type fifoRun struct {
	fifo           *testFIFO
	news           *signalNews        // the stop signals after the first
	stop           context.CancelFunc // the first stop signal
	stdout, stderr syncBuffer
	done           chan int // the exit code, once run returns
}

// startFIFORun runs muxtop demo with args and --write to a new
// testFIFO. Whatever the outcome, the run ends before the test does, or
// the test fails a minute on (no wait is unbounded): its cleanup stops
// it, the reader leaves (the blocked writes fail), and a signal every
// 100 ms cuts a close that still waits.
func startFIFORun(t *testing.T, args ...string) *fifoRun {
	t.Helper()
	r := &fifoRun{fifo: newTestFIFO(t), news: new(signalNews), done: make(chan int, 1)}
	ctx, stop := context.WithCancel(context.WithValue(context.Background(), signalNewsKey{}, r.news))
	r.stop = stop
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		r.done <- run(ctx, append(append([]string{"demo"}, args...), "--write", r.fifo.path), &r.stdout, &r.stderr)
	}()
	t.Cleanup(func() {
		stop()
		r.fifo.leave()
		deadline := time.After(time.Minute)
		for {
			select {
			case <-ended:
				return
			case <-deadline:
				t.Errorf("muxtop demo did not return within a minute of the test's end, its stop, its reader's leaving and a signal every 100 ms; stderr: %s", r.stderr.String())
				return
			case <-time.After(100 * time.Millisecond):
				r.news.signalled()
			}
		}
	})
	return r
}

// TestWriteCloseCutBySignal: a --write file whose writes block (a FIFO
// whose reader stopped reading) held muxtop in its close for as long as
// they did, the summary printed: no signal ended it, only kill -9. Now a
// stop signal that comes meanwhile gives up on the file: one line, exit 1.
// Before: "muxtop demo did not return within 30s of the signal".
func TestWriteCloseCutBySignal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	r := startFIFORun(t, "-o", "plain", "--only", "sessions", "--pool", "2", "--rate", "1000")
	// A loaded machine (-race in CI) takes its time: a minute, not 10 s.
	smuxtest.EventuallyWithin(t, "the FIFO full", time.Minute, r.fifo.full)
	r.stop() // the first stop: the summary, then the --write file's close, which blocks
	smuxtest.EventuallyWithin(t, "the summary", time.Minute, func() bool { return strings.Contains(r.stdout.String(), "muxtop summary: ") })
	select {
	case code := <-r.done:
		t.Fatalf("muxtop demo exited %d with its --write file's writes blocked: %s", code, r.stderr.String())
	default:
	}
	// The second, again until muxtop returns: one that comes before the
	// close waits for it (nextSignal) is not the close's.
	select {
	case code := <-signalUntil(r.news, r.done, time.Minute):
		want := "muxtop: --write " + r.fifo.path + ": a signal cut its close short: its writes took nothing for 2s; the file ends where they stopped, perhaps inside a packet, without what was still queued for it nor its end\n"
		if code != 1 || !strings.HasSuffix(r.stderr.String(), want) {
			t.Errorf("exit %d, stderr %q; want 1 and the line %q", code, r.stderr.String(), want)
		}
	case <-time.After(time.Minute):
		t.Fatalf("muxtop demo did not return within a minute of the signals; stderr: %s", r.stderr.String())
	}
}

// signalUntil tells news of a stop signal every 100 ms until done gives
// the run's exit code, which it passes on, for at most d.
func signalUntil(news *signalNews, done <-chan int, d time.Duration) <-chan int {
	out := make(chan int, 1)
	go func() {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			news.signalled()
			select {
			case code := <-done:
				out <- code
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return out
}

// tmuxPane is a private tmux server's 160×45 pane running sh.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func startPane(t *testing.T) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MUXTOP_REQUIRE_TMUX") != "" {
			t.Fatal("tmux is not installed, and MUXTOP_REQUIRE_TMUX says it must run")
		}
		t.Skip("tmux is not installed")
	}
	x := &tmuxPane{t: t, socket: fmt.Sprintf("muxtop-cut-%d-%d", os.Getpid(), time.Now().UnixNano())}
	x.run("new-session", "-d", "-s", "e2e", "-x", "160", "-y", "45", "env", "-i",
		"PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(), "TERM=xterm-256color", "PS1=$ ", "sh")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	x.waitFor("the prompt", func(s string) bool { return strings.Contains(s, "$") })
	return x
}

func (x *tmuxPane) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (x *tmuxPane) keys(keys ...string) {
	x.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

func (x *tmuxPane) line(s string) { x.run("send-keys", "-t", "e2e", "-l", s); x.keys("Enter") }

// waitFor polls the pane (its history too) until ok holds, for a minute.
func (x *tmuxPane) waitFor(what string, ok func(screen string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var screen string
	for time.Now().Before(deadline) {
		if screen = x.run("capture-pane", "-p", "-J", "-S", "-200", "-t", "e2e"); ok(screen) {
			return screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	x.t.Fatalf("waited a minute for %s; the pane:\n%s", what, screen)
	return ""
}

// muxtopPID returns the pid of the pane shell's child, muxtop.
func (x *tmuxPane) muxtopPID() int {
	x.t.Helper()
	shell := strings.TrimSpace(x.run("display-message", "-p", "-t", "e2e", "#{pane_pid}"))
	var pid int
	x.waitFor("muxtop's process", func(string) bool {
		out, _ := exec.Command("pgrep", "-P", shell).Output()
		pid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
		return pid > 0
	})
	return pid
}

// killAndWait kills the process pid (the pane shell's muxtop, not this
// test's child) and waits, for a minute, until it is gone: a muxtop whose
// --write close hung outlived its test (ppid 1) when only tmux was ended.
func killAndWait(t *testing.T, pid int) {
	t.Helper()
	if err := unix.Kill(pid, unix.SIGKILL); err == unix.ESRCH {
		return
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || zombie(b) {
			return // gone, or dead and left for its parent (the shell, or init) to reap
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("muxtop (pid %d) still alive a minute after SIGKILL", pid)
}

// zombie reports whether /proc/PID/stat's content stat is a dead process's.
func zombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// exited matches the line the pane's shell prints as muxtop exits.
var exited = regexp.MustCompile(`(?m)^exit=(\d+)$`)

// TestTUIStopCutBySignal: with --output tui, a stop that hangs after the
// UI ended (here the --write file's close, its FIFO's reader stalled) is
// cut short by the next stop signal: after ctrl+c (or q), a key, ctrl+c
// at the restored terminal, a SIGINT; after a SIGTERM, a second one. muxtop exits 1 at once with
// one line, the terminal restored (the main screen, canonical mode).
// Before, neither ended it: "waited a minute for muxtop's exit".
func TestTUIStopCutBySignal(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary in tmux")
	}
	bin := muxtopBinary(t)
	for _, how := range []string{"ctrl+c twice", "SIGTERM twice"} {
		t.Run(strings.ReplaceAll(how, " ", "_"), func(t *testing.T) {
			t.Parallel()
			x := startPane(t)
			fifo := newTestFIFO(t)
			x.line(fmt.Sprintf("%s demo --pool 2 --rate 1000 --write %s; echo exit=$?", bin, fifo.path))
			x.waitFor("the UI", func(s string) bool { return strings.Contains(s, "Sessions ·") })
			pid := x.muxtopPID()
			t.Cleanup(func() { killAndWait(t, pid) }) // before tmux's kill-server, whatever the outcome
			smuxtest.EventuallyWithin(t, "the FIFO full", time.Minute, fifo.full)
			if how == "ctrl+c twice" {
				x.keys("C-c") // a key: the terminal is in raw mode
			} else {
				unix.Kill(pid, unix.SIGTERM)
			}
			x.waitFor("the summary, the UI gone", func(s string) bool { return strings.Contains(s, "muxtop summary: ") })
			if exited.MatchString(x.run("capture-pane", "-p", "-t", "e2e")) {
				t.Fatal("muxtop exited with its --write file's writes blocked")
			}
			if how == "ctrl+c twice" {
				x.keys("C-c") // SIGINT: the terminal is restored
			} else {
				unix.Kill(pid, unix.SIGTERM)
			}
			screen := x.waitFor("muxtop's exit", exited.MatchString)
			if m := exited.FindStringSubmatch(screen); m[1] != "1" || !strings.Contains(screen, "a signal cut its close short") {
				t.Errorf("want exit=1 after the line that the signal cut the close short:\n%s", screen)
			}
			if alt := strings.TrimSpace(x.run("display-message", "-p", "-t", "e2e", "#{alternate_on}")); alt != "0" {
				t.Errorf("alternate screen still on after exit: %q", alt)
			}
			x.line("echo raw=$(stty -a | grep -c -- -icanon)")
			x.waitFor("canonical mode", func(s string) bool { return strings.Contains(s, "raw=0") })
		})
	}
}

// TestUnlessCut: unlessCut returns what its work returns, or errStopCut
// as soon as the cut comes, the work still blocked.
func TestUnlessCut(t *testing.T) {
	errWork := fmt.Errorf("the work's")
	if err := unlessCut(nil, func() error { return errWork }); err != errWork {
		t.Errorf("done: %v, want %v", err, errWork)
	}
	cut, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	got := make(chan error, 1)
	go func() { got <- unlessCut(cut, func() error { <-release; return nil }) }()
	close(cut)
	if err := <-got; err != errStopCut {
		t.Errorf("cut: %v, want errStopCut", err)
	}
}

// TestWriteFIFONoReader: a --write FIFO that no reader has open yet is
// waited for, said once on stderr, and a stop signal meanwhile ends
// muxtop with one line. (Opened write-only, its open would otherwise
// block where no signal ends it.)
func TestWriteFIFONoReader(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "w.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-o", "plain", "--only", "sessions", "--write", fifo}, &stdout, &stderr)
	}()
	waiting := noReaderYet(fifo) + "\n"
	smuxtest.EventuallyWithin(t, "the line that muxtop waits", time.Minute, func() bool { return stderr.String() == waiting })
	cancel()
	select {
	case code := <-done:
		want := waiting + "muxtop: --write " + fifo + ": stopped before the FIFO had a reader; nothing was written\n"
		if code != 1 || stderr.String() != want {
			t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
		}
	case <-time.After(time.Minute):
		t.Fatalf("muxtop demo did not return within a minute of the stop; stderr: %s", stderr.String())
	}
}

// TestWriteCloseProgressNotCut: a --write close still making progress
// (its FIFO's reader slow, but reading) is not cut short by a signal: it
// says once that muxtop waits, and goes on to a whole file. Before, the
// signal cut it at once, "its writes were blocked", the file truncated;
// then a reader slower than ~128 KB/s still had its close cut, the
// file's progress counted only as a whole flush of pcapout's buffer
// (256 KiB) went: "exit 1, stderr "… a signal cut its close short: its
// writes took nothing for 2s; …"; want 0, the close not cut".
func TestWriteCloseProgressNotCut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	r := startFIFORun(t, "-o", "json", "--only", "frames", "--pool", "2", "--rate", "2000")
	smuxtest.EventuallyWithin(t, "the FIFO full", time.Minute, r.fifo.full)
	// The writer blocked, every frame from now on waits for the close:
	// 1500 of them, 140 KB of the file or more, 9 s at 16 KB/s.
	waitFramesAfter(t, &r.stdout, time.Now(), 1500)
	r.stop() // the first stop: the summary, then the close, which waits for the reader
	smuxtest.EventuallyWithin(t, "the summary", time.Minute, func() bool { return strings.Contains(r.stdout.String(), `{"type":"summary"`) })
	// The reader reads on at 16 KB/s, 2 KiB every 125 ms, for its first
	// 8 s, 4 times the close's grace (at that rate a 256 KiB flush takes
	// 16 s: its close was cut within the first 4 s), then faster; it
	// never pauses near the grace. It reads until the file's end, or
	// until it leaves at the test's end (its read fails then).
	var file []byte
	read := make(chan struct{})
	slowUntil := time.Now().Add(8 * time.Second)
	go func() {
		defer close(read)
		buf := make([]byte, 64<<10)
		for {
			b, pause := buf, 10*time.Millisecond
			if time.Now().Before(slowUntil) {
				b, pause = buf[:2<<10], 125*time.Millisecond
			}
			n, err := r.fifo.rd.Read(b)
			file = append(file, b[:n]...)
			if err != nil {
				return
			}
			time.Sleep(pause)
		}
	}()
	t.Cleanup(func() { // before the run's: the reader ends, at the file's end or as it leaves
		r.fifo.leave()
		select {
		case <-read:
		case <-time.After(time.Minute):
			t.Error("the FIFO's reader did not return within a minute of its leaving")
		}
	})
	select { // the second (again and again), while the close makes progress
	case code := <-signalUntil(r.news, r.done, 5*time.Minute):
		if code != 0 || strings.Contains(r.stderr.String(), "cut its close short") {
			t.Fatalf("exit %d, stderr %q; want 0, the close not cut", code, r.stderr.String())
		}
		if want := "muxtop: waiting for --write " + r.fifo.path + " to take what is still queued for it ("; strings.Count(r.stderr.String(), want) != 1 {
			t.Errorf("stderr %q; want once the line that begins %q", r.stderr.String(), want)
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("muxtop demo did not return within 5 minutes of the signal; stderr: %s", r.stderr.String())
	}
	select {
	case <-read:
	case <-time.After(time.Minute):
		t.Fatal("the FIFO's reader read no end of the file within a minute of muxtop's return")
	}
	ng, err := pcapgo.NewNgReader(bytes.NewReader(file), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	packets := 0
	for {
		if _, _, err = ng.ReadPacketData(); err != nil {
			break
		}
		packets++
	}
	if err != io.EOF || packets == 0 {
		t.Errorf("the file read back: %d packets, then %v; want a whole capture, io.EOF", packets, err)
	}
}

// waitFramesAfter waits, for a minute, until out, muxtop's JSON output,
// holds n frame records of frames that came after at.
func waitFramesAfter(t *testing.T, out *syncBuffer, at time.Time, n int) {
	t.Helper()
	read, seen := 0, 0
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		b := out.bytes()[read:]
		for {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				break
			}
			var rec struct {
				Type string
				Time time.Time
			}
			if json.Unmarshal(b[:i], &rec) == nil && rec.Type == "frame" && rec.Time.After(at) {
				seen++
			}
			b, read = b[i+1:], read+i+1
		}
		if seen >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %d frames after the FIFO was full; %d came", n, seen)
		}
	}
}
