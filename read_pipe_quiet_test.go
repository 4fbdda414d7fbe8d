package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// quietSmuxFrame is an smux v1 frame: cmd, stream sid, payload.
func quietSmuxFrame(cmd byte, sid uint32, payload string) []byte {
	b := make([]byte, 8+len(payload))
	b[0], b[1] = 1, cmd
	binary.LittleEndian.PutUint16(b[2:], uint16(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], sid)
	copy(b[8:], payload)
	return b
}

// idleConnCapture is a capture of an smux session A (a stream's five
// requests and replies, then AGAIN and REPLY at +1.1 s) and, from +1.0 s,
// a connection B that sends nothing after its handshake (a pool's
// freshly dialled session): B is held undecided while A records.
func idleConnCapture(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	a := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", t0)
	at := t0.Add(10 * time.Millisecond)
	a.Write(live.ClientToServer, at, quietSmuxFrame(0, 3, ""))
	for range 5 {
		at = at.Add(10 * time.Millisecond)
		a.Write(live.ClientToServer, at, quietSmuxFrame(2, 3, "hello"))
		at = at.Add(10 * time.Millisecond)
		a.Write(live.ServerToClient, at, quietSmuxFrame(2, 3, "world"))
	}
	w.Conn("127.0.0.1:40001", "127.0.0.1:9000", t0.Add(time.Second))
	at = t0.Add(1100 * time.Millisecond)
	a.Write(live.ClientToServer, at, quietSmuxFrame(2, 3, "AGAIN"))
	a.Write(live.ServerToClient, at.Add(time.Millisecond), quietSmuxFrame(2, 3, "REPLY"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadPipeQuietReleasesHeld: read - of a live tcpdump whose pipe goes
// quiet after a connection that sent nothing (held undecided) must not
// keep the other sessions' records back for as long as the pipe is quiet:
// they come out within the hold's 3 s, by the wall clock, with the
// capture's times, as the same capture read as a file prints them.
func TestReadPipeQuietReleasesHeld(t *testing.T) {
	data := idleConnCapture(t)
	path := filepath.Join(t.TempDir(), "idle.pcapng")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var fileOut, fileErr syncBuffer
	if code := run(context.Background(), []string{"read", path, "-o", "plain"}, &fileOut, &fileErr); code != 0 {
		t.Fatalf("read FILE: exit %d: %s", code, fileErr.String())
	}
	var again []string // the file's lines of AGAIN and REPLY
	for l := range strings.Lines(fileOut.String()) {
		if strings.Contains(l, "AGAIN") || strings.Contains(l, "REPLY") {
			again = append(again, l)
		}
	}
	if len(again) != 2 {
		t.Fatalf("read FILE: want AGAIN's and REPLY's lines, got:\n%s", fileOut.String())
	}

	bin := muxtopBinary(t)
	cmd := exec.Command(bin, "read", "-", "-o", "plain")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	start := time.Now()
	if _, err := in.Write(data); err != nil { // and the pipe stays open: tcpdump -U -w - runs on
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), again[1]) {
		if time.Since(start) > 8*time.Second {
			t.Fatalf("read -: A's AGAIN and REPLY not printed %v after the capture came down a pipe still open (B holding them); output:\n%s\nstderr:\n%s",
				time.Since(start).Round(time.Millisecond), out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("AGAIN/REPLY printed %v after the capture came", time.Since(start).Round(time.Millisecond))
	early := out.String()
	if !strings.HasPrefix(fileOut.String(), early) {
		t.Errorf("read - printed, while its pipe was open, other than read FILE's first lines:\n%s\nread FILE:\n%s", early, fileOut.String())
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("read -: %v: %s", err, errOut.String())
	}
	if out.String() != fileOut.String() {
		t.Errorf("read - printed:\n%s\nread FILE:\n%s", out.String(), fileOut.String())
	}
}
