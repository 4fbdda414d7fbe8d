//go:build linux

package pcapout_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return path
}

// TestCreateFIFOReaderLeaves: Create opened a FIFO to read and write
// (os.Create), so the Writer was a reader of its own FIFO: once the real
// reader left, its writes never failed with EPIPE, they blocked for
// good, and Close with them. Now it opens it write-only: the writes fail,
// OnError says so, and Close returns the error.
// Before: "Close did not return within a minute of the reader leaving".
func TestCreateFIFOReaderLeaves(t *testing.T) {
	path := mkfifo(t)
	rd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapout.Create(path, 0)
	if err != nil {
		unix.Close(rd)
		t.Fatal(err)
	}
	var failed atomic.Pointer[error]
	w.OnError(func(err error) { failed.Store(&err) })
	unix.Close(rd) // the reader leaves, without reading
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now())
	payload := make([]byte, 16<<10)
	for i := 0; i < 64 && failed.Load() == nil; i++ { // 1 MiB: more than the pipe holds
		c.Write(live.ClientToServer, time.Time{}, payload)
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		if !errors.Is(err, unix.EPIPE) {
			t.Errorf("Close: %v; want EPIPE", err)
		}
		if p := failed.Load(); p == nil || !errors.Is(*p, unix.EPIPE) {
			t.Errorf("OnError was not told of EPIPE: %v", p)
		}
	case <-time.After(time.Minute):
		// Free the writer (a reader that drains the FIFO) before failing.
		if f, err := os.OpenFile(path, os.O_RDONLY, 0); err == nil {
			go io.Copy(io.Discard, f)
		}
		t.Fatal("Close did not return within a minute of the reader leaving")
	}
}

// TestCreateFIFOWaitsForReader: a FIFO that no reader has open yet is
// waited for, said once (noReader), until a reader opens it, which then
// reads the capture; or until the context ends, in ErrNoReader.
func TestCreateFIFOWaitsForReader(t *testing.T) {
	path := mkfifo(t)
	var told atomic.Int32
	type result struct {
		w   *pcapout.Writer
		err error
	}
	got := make(chan result, 1)
	go func() {
		w, err := pcapout.CreateWaiting(context.Background(), path, 0, func() { told.Add(1) })
		got <- result{w, err}
	}()
	smuxtest.EventuallyWithin(t, "noReader called", time.Minute, func() bool { return told.Load() > 0 })
	select {
	case r := <-got:
		t.Fatalf("CreateWaiting returned with no reader: %v", r.err)
	default:
	}
	f, err := os.Open(path) // blocks until the writer opens it too
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	read := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(f); read <- b }()
	c := r.w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now())
	c.Write(live.ClientToServer, time.Time{}, []byte("ping"))
	if err := r.w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := told.Load(); n != 1 {
		t.Errorf("noReader called %d times; want once", n)
	}
	if ws := windows(<-read, 40000); len(ws) == 0 {
		t.Error("the reader read no packet of the client's")
	}

	ctx, cancel := context.WithCancel(context.Background())
	other := mkfifo(t)
	go func() {
		_, err := pcapout.CreateWaiting(ctx, other, 0, cancel)
		got <- result{nil, err}
	}()
	if r := <-got; !errors.Is(r.err, pcapout.ErrNoReader) {
		t.Errorf("CreateWaiting with its context ended: %v; want ErrNoReader", r.err)
	}
}

// TestCreateFIFOCountsEachPage: Written grew only once a whole flush of
// the buffer (256 KiB) had gone into the FIFO, so a close to a reader
// slower than ~128 KB/s showed no progress for the --write close's 2 s
// and a second signal cut it while it moved. Now a FIFO is written a
// page at a time, each counted as the pipe takes it: with the pipe full,
// Written is what the reader has taken and the pipe holds, and it grows
// by each page the reader frees. The pieces end at the file's page
// boundaries, so a flush's last, partial page is filled by the next
// flush's first piece, and a full pipe's pages are all whole (pieces of
// a page regardless of the offset left one partly filled at each small
// flush, and a test that waited for the pipe full waited for good).
func TestCreateFIFOCountsEachPage(t *testing.T) {
	path := mkfifo(t)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	rd := os.NewFile(uintptr(fd), path)
	defer rd.Close()
	size, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	inPipe := func() int {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	w, err := pcapout.Create(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	defer func() { // the reader drains the pipe, so that the close ends; bounded
		go io.Copy(io.Discard, rd)
		go func() { closed <- w.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("Close did not return within a minute of the reader draining the FIFO")
		}
	}()
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now())
	// Small flushes first (FlushEvery after each packet), each ending
	// inside a page, two of them more than a page: at 64 KiB a write,
	// the second went to a page of its own, the first's left partial.
	for i := range 3 {
		before := inPipe()
		c.Write(live.ClientToServer, time.Time{}, make([]byte, 2500+i))
		smuxtest.EventuallyWithin(t, fmt.Sprintf("flush %d in the pipe", i+1), time.Minute, func() bool { return inPipe() > before })
	}
	for range 32 { // 512 KiB: more than the buffer and the pipe hold
		c.Write(live.ClientToServer, time.Time{}, make([]byte, 16<<10))
	}
	full := func(what string, want int64) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			n, written := inPipe(), w.Written()
			if n == size && written == want {
				return
			}
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatalf("%s: Written %d, the pipe holding %d of its %d bytes; want %d written, the pipe full, every page whole", what, written, n, size, want)
		}
	}
	full("the pipe full", int64(size))
	page := make([]byte, os.Getpagesize())
	if k, err := io.ReadFull(rd, page); err != nil {
		t.Fatalf("read a page: %d, %v", k, err)
	}
	full("a page read", int64(size+len(page)))
}
