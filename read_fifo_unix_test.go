//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestReadFIFO reads a capture from a pipe given by its name, a FIFO, as
// bash's muxtop read <(ssh db1 tcpdump -U -w -) gives one (/dev/fd/63): as
// read - reads standard input. Before, it was opened and read as a file:
// the open of a FIFO with no writer yet blocked, and a read of a quiet
// pipe could not be interrupted, so neither ctrl+c nor SIGTERM nor
// --duration ended it, only kill -9; nothing said that it waited.
func TestReadFIFO(t *testing.T) {
	bin := muxtopBinary(t)
	path, whole := readBaseV2(t)
	fifo := func(t *testing.T) string {
		name := filepath.Join(t.TempDir(), "cap.fifo")
		if err := unix.Mkfifo(name, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return name
	}
	start := func(t *testing.T, args ...string) *readPipe {
		r := startPipe(t, exec.Command(bin, append([]string{"read"}, args...)...))
		t.Cleanup(func() { r.cmd.Process.Kill() }) // one that did not end
		return r
	}

	// No writer has opened it (ssh still connecting): read says that it
	// waits, and an interrupt or a SIGTERM ends the wait.
	for _, sig := range []os.Signal{os.Interrupt, unix.SIGTERM} {
		t.Run(fmt.Sprint("no writer, ", sig), func(t *testing.T) {
			name := fifo(t)
			r := start(t, name, "-o", "json")
			smuxtest.Eventually(t, "read waiting for the FIFO", func() bool {
				return strings.Contains(r.errOut.String(), "read: waiting for a capture from "+name)
			})
			r.cmd.Process.Signal(sig)
			r.exits(t, "of the signal, its FIFO with no writer")
		})
	}

	// The writer wrote the capture and stays open, quiet (tcpdump waiting
	// for packets): every frame is printed, and an interrupt ends the read
	// with the summary, stopped early.
	t.Run("open and quiet", func(t *testing.T) {
		name := fifo(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := start(t, name, "-o", "json")
		w, err := os.OpenFile(name, os.O_WRONLY, 0) // waits for read's open
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the capture's last frame printed", func() bool {
			return strings.Count(r.out.String(), `"type":"frame"`) == len(whole.frames)
		})
		r.cmd.Process.Signal(os.Interrupt)
		r.exits(t, "of the interrupt, its FIFO open and quiet")
		summary := parseJSON(t, r.out.String()).summary
		if got, want := summary["frames"], whole.summary["frames"]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("read of the FIFO counted %v, read of the file %v", got, want)
		}
		if st, _ := summary["status"].(map[string]any); st["read"] != "stopped early" {
			t.Errorf("interrupted before its FIFO ended, the summary's status %v, want read stopped early", summary["status"])
		}
	})

	// --duration counts the wait for the writer too; no capture came:
	// exit 1.
	t.Run("no writer within duration", func(t *testing.T) {
		name := fifo(t)
		r := start(t, name, "-o", "json", "--duration", "1s")
		r.exitsWith(t, 1, "of its --duration 1s, its FIFO with no writer")
		if want := "read: no capture from " + name + " in 1s"; !strings.Contains(r.errOut.String(), want) {
			t.Errorf("stderr %q, want %q", r.errOut.String(), want)
		}
	})

	// --duration counts from read's start, the wait for the writer
	// included: a writer that opens late and sends nothing does not get a
	// fresh --duration for the capture's header. Before, the wait for the
	// first packet began anew at the open, and read said "no capture … in
	// 4s" up to 8 s after it began.
	t.Run("late writer within duration", func(t *testing.T) {
		const d = 4 * time.Second
		name := fifo(t)
		began := time.Now()
		r := start(t, name, "-o", "json", "--duration", d.String())
		smuxtest.Eventually(t, "read waiting for the FIFO", func() bool {
			return strings.Contains(r.errOut.String(), "read: waiting for a capture from "+name)
		})
		time.Sleep(time.Until(began.Add(d * 5 / 8))) // a writer late, not too late
		w, err := os.OpenFile(name, os.O_WRONLY|unix.O_NONBLOCK, 0)
		opened := time.Now()
		if err == nil {
			defer w.Close()
		} else if opened.Sub(began) < d {
			// ENXIO: no reader. read's open of the FIFO blocks, a reader
			// to the kernel, until --duration: gone before, it gave up
			// early.
			t.Errorf("the writer's open %v after read began, within --duration %v: %v", opened.Sub(began).Round(time.Millisecond), d, err)
		}
		r.exitsWith(t, 1, "of its --duration, its writer quiet")
		if took := time.Since(opened); err == nil && took >= d {
			t.Errorf("read exited %v after its writer opened the FIFO, %v after it began: --duration %v began anew at the open", took.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), d)
		}
		if want := "read: no capture from " + name + " in " + d.String(); !strings.Contains(r.errOut.String(), want) {
			t.Errorf("stderr %q, want %q", r.errOut.String(), want)
		}
	})

	// The writer ends before a capture's header (ssh db1 tcpdump … that
	// failed to connect): said as read - says it, not as a file that is
	// too short.
	t.Run("writer ends at once", func(t *testing.T) {
		name := fifo(t)
		go func() {
			if w, err := os.OpenFile(name, os.O_WRONLY, 0); err == nil { // waits for read's open
				w.Close()
			}
		}()
		var out, errOut syncBuffer
		code := run(context.Background(), []string{"read", name, "-o", "json"}, &out, &errOut)
		want := "muxtop: read " + name + ": it ended before a capture's header: it is empty or too short to be a capture (did its writer, such as tcpdump or ssh, fail?)\n"
		if code != 1 || errOut.String() != want {
			t.Errorf("read FIFO whose writer ended at once: exit %d, %q; want exit 1, %q", code, errOut.String(), want)
		}
	})

	// The writer stops in the middle of a packet (tcpdump or ssh killed):
	// said as a pipe's end, not as a file cut short, whose advice (wait
	// for its writer, read it again) does not apply to a pipe.
	t.Run("writer ends mid-packet", func(t *testing.T) {
		name := fifo(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if w, err := os.OpenFile(name, os.O_WRONLY, 0); err == nil { // waits for read's open
				w.Write(data[:len(data)-5]) // the last packet's last 5 bytes never come
				w.Close()
			}
		}()
		var out, errOut syncBuffer
		code := run(context.Background(), []string{"read", name, "-o", "json"}, &out, &errOut)
		if want := "muxtop: read " + name + ": the pipe ended in the middle of a packet: its writer stopped (did tcpdump or ssh end?)\n"; code != 1 || !strings.HasSuffix(errOut.String(), want) {
			t.Errorf("read FIFO whose writer stopped mid-packet: exit %d, %q; want exit 1, ending %q", code, errOut.String(), want)
		}
	})

	// A pipe among files: merged by time, the files would wait for the
	// pipe's next packet. A usage error that says so.
	t.Run("among files", func(t *testing.T) {
		name := fifo(t)
		var out, errOut syncBuffer
		code := run(context.Background(), []string{"read", path, name, "-o", "json"}, &out, &errOut)
		if want := "muxtop: read " + name + ": a pipe is read alone, as - is; give capture files, or one pipe, not both\n"; code != 2 || errOut.String() != want {
			t.Errorf("read FILE FIFO: exit %d, %q; want exit 2, %q", code, errOut.String(), want)
		}
	})
}
