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
// client calling in a tight loop shows no such evidence.
const Think = 200 * time.Millisecond

// HungCall runs a real smux v2 pair, keepalive off, whose client's conn
// wrap taps into reg (a tap.Wrap on the client's side), and the hung call
// NO_REPLY names: the client opens a stream and reuses it for its calls,
// a line each, Think apart, which the server answers ("ok\n") — three
// answered, and the fourth ("hang\n") read by a handler that blocks
// until release is called. Then the client calls once on a second stream, answered: the
// server is alive and sends on the session. It returns once reg has
// recorded that answer, with the client's session and the hung stream's
// id; the sessions close, and the handler is released, when the test
// ends.
func HungCall(t testing.TB, reg *live.Registry, wrap func(net.Conn) net.Conn) (cli *smux.Session, sid uint32, release func()) {
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
	for range 3 {
		CallLine(t, st, r, "get\n")
		time.Sleep(Think)
	}
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
	return cli, st.ID(), release
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
// reader of st), as a client of AnswerLines.
func CallLine(t testing.TB, st io.Writer, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(st, line); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "ok\n" {
		t.Fatalf("answer %q, %v", got, err)
	}
}
