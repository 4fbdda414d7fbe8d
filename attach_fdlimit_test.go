package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// echoSmuxServer serves every connection to a new loopback listener with
// a real smux v1 server that echoes each stream; all until the test ends.
func echoSmuxServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				sess, err := smux.Server(c, smuxtest.Config(1))
				if err != nil {
					c.Close()
					return
				}
				defer sess.Close()
				for {
					st, err := sess.AcceptStream()
					if err != nil {
						return
					}
					go func() { io.Copy(st, st); st.Close() }()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// attach run with fewer file descriptors than its clients take (each
// proxied session takes 2): its accepts fail with EMFILE and the clients
// beyond the limit wait in the kernel's accept queue. The reviewer's run,
// 10 500 sessions under ulimit -n 20000, said it only as notices: the
// summary said nothing of the stall or the limit, and the sessions
// accepted late, whose clients had held them (and given up) before attach
// saw them, made a CHURN of sessions "living 1.4 s each … one batch of
// sessions dialed together". Now the summary and /metrics say the stall,
// its cause, the limit and the fix, and CHURN leaves the sessions accepted
// late out.
//
// Whether attach's last descriptor goes to an accept that then fails, or
// to a client whose dial of the upstream then fails, depends on how many
// attach holds of its own, which differs from machine to machine by one
// or so (CI's did): the limit is tried at two values a descriptor apart.
// Before, a dial that lacked its descriptor closed its client, counted
// it as the upstream's failure ("30 other (the last: too many open
// files)"), and the clients queued behind made a CHURN that blamed the
// upstream; attach never stalled a second, so never said it accepts
// again. Now the client is held and dialed again (tap's
// TestProxyHoldsClientOutOfDescriptors), a stall as an accept's.
func TestAttachOutOfFileDescriptorsSaysSo(t *testing.T) {
	t.Parallel() // sessions, ports and a process of its own, mostly waiting
	bin := muxtopBinary(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit to run attach with a low open-file limit")
	}
	for _, limit := range []int{40, 41} { // about 15 sessions' worth, after attach's own descriptors
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			outOfDescriptors(t, bin, prlimit, limit)
		})
	}
}

// outOfDescriptors is TestAttachOutOfFileDescriptorsSaysSo at one limit.
func outOfDescriptors(t *testing.T, bin, prlimit string, limit int) {
	const clients = 15 + 30 // 30 or so in the accept queue: more than CHURN's 20
	up := echoSmuxServer(t)
	listen, mport := freePort(t), freePort(t)
	r := startPipe(t, exec.Command(prlimit, fmt.Sprintf("--nofile=%d:%d", limit, limit), "--",
		bin, "attach", up, "--listen", listen, "--metrics", mport, "-o", "plain", "--only", "sessions,notices,findings"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("attach's output:\n%s", r.out.String())
		}
	})
	smuxtest.Eventually(t, "attach listening", func() bool {
		c, err := net.Dial("tcp", mport) // not --listen: a client there is a session
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	// Each client opens a session and a stream and sends a line: the
	// kernel takes the bytes of those in the accept queue too.
	var conns []net.Conn
	for range clients {
		c, err := net.Dial("tcp", listen)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		cfg := smuxtest.Config(1)
		cfg.KeepAliveDisabled = true
		sess, err := smux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
	}
	smuxtest.Eventually(t, "the accept failure told", func() bool {
		return strings.Contains(r.out.String(), "too many open files")
	})
	// The clients hold their sessions longer than CHURN's window, then
	// give up, those attach never accepted too: what attach then accepts
	// from its queue ends at once, but its client held it all that time.
	time.Sleep(live.ChurnWindow + time.Second)
	for _, c := range conns {
		c.Close()
	}
	var m map[string]float64
	smuxtest.Eventually(t, "every session ended and the findings evaluated since", func() bool {
		m = scrape(t, "http://"+mport+"/metrics")
		var ended float64
		for k, v := range m {
			if strings.HasPrefix(k, "muxtop_sessions_ended_total") {
				ended += v
			}
		}
		return ended >= clients
	})
	evals := m["muxtop_findings_evaluations_total"]
	smuxtest.Eventually(t, "two evaluations of the findings since", func() bool {
		m = scrape(t, "http://"+mport+"/metrics")
		return m["muxtop_findings_evaluations_total"] >= evals+2
	})
	key := fmt.Sprintf("muxtop_attach_accept_failures_total{upstream=%q}", up)
	if m[key] < 1 {
		t.Errorf("%s = %v, want the failed accepts counted", key, m[key])
	}
	if k := fmt.Sprintf("muxtop_attach_accept_stalled_seconds_total{upstream=%q}", up); m[k] <= 0 {
		t.Errorf("%s = %v, want the stall's time", k, m[k])
	}
	r.cmd.Process.Signal(os.Interrupt)
	r.exits(t, "of the interrupt")
	out := r.out.String()
	var line string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, "  accepting failed") {
			line = l
		}
	}
	for _, want := range []string{"too many open files", fmt.Sprintf("the open-file limit is %d (ulimit -n)", limit), "2 file descriptors", "accept queue", "raise the hard limit"} {
		if !strings.Contains(line, want) {
			t.Errorf("the summary's accepting line %q does not say %q:\n%s", line, want, out)
		}
	}
	if !strings.Contains(out, "notice: attach: accepting clients on "+listen+" again after") {
		t.Errorf("no notice that attach accepts again:\n%s", out)
	}
	if strings.Contains(out, "CHURN") {
		t.Errorf("a CHURN of the sessions accepted late, which their clients held %s:\n%s", live.ChurnWindow+time.Second, out)
	}
	if strings.Contains(out, "  upstream ") || strings.Contains(out, "cannot connect to upstream "+up+" for the connection from 127.0.0.1:") && strings.Contains(out, "client closed") {
		t.Errorf("a client closed for want of attach's own descriptors, or the upstream blamed for it:\n%s", out)
	}
}

// A client redialing in a loop at an attach that runs at its limit,
// because 14 held sessions take its file descriptors: each redialed
// session that ends lets an accept through and the next one fails, a
// stall of a few ms each time. Those clients hardly waited, and their
// sessions are CHURN's. Before, every session accepted within 2 s of any
// failed accept was AcceptedLate, so every one here was, and no CHURN
// opened (a reviewer's run: 100 redials, 49 failure notices and 48
// resumed notices in 1.5 s, and no CHURN). The notices of the failing
// accepts come at most once a second.
func TestAttachChurnAtFDLimit(t *testing.T) {
	t.Parallel() // a process of its own, mostly waiting
	bin := muxtopBinary(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit to run attach with a low open-file limit")
	}
	up := echoSmuxServer(t)
	listen, mport := freePort(t), freePort(t)
	start := time.Now()
	r := startPipe(t, exec.Command(prlimit, "--nofile=40:40", "--",
		bin, "attach", up, "--listen", listen, "--metrics", mport, "-o", "plain", "--only", "notices,findings"))
	smuxtest.Eventually(t, "attach listening", func() bool {
		c, err := net.Dial("tcp", mport) // not --listen: a client there is a session
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	// dial opens a session, a stream on it and sends a line.
	dial := func() net.Conn {
		c, err := net.Dial("tcp", listen)
		if err != nil {
			return nil
		}
		cfg := smuxtest.Config(1)
		cfg.KeepAliveDisabled = true
		sess, err := smux.Client(c, cfg)
		if err != nil {
			c.Close()
			return nil
		}
		if st, err := sess.OpenStream(); err == nil {
			st.Write([]byte("hello\n"))
		}
		return c
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 14 {
		if c := dial(); c != nil {
			held = append(held, c)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if c := dial(); c != nil {
					// Hold the session a little, as a client that
					// fails at once and redials does.
					time.Sleep(time.Duration(20+w*5+i%3) * time.Millisecond)
					c.Close()
				}
			}
		}()
	}
	wg.Wait()
	smuxtest.Eventually(t, "attach at its limit: an accept failed", func() bool {
		return strings.Contains(r.out.String(), "too many open files")
	})
	smuxtest.Eventually(t, "a CHURN of the redialed sessions", func() bool {
		return strings.Contains(r.out.String(), "CHURN")
	})
	r.cmd.Process.Signal(os.Interrupt)
	r.exits(t, "of the interrupt")
	out := r.out.String()
	t.Logf("%d failure notices, %d resumed notices", strings.Count(out, "notice: attach: accepting clients on "+listen+": too many open files"), strings.Count(out, " again after "))
	// At most one notice a second of the failing accepts, the first
	// included.
	if n, most := strings.Count(out, "notice: attach: accepting clients on "+listen+": too many open files"), int(time.Since(start)/time.Second)+1; n > most {
		t.Errorf("%d notices of failing accepts in %s, want at most one a second:\n%s", n, time.Since(start).Round(time.Second), out)
	}
}
