package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// reusedStreamConn serves one accepted conn of ln with a real smux server
// (cfg) answering each line read on a stream with "ok\n", the line
// "hang\n" only once hold is closed; its client opens one stream and
// reuses it for three calls answered, smuxtest.Think apart (a tight
// loop shows no requester: live.ThinkFactor), then sends a fourth line, last,
// and reads its answer in the background. It returns a channel closed
// once that answer has come, and the three calls' slowest round trip as
// the client saw it (smuxtest.Calls): the wire's slowest answer, which
// NO_REPLY's limit follows, is no longer.
func reusedStreamConn(t *testing.T, ln net.Listener, cfg *smux.Config, last string, hold <-chan struct{}) (<-chan struct{}, time.Duration) {
	t.Helper()
	go func() {
		c, err := ln.Accept()
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
				return
			}
			go smuxtest.AnswerLines(st, hold)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(st)
	slowest := smuxtest.Calls(t, st, r, "get\n", 3) // the client thinks between its calls, which the turns' timing reads
	answered := make(chan struct{})
	io.WriteString(st, last)
	go func() {
		r.ReadString('\n')
		close(answered)
	}()
	return answered, slowest
}

// TestTcpdumpNoReply: tcpdump on loopback captures real smux sessions
// (v1 and v2, keepalive every 100 ms: each side sends on the session)
// whose clients reuse one stream for their calls. On one, the server's
// handler blocks on the fourth call a second past NO_REPLY's limit (the
// longer of --unanswered-after, 1 s, and live.ReplyFactor times the
// slowest earlier answer), then answers; on another it answers all four
// at once, and the stream idles with the server's answer last. muxtop
// read with --unanswered-after 1s, the capture's time being its clock,
// opens NO_REPLY for the hung call's stream, c2s, 3 earlier answers, at
// that limit, and resolves it as the answer comes, saying how late; the
// healthy session has none. Without tcpdump it skips, unless
// MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestTcpdumpNoReply(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("smux v%d", v), func(t *testing.T) {
			cfg := smuxtest.Config(v)
			cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 100*time.Millisecond, time.Minute
			hold := make(chan struct{})
			var held time.Duration
			file, _ := tcpdumpOf(t, bin, "noreply.pcap", func(ln net.Listener) {
				healthy, _ := reusedStreamConn(t, ln, cfg, "get\n", nil)
				hung, slowest := reusedStreamConn(t, ln, cfg, "hang\n", hold)
				<-healthy
				// A second past the limit the client's slowest round trip
				// gives (no shorter than the wire's slowest answer): a
				// loaded machine's slow answers raise the limit, and a
				// fixed hold (2 s) saw none open where an answer took
				// 200 ms.
				held = smuxtest.NoReplyLimit(time.Second, slowest) + time.Second
				time.Sleep(held)
				close(hold)
				<-hung
				time.Sleep(300 * time.Millisecond)
			})
			c := parseJSON(t, readOK(t, file, "--unanswered-after", "1s", "-o", "json"))
			opened := ofType(c.other, "finding-opened")
			if len(opened) != 1 || opened[0]["code"] != "NO_REPLY" {
				t.Fatalf("findings opened %v, want one NO_REPLY", opened)
			}
			m := opened[0]
			// The limit: the longer of --unanswered-after and ReplyFactor
			// times the slowest answer the wire showed (limit to the ms,
			// slowest to the µs).
			slowest, _ := m["slowest"].(float64)
			limit, _ := m["limit"].(float64)
			if m["dir"] != "c2s" || m["sid"] != 3.0 || m["count"] != 3.0 || slowest <= 0 ||
				math.Abs(limit-max(1, live.ReplyFactor*slowest)) > 0.002 || m["severity"] != "warning" {
				t.Errorf("opened %v", m)
			}
			if text, _ := m["text"].(string); !strings.HasPrefix(text, "stream 3: the client's request, sent ") ||
				!strings.Contains(text, "has no answer; the server answered the 3 earlier ones on this stream within ") {
				t.Errorf("text %q", text)
			}
			// The answer came once the handler was released, held after
			// the request was on the wire: its wait, as the detail says
			// it, is no shorter than the hold (to the 0.1 s it shows).
			const answered = "the server answered, "
			resolved := ofType(c.other, "finding-resolved")
			if len(resolved) != 1 || resolved[0]["session"] != m["session"] {
				t.Fatalf("resolved %v, want the hung call's", resolved)
			}
			detail, _ := resolved[0]["detail"].(string)
			wait, ok := answerWait(detail, answered)
			if !ok || wait < held.Truncate(100*time.Millisecond) {
				t.Fatalf("resolved %q, want %q and a wait no shorter than the hold, %v", detail, answered, held)
			}
			// The plain lines, as a user reads them.
			plain := readOK(t, file, "--unanswered-after", "1s", "-o", "plain")
			for _, want := range []string{" FINDING 1 NO_REPLY warning: stream ", "the client's request, sent ", " RESOLVED 1 NO_REPLY after ", ": " + detail} {
				if !strings.Contains(plain, want) {
					t.Errorf("plain output wants %q:\n%s", want, plain)
				}
			}
		})
	}
}

// answerWait parses the wait a resolution's detail that begins with
// prefix says ("the server answered, 2.1 s after the request …"), in
// seconds (the form live gives a wait of a second or more).
func answerWait(detail, prefix string) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(detail, prefix)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, " s after the request")
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(num + "s")
	return d, err == nil
}
