package live_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestUnansweredWrittenAgainRealSmuxV1: a real smux v1 client asks on
// stream 3, then pushes on stream 5 and asks on stream 7, both unread by
// the server, which then answers stream 3 (it is alive); UNANSWERED
// counts 5 and 7. Then the server answers 7 and the client writes on 5
// again: in v1, whose reader sends nothing when it reads, a stream's wait
// counts from its opener's last frame, so 5 no longer waits either, and
// UNANSWERED resolves saying so of it, and that the other got an answer.
// The frames' times are the tap's; the evaluations' are chosen from them.
// (The answered stream opens first: an answer on one opened after them
// would show them accepted, smux accepting in SYN order.)
func TestUnansweredWrittenAgainRealSmuxV1(t *testing.T) {
	reg := live.New(live.Config{})
	cli, srv := smuxtest.Pair(t, smuxtest.Config(1), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
	accepted := make(chan *smux.Stream, 3)
	go func() { // accepts every stream; the test says what each does
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- st
		}
	}()
	open := func(p string) (*smux.Stream, *smux.Stream) {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		acc, ok := <-accepted
		if !ok {
			t.Fatal("the server stopped accepting")
		}
		return st, acc
	}
	echo, echoAcc := open("ECHO")
	push, _ := open("PUSH")
	ask, askAcc := open("ASK?")
	// The server answers stream 3 only: it is alive.
	if _, err := io.ReadFull(echoAcc, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	echoAcc.Write([]byte("ECHO"))
	if _, err := io.ReadFull(echo, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	answered := waitStream(t, reg, echo.ID(), "the echo", func(st *live.StreamSnap) bool { return st.Bytes[s2c] == 4 })
	asked := waitStream(t, reg, ask.ID(), "the question", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == 4 })
	first := answered.Last.Add(time.Microsecond) // just after the server spoke
	cfg := live.FindingsConfig{UnansweredAfter: first.Sub(asked.Last) / 2, LeakAfter: time.Hour, Churn: -1}
	reg.Evaluate(first, cfg)
	recs := findingRecords(reg)
	if got := codes(reg); got != "+UNANSWERED" || recs[0].Finding.Evidence.Count != 2 {
		t.Fatalf("%s, want +UNANSWERED counting streams 5 and 7:%s", got, describeRecords(recs))
	}

	if _, err := askAcc.Write([]byte("YES!")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(ask, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := push.Write([]byte("MORE")); err != nil {
		t.Fatal(err)
	}
	waitStream(t, reg, ask.ID(), "the answer", func(st *live.StreamSnap) bool { return st.Bytes[s2c] == 4 })
	pushed := waitStream(t, reg, push.ID(), "the second push", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == 8 })
	second := pushed.Last.Add(time.Microsecond) // the push waits from here: less than UnansweredAfter
	reg.Evaluate(second, cfg)
	recs = findingRecords(reg)
	if got, want := codes(reg), "+UNANSWERED -UNANSWERED"; got != want {
		t.Fatalf("%s, want %s:%s", got, want, describeRecords(recs))
	}
	want := "the client writes on stream 5 again: in smux v1 a stream's wait counts from its opener's last frame on it; the other got an answer, or closed"
	if recs[1].Detail != want {
		t.Errorf("UNANSWERED resolved:\n  %q\nwant\n  %q", recs[1].Detail, want)
	}
}
