package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/capperm"
	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestSniffClosedFirst: sniff on loopback watches a real smux session
// whose client closes the connection first, and one whose server does;
// each session ends by EOF saying which end closed first, in the words of
// read and attach ("the client 127.0.0.1:51234 closed first"), in the
// JSON and plain output. Without root or CAP_NET_RAW it skips, as the
// other sniff tests do.
func TestSniffClosedFirst(t *testing.T) {
	for _, serverFirst := range []bool{false, true} {
		for _, out := range []string{"json", "plain"} {
			t.Run(map[bool]string{false: "client first", true: "server first"}[serverFirst]+"/"+out, func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				_, port, _ := strings.Cut(ln.Addr().String(), ":")
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var stdout, stderr syncBuffer
				done := make(chan int, 1)
				go func() {
					done <- run(ctx, []string{"sniff", "-i", "lo", "--port", port, "-o", out}, &stdout, &stderr)
				}()
				exited := func() {
					select {
					case code := <-done:
						if strings.Contains(stderr.String(), "CAP_NET_RAW") {
							capperm.Missing(t, "sniff needs root or CAP_NET_RAW")
						}
						t.Fatalf("sniff: exit %d: %s", code, stderr.String())
					default:
					}
				}
				smuxtest.Eventually(t, "sniff to start", func() bool {
					exited()
					return strings.Contains(stderr.String(), "capturing on")
				})
				client := closeFirstSession(t, ln, serverFirst)
				want := "the client " + client + " closed first"
				if serverFirst {
					want = "the server " + ln.Addr().String() + " closed first"
				}
				ended := func() string {
					for _, l := range strings.Split(stdout.String(), "\n") {
						if strings.Contains(l, "session-ended") || strings.Contains(l, "session ended") {
							return l
						}
					}
					return ""
				}
				smuxtest.Eventually(t, "sniff to see the session end", func() bool {
					exited()
					return ended() != ""
				})
				cancel()
				if code := <-done; code != 0 {
					t.Fatalf("sniff: exit %d: %s", code, stderr.String())
				}
				line := ended()
				t.Logf("sniff -o %s: %s", out, line)
				if !strings.Contains(line, want) || out == "json" && !strings.Contains(line, `"reason":"eof"`) {
					t.Errorf("sniff -o %s: the session's end %q does not say it ended by EOF, %q", out, line, want)
				}
			})
		}
	}
}
