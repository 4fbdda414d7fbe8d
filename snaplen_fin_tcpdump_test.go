package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// lastBigSession runs one real session of mux on a connection to ln
// whose last segment each way, just before that end's FIN, is a frame's
// 1000-byte body: after three small requests and answers on a stream
// (frames enough to tell the protocol), the client sends it, the server answers with
// as much, the client reads the answer and closes its connection (a FIN
// after its request), and the server closes on the EOF (a FIN after its
// answer). It returns when both ends are closed.
func lastBigSession(t *testing.T, ln net.Listener, mux smuxtest.Mux) {
	t.Helper()
	body := []byte(strings.Repeat("b", 1000))
	done := make(chan struct{})
	go func() { // the server
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		s, err := mux.Server(c)
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		st, err := s.AcceptStream()
		if err != nil {
			t.Error(err)
			return
		}
		for range 3 {
			if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
				t.Error(err)
			}
			if _, err := st.Write([]byte("pong")); err != nil {
				t.Error(err)
			}
		}
		if _, err := io.ReadFull(st, make([]byte, len(body))); err != nil {
			t.Error(err)
		}
		// The client reads it (and fails the test if it does not) and
		// closes at once: yamux's Write may then say "session shutdown".
		st.Write(body)
		s.AcceptStream() // until the client's EOF
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := mux.Client(c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // small frames first, which show the protocol
		if _, err := st.Write([]byte("ping")); err != nil {
			t.Error(err)
		}
		if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
			t.Error(err)
		}
	}
	if _, err := st.Write(body); err != nil {
		t.Error(err)
	}
	if _, err := io.ReadFull(st, make([]byte, len(body))); err != nil {
		t.Error(err)
	}
	c.Close() // the client's FIN, right after its request's body
	<-done
	s.Close()
}

// sessionEnded matches read's plain record of a session's end.
var sessionEnded = regexp.MustCompile(`(?m)^\S+ #1 session ended: .*$`)

// TestTcpdumpSnaplenFIN: tcpdump -s 96 and a whole-packet tcpdump capture
// the same real session (hashicorp/yamux, smux v2) whose last segment
// each way before its FIN is cut by the 96-byte snapshot length. Read
// back, the cut capture's session ends as the whole one's does, at the
// same time and for the same reason: a FIN that came after the bytes the
// snapshot length cut off ended nothing, and the session stayed live
// ("sessions  1 (1 live, 0 ended)") though both FINs were captured. The
// cut bytes are counted lost.
func TestTcpdumpSnaplenFIN(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, yam := range []bool{true, false} {
		t.Run(map[bool]string{false: "smux", true: "yamux"}[yam], func(t *testing.T) {
			addr := freePort(t)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cut, whole := filepath.Join(dir, "s96.pcap"), filepath.Join(dir, "full.pcap")
			stopCut := startTcpdumpOn(t, bin, "lo", addr, cut, "-s", "96")
			stopWhole := startTcpdump(t, bin, addr, whole)
			lastBigSession(t, ln, smuxtest.MuxOf(yam))
			ln.Close()
			for _, stop := range []func() (int, string){stopCut, stopWhole} {
				if drops, stats := stop(); drops > 0 {
					t.Skipf("tcpdump dropped %d packets: %s", drops, stats)
				}
			}

			var ends [2]string
			for i, file := range []string{whole, cut} {
				var stdout, stderr syncBuffer
				if code := run(context.Background(), []string{"read", file, "-o", "plain"}, &stdout, &stderr); code != 0 {
					t.Fatalf("read %s: exit %d: %s", filepath.Base(file), code, stderr.String())
				}
				out := stdout.String()
				if !strings.Contains(out, "sessions  1 (0 live, 1 ended)") {
					t.Errorf("%s: the session did not end:\n%s", filepath.Base(file), out)
				}
				ends[i] = sessionEnded.FindString(out)
				if i == 1 && !strings.Contains(out, "cut by snaplen") {
					t.Errorf("%s: no packet counted cut by the snapshot length:\n%s", filepath.Base(file), out)
				}
				if i == 1 && !regexp.MustCompile(`lost → [1-9]\d*  ← [1-9]`).MatchString(out) {
					t.Errorf("%s: the bytes cut off are not counted lost both ways:\n%s", filepath.Base(file), out)
				}
			}
			if ends[0] == "" || ends[0][len(live.TimeLayout):] != ends[1][len(live.TimeLayout):] {
				t.Errorf("the session's end: whole capture %q, cut capture %q; want the same", ends[0], ends[1])
			}
			for i, file := range []string{whole, cut} {
				// The two tcpdumps stamp a packet each in its own time.
				if at := lastFIN(t, file).Local().Format(live.TimeLayout); !strings.HasPrefix(ends[i], at+" ") {
					t.Errorf("%s: %q, want the session ended at its last FIN, %s", filepath.Base(file), ends[i], at)
				}
			}
		})
	}
}

// lastFIN returns the time of the last FIN in the capture file.
func lastFIN(t *testing.T, file string) time.Time {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var at time.Time
	for _, p := range pcaptest.Read(t, f) {
		if p.TCP.FIN {
			at = p.CI.Timestamp
		}
	}
	return at
}
