package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// refusedClients connects n clients at once to a proxy at addr whose
// upstream is down, and waits until each is closed.
func refusedClients(t *testing.T, addr string, n int) {
	t.Helper()
	// All dialed first, then each waited for: one after another, each
	// waiting for its refusal, they spread over more than CHURN's 10 s
	// on a loaded machine under -race (ci90, ci91: no CHURN in a minute).
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := conn.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
			t.Fatalf("read from a client whose upstream is down: %v, want the proxy to close it", err)
		}
	}
}

// waitEnded waits until n sessions have ended in a's output, in either
// format.
func waitEnded(t *testing.T, a *attachRun, n int) {
	t.Helper()
	smuxtest.Eventually(t, fmt.Sprintf("%d sessions to end in the output", n), func() bool {
		out := a.stdout.String()
		return strings.Count(out, "session ended")+strings.Count(out, `"type":"session-ended"`) >= n
	})
}

// TestAttachSummarySaysUpstreamDown: three clients of an attach whose
// upstream refuses every connection; the summary, plain and JSON, says
// the upstream refused all three, not only that three sessions ended.
// No frame went by: the plain summary says so in one line, where it
// printed a table of smux's commands, each 0 each way; JSON's frames
// keeps smux's keys, each 0, as the README says.
func TestAttachSummarySaysUpstreamDown(t *testing.T) {
	dead := freePort(t) // nothing listens here now
	t.Run("plain", func(t *testing.T) {
		a := runAttach(t, dead, "--output", "plain")
		refusedClients(t, a.addr, 3)
		waitEnded(t, a, 3)
		a.stop(t)
		out := a.stdout.String()
		want := fmt.Sprintf("\n  upstream  %s refused 3 of 3 connections (the last: connection refused)\n", dead)
		if !strings.Contains(out, want) {
			t.Errorf("the summary does not say %q:\n%s", strings.TrimSpace(want), out)
		}
		if !strings.Contains(out, "\n  frames    none seen\n") || strings.Contains(out, "\n            SYN ") {
			t.Errorf("the summary does not say in one line that no frame was seen:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		a := runAttach(t, dead)
		refusedClients(t, a.addr, 3)
		waitEnded(t, a, 3)
		a.stop(t)
		c := parseJSON(t, a.stdout.String())
		up, _ := c.summary["upstream"].(map[string]any)
		want := map[string]any{"address": dead, "connections": 3.0, "failed": 3.0, "refused": 3.0, "last_error": "connection refused"}
		if fmt.Sprint(up) != fmt.Sprint(want) {
			t.Errorf("summary upstream = %v, want %v", c.summary["upstream"], want)
		}
		zero := map[string]any{"SYN": 0.0, "FIN": 0.0, "PSH": 0.0, "NOP": 0.0, "UPD": 0.0}
		if got, want := fmt.Sprint(c.summary["frames"]), fmt.Sprint(map[string]any{"c2s": zero, "s2c": zero}); got != want {
			t.Errorf("summary frames = %s, want %s", got, want)
		}
	})
}

// TestAttachSummaryUpstreamUp: with the upstream up, the JSON summary
// counts its connections and no failure, and the plain one has no
// upstream line.
func TestAttachSummaryUpstreamUp(t *testing.T) {
	up := echoServer(t, 1)
	for _, format := range []string{"plain", "json"} {
		t.Run(format, func(t *testing.T) {
			a := runAttach(t, up, "--output", format)
			conn, err := net.Dial("tcp", a.addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write([]byte{1, 0, 0, 0, 3, 0, 0, 0}); err != nil { // v1 SYN of stream 3
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the session to open", func() bool {
				out := a.stdout.String()
				return strings.Contains(out, "session opened") || strings.Contains(out, `"type":"session-opened"`)
			})
			conn.Close()
			waitEnded(t, a, 1)
			a.stop(t)
			out := a.stdout.String()
			if format == "plain" {
				if strings.Contains(out, "\n  upstream ") {
					t.Errorf("an upstream line though the upstream took every connection:\n%s", out)
				}
				return
			}
			c := parseJSON(t, out)
			want := map[string]any{"address": up, "connections": 1.0, "failed": 0.0}
			if fmt.Sprint(c.summary["upstream"]) != fmt.Sprint(want) {
				t.Errorf("summary upstream = %v, want %v", c.summary["upstream"], want)
			}
		})
	}
}
