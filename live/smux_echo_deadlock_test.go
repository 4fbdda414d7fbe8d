package live_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// gatedUPD holds the first smux v2 UPD frame written through it until
// open is closed: the echo's first window update, late as on a loaded
// machine.
type gatedUPD struct {
	net.Conn
	open chan struct{}
	once sync.Once
}

func (c *gatedUPD) Write(b []byte) (int, error) {
	if len(b) >= 2 && b[0] == 2 && b[1] == 4 { // version 2, cmdUPD
		c.once.Do(func() { <-c.open })
	}
	return c.Conn.Write(b)
}

// TestSmuxEchoDeadlock: smux v2 with MaxReceiveBuffer (64 KiB) below the
// window a writer assumes before its peer's first UPD (256 KiB), an echo
// (io.Copy(st, st)) on the server, the client writing and reading. The
// echo's first UPD is late, so the client writes 128 KiB on the initial
// window; the server's recvLoop reads 64 KiB of it and waits for the echo
// to read (the session's bucket is empty). The echo, having learnt the
// client's 16 KiB window, writes 16 KiB back and waits for the client's
// next UPD, which the client sent but which is on the wire behind the
// data the recvLoop will not read: the echo waits for the recvLoop, the
// recvLoop for the echo, for ever (smux's keepalive does not close a
// session whose bucket is empty). This is the hang of TestHealthyMatrix's
// tunnel on "v2 recvbuf 64K streambuf 16K" on a loaded machine, made
// deterministic; muxtop must see the server's session blocked.
func TestSmuxEchoDeadlock(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(2)
	cfg.MaxReceiveBuffer, cfg.MaxStreamBuffer = 64<<10, 16<<10
	cc, sc := smuxtest.Conns(t)
	gate := &gatedUPD{Conn: sc, open: make(chan struct{})}
	cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "cli"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(tap.Wrap(gate, live.Server, reg, "srv"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := metrics.Diagnose(reg, live.FindingsConfig{StallAfter: time.Second, BlockedAfter: time.Second})
	var wg sync.WaitGroup
	t.Cleanup(func() { cli.Close(); srv.Close(); wg.Wait(); stop() })
	wg.Go(func() {
		if st, err := srv.AcceptStream(); err == nil {
			io.Copy(st, st)
			st.Close()
		}
	})
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(10 * time.Second)) // milliseconds of work: bound it, not hang, if smux changes
	chunk := make([]byte, 16<<10)
	if _, err := st.Write(chunk); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, chunk); err != nil { // the echo: the client's UPD is sent
		t.Fatal(err)
	}
	for range 8 { // on the initial window: no UPD from the echo yet
		if _, err := st.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	close(gate.open)
	echoed := make(chan int64, 1)
	wg.Go(func() { n, _ := io.Copy(io.Discard, st); echoed <- n })
	smuxtest.Eventually(t, "SESSION_BLOCKED on the server's reading", func() bool {
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeSessionBlocked && f.HasDir && f.Dir == live.ClientToServer {
				t.Log(f.Text)
				return true
			}
		}
		return false
	})
	// The echo's writer is held at the client's window, but the UPD that
	// opens it is the client's, unread behind the block: no WINDOW_STALL
	// blames the client's reading, StallAfter and more after the block.
	time.Sleep(1500 * time.Millisecond)
	for _, f := range reg.Snapshot().Findings {
		t.Logf("%s %s: %s", f.Code, f.Dir.Code(), f.Text)
		if f.Code == live.CodeWindowStall && f.HasDir && f.Dir == live.ServerToClient {
			t.Errorf("WINDOW_STALL s2c, where the client's UPDs wait unread behind the server's block: %s", f.Text)
		}
	}
	st.SetWriteDeadline(time.Now()) // the deadlock is for ever: a write cannot get through
	if n, err := st.Write(chunk); err == nil {
		t.Errorf("wrote %d bytes: no deadlock", n)
	}
	cli.Close()
	srv.Close()
	if n := <-echoed; n >= 9*16<<10 {
		t.Errorf("echoed %d bytes, all: no deadlock", n)
	}
}
