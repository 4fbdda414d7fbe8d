package smuxtest

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/live"
)

// Think is a caller's work between its calls on a reused stream (a
// go-plugin host's, between the calls its program makes), in real time:
// NO_REPLY takes the stream's opener for the requester only where its
// slowest pause before a call is more than live.ThinkFactor times the
// slowest answer, and answers on loopback come within milliseconds. A
// client calling in a tight loop shows no such evidence. On a loaded
// machine an answer can take longer than Think/ThinkFactor: ThinkAfter
// says how long to think then.
const Think = 200 * time.Millisecond

// ThinkAfter is a caller's think time after calls whose slowest round
// trip, as the caller saw it, was slowest: Think, or 3 times slowest if
// longer. A tap records an answer's wait inside the caller's round trip,
// and the pause before the next call outside its think time, so the
// pause is more than live.ThinkFactor times the slowest answer however
// slowly a loaded machine answers (CI failed once on a fixed think time:
// a 100 ms pause after an answer that took more than 50 ms showed no
// requester, and NO_REPLY rightly opened nothing).
func ThinkAfter(slowest time.Duration) time.Duration {
	return max(Think, 3*slowest)
}

// Calls makes n calls of line on st, each answered "ok\n" (read from r,
// a reader of st), as a client of AnswerLines that thinks ThinkAfter its
// slowest round trip after each; it returns that slowest round trip.
func Calls(t testing.TB, st io.Writer, r *bufio.Reader, line string, n int) time.Duration {
	t.Helper()
	var slowest time.Duration
	for range n {
		slowest = max(slowest, CallLine(t, st, r, line))
		time.Sleep(ThinkAfter(slowest))
	}
	return slowest
}

// NoReplyAhead is how far past now an evaluation's clock runs to see a
// call hung past NO_REPLY's limit at the default UnansweredAfter, where
// the stream's earlier calls' slowest round trip, as the caller saw it,
// was slowest: the limit, the longer of DefaultUnansweredAfter and
// ReplyFactor times the slowest answer (a tap sees each answer inside
// the caller's round trip), and a second more. A fixed 6 s saw none
// where a loaded machine's slowest answer took over 600 ms.
func NoReplyAhead(slowest time.Duration) time.Duration {
	return NoReplyLimit(live.DefaultUnansweredAfter, slowest) + time.Second
}

// NoReplyLimit is NO_REPLY's threshold for a call whose earlier answers
// took slowest at the slowest, at --unanswered-after after: the longer of
// after and ReplyFactor times slowest.
func NoReplyLimit(after, slowest time.Duration) time.Duration {
	return max(after, live.ReplyFactor*slowest)
}

// HungCall runs a real smux v2 pair, keepalive off, whose client's conn
// wrap taps into reg (a tap.Wrap on the client's side), and the hung call
// NO_REPLY names: the client opens a stream and reuses it for its calls,
// a line each, Think apart (ThinkAfter: Calls), which the server answers ("ok\n") — three
// answered, and the fourth ("hang\n") read by a handler that blocks
// until release is called. Then the client calls once on a second stream, answered: the
// server is alive and sends on the session. It returns once reg has
// recorded that answer, with the client's session, the hung stream's
// id, and how far past now an evaluation's clock runs to see the hung
// call past NO_REPLY's limit (NoReplyAhead); the sessions close, and the
// handler is released, when the test ends.
func HungCall(t testing.TB, reg *live.Registry, wrap func(net.Conn) net.Conn) (cli *smux.Session, sid uint32, release func(), ahead time.Duration) {
	t.Helper()
	cfg := Config(2)
	cfg.KeepAliveDisabled = true // no NOPs: the evaluations' clock may run ahead of real time
	cli, srv := Pair(t, cfg, wrap, nil)
	hold := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			wg.Go(func() { AnswerLines(st, hold) })
		}
	})
	t.Cleanup(func() { release(); cli.Close(); srv.Close(); wg.Wait() })
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(st)
	slowest := Calls(t, st, r, "get\n", 3)
	if _, err := io.WriteString(st, "hang\n"); err != nil {
		t.Fatal(err)
	}
	other, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	CallLine(t, other, bufio.NewReader(other), "get\n")
	Eventually(t, "the second stream's answer recorded", func() bool {
		ss := reg.Snapshot().Sessions
		if len(ss) != 1 {
			return false
		}
		for _, s := range ss[0].Streams {
			if s.ID == other.ID() {
				return s.Bytes[live.ServerToClient] == 3
			}
		}
		return false
	})
	return cli, st.ID(), release, NoReplyAhead(slowest)
}

// AnswerLines is a handler of a stream reused for calls: it answers each
// line read on st with "ok\n", the line "hang\n" only once hold is
// closed (a handler that blocks), and closes st when the reading ends.
func AnswerLines(st io.ReadWriteCloser, hold <-chan struct{}) {
	defer st.Close()
	r := bufio.NewReader(st)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "hang\n" {
			<-hold
		}
		if _, err := io.WriteString(st, "ok\n"); err != nil {
			return
		}
	}
}

// CallLine writes line on st and reads its answer, "ok\n", from r (a
// reader of st), as a client of AnswerLines, and returns the call's
// round trip.
func CallLine(t testing.TB, st io.Writer, r *bufio.Reader, line string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := io.WriteString(st, line); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "ok\n" {
		t.Fatalf("answer %q, %v", got, err)
	}
	return time.Since(start)
}
