package main

import (
	"bytes"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"
)

// TestTcpdumpBulkThenRead: a bulk transfer over smux is healthy, to a
// reader that keeps up and to one that reads in bursts, whose TCP window
// closes and opens again many times under the load: read of its tcpdump
// capture opens nothing (readCounts): a healthy run's closed windows are
// no finding. Its windows close for less than zeroSettle, so how long one
// must stay closed (zeroSettle, --blocked-after) is pinned by the capture
// package's TestZeroWindowMomentary and the live unit tests, not here.
func TestTcpdumpBulkThenRead(t *testing.T) {
	if testing.Short() {
		t.Skip("captures a bulk transfer for seconds")
	}
	bin := tcpdumpPath(t)
	for _, tc := range []struct {
		name  string
		pause time.Duration // after each read of the server's streams
	}{{"fast reader", 0}, {"bursty reader", 2 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freePort(t)
			file := filepath.Join(t.TempDir(), "bulk.pcap")
			stop := startTcpdump(t, bin, addr, file)
			smuxBulk(t, addr, 2, 16<<20, tc.pause)
			if drops, stats := stop(); drops > 0 {
				t.Skipf("tcpdump dropped %d packets: the machine is too busy to capture every packet (%s)", drops, stats)
			}
			// How often the capture shows the server's window closed: the
			// bursty reader's must, or the test proves nothing.
			out, err := exec.Command(bin, "-nn", "-r", file, "src port "+addr[strings.LastIndex(addr, ":")+1:]+
				" and tcp[14:2] = 0 and tcp[tcpflags] & (tcp-syn|tcp-rst) = 0").Output()
			if err != nil {
				t.Fatal(err)
			}
			zero := bytes.Count(out, []byte("\n"))
			t.Logf("%d packets of the server's with a zero window", zero)
			if tc.pause > 0 && zero == 0 {
				t.Errorf("the bursty reader's window never closed")
			}
			readCounts(t, file)
		})
	}
}

// smuxBulk sends n bytes on each of streams smux streams from a client to
// a server on addr, whose reader waits pause after each read, and returns
// once the server has read them all.
func smuxBulk(t *testing.T, addr string, streams, n int, pause time.Duration) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the server: done when it has read every stream to its end
		defer wg.Done()
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		sess, err := smux.Server(c, smux.DefaultConfig())
		if err != nil {
			t.Error(err)
			return
		}
		defer sess.Close()
		var rg sync.WaitGroup
		for range streams {
			st, err := sess.AcceptStream()
			if err != nil {
				t.Error(err)
				return
			}
			rg.Add(1)
			go func() {
				defer rg.Done()
				buf := make([]byte, 32<<10)
				got := 0
				for {
					k, err := st.Read(buf)
					got += k
					if err != nil {
						if err != io.EOF || got != n {
							t.Errorf("server read %d bytes of %d: %v", got, n, err)
						}
						return
					}
					time.Sleep(pause)
				}
			}()
		}
		rg.Wait()
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := smux.Client(c, smux.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var cg sync.WaitGroup
	for range streams {
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		cg.Add(1)
		go func() {
			defer cg.Done()
			for sent := 0; sent < n; sent += len(chunk) {
				if _, err := st.Write(chunk[:min(len(chunk), n-sent)]); err != nil {
					t.Error(err)
					return
				}
			}
			st.Close()
		}()
	}
	cg.Wait()
	wg.Wait()
	sess.Close()
}
