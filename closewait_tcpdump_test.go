package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// closeWaitConn serves one accepted conn of ln with a real smux server
// (cfg) that echoes its streams and returns from its accept loop when
// AcceptStream fails; it closes its session only when hold is closed,
// as a server that never calls Close holds it until killed. The client
// (ccfg) echoes one stream and, if leave, exits (its FIN); else it stays
// until stay is closed. It returns once the client has done so, and a
// channel closed when the server let go.
func closeWaitConn(t *testing.T, ln net.Listener, cfg, ccfg *smux.Config, leave bool, hold, stay <-chan struct{}) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	accepted := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		close(accepted)
		if err != nil {
			t.Error(err)
			return
		}
		sess, err := smux.Server(c, cfg)
		if err != nil {
			t.Error(err)
			return
		}
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				break // no Close: the session is held
			}
			go func() { io.Copy(st, st); st.Close() }()
		}
		<-hold
		sess.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	cli, err := smux.Client(c, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	io.ReadAll(st) // the server's FIN: nothing left unread, so the client's close is a FIN, not a reset
	if leave {
		cli.Close()
	} else {
		go func() { <-stay; cli.Close() }()
	}
	return done
}

// TestTcpdumpCloseWait: tcpdump on loopback captures real smux sessions
// (v1 and v2) whose clients exit while their servers, keepalive off,
// return from their accept loop without closing the session: smux does
// not close its conn on EOF, and the server's socket sits in CLOSE-WAIT.
// One server closes 1.5 s after its client left; another still holds
// when the capture stops, 2.5 s after; a third session, healthy, with
// keepalive, is connected throughout (its NOPs carry the capture's time
// on). muxtop read with --closewait-after 1s, the capture's time being
// its clock, opens CLOSE_WAIT for the two held sessions, s2c (the server
// holds), resolves the first as its server closes ("the session ended
// (EOF): the server no longer holds the session the client left"), and
// shows the second open at the capture's end, in the summary too; the
// healthy session has none. Without tcpdump it skips, unless
// MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestTcpdumpCloseWait(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("smux v%d", v), func(t *testing.T) {
			off := smuxtest.Config(v)
			off.KeepAliveDisabled = true
			on := smuxtest.Config(v)
			on.KeepAliveInterval, on.KeepAliveTimeout = 100*time.Millisecond, time.Minute
			holdA, holdB, stay := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var doneB, doneC <-chan struct{}
			file, _ := tcpdumpOf(t, bin, "closewait.pcap", func(ln net.Listener) {
				doneC = closeWaitConn(t, ln, on, on, false, stay, stay) // healthy, throughout
				doneA := closeWaitConn(t, ln, off, off, true, holdA, nil)
				doneB = closeWaitConn(t, ln, off, off, true, holdB, nil)
				time.Sleep(1500 * time.Millisecond)
				close(holdA) // A's server closes at last
				<-doneA
				time.Sleep(time.Second)
			})
			close(holdB)
			close(stay)
			<-doneB
			<-doneC

			c := parseJSON(t, readOK(t, file, "--closewait-after", "1s", "-o", "json"))
			var opened []map[string]any
			for _, m := range ofType(c.other, "finding-opened") {
				if m["code"] != "CLOSE_WAIT" {
					t.Errorf("another finding: %v %v", m["code"], m["text"])
					continue
				}
				opened = append(opened, m)
			}
			if len(opened) != 2 {
				t.Fatalf("%d CLOSE_WAIT opened, want 2 (the two servers that held their session): %v", len(opened), opened)
			}
			for _, m := range opened {
				if m["dir"] != "s2c" || m["severity"] != "warning" || m["limit"] != 1.0 {
					t.Errorf("opened %v", m)
				}
				if text, _ := m["text"].(string); !strings.HasPrefix(text, "the client closed its side of the connection ") ||
					!strings.Contains(text, "and the server has not closed its own nor sent a frame since: it still holds session") {
					t.Errorf("text %q", text)
				}
			}
			resolved := ofType(c.other, "finding-resolved")
			if len(resolved) != 1 || resolved[0]["session"] != opened[0]["session"] ||
				resolved[0]["detail"] != "the session ended (EOF): the server no longer holds the session the client left" {
				t.Fatalf("resolved %v, want the first server's, as it closed", resolved)
			}
			// The second still holds at the capture's end.
			fs, _ := c.summary["findings"].([]any)
			var still int
			for _, f := range fs {
				m := f.(map[string]any)
				if m["code"] == "CLOSE_WAIT" && m["session"] == opened[1]["session"] && m["resolved"] == nil {
					still++
				}
			}
			if still != 1 {
				t.Errorf("the summary's findings %v, want the second CLOSE_WAIT open", fs)
			}
			if open, _ := c.summary["findings_open"].(map[string]any); open["warning"] != 1.0 {
				t.Errorf("findings_open %v, want 1 warning", c.summary["findings_open"])
			}

			// The plain line, as a user reads it.
			plain := readOK(t, file, "--closewait-after", "1s", "-o", "plain")
			if !strings.Contains(plain, "CLOSE_WAIT") || !strings.Contains(plain, "the client closed its side of the connection") {
				t.Errorf("plain output has no CLOSE_WAIT line:\n%s", plain)
			}
			// At the default threshold, 2 min, the 2.5 s capture holds none.
			if c := parseJSON(t, readOK(t, file, "-o", "json")); len(ofType(c.other, "finding-opened")) != 0 {
				t.Errorf("findings at the default --closewait-after: %v", ofType(c.other, "finding-opened"))
			}
		})
	}
}
