package capture_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// echoTrafficYamux is echoTraffic over hashicorp/yamux v0.1.2: real
// sessions over loopback TCP, tapped at the client end into reg and
// recorded into rec, streams that each send a request of random size up
// to 2^(2+maxShift-1) bytes that the server echoes, then close. It returns
// once both ends have closed and the session has ended.
func echoTrafficYamux(t testing.TB, streams, maxShift int, seed uint64, reg *live.Registry, rec tap.Recorder) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	cfg := smuxtest.YamuxConfig() // no pings at times of their own: a fixture is the same each time
	cc, sc := smuxtest.Conns(t)
	var c net.Conn = tap.Wrap(cc, live.Client, reg, "test", tap.WithProtocol(tap.Yamux), tap.Record(rec))
	cli, err := hyamux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hyamux.Server(sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := smuxtest.EchoYamux(srv)
	for i := range streams {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		size := 1 + rng.IntN(1<<(2+i%maxShift))
		msg := bytes.Repeat([]byte{byte(i)}, size)
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(st, got); err != nil {
			t.Fatal(err)
		}
		st.Close()
		// yamux sends the echo's FIN after the reply: wait for it, so that
		// every stream closes both ways before the next opens.
		if _, err := st.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("stream %d: read after the echo: %v, want EOF", i, err)
		}
	}
	smuxtest.Eventually(t, "every stream closed", func() bool {
		s := reg.Snapshot()
		return s.OpenStreams == 0 && s.StreamsTotal == uint64(streams)
	})
	cli.Close()
	srv.Close()
	<-done
	smuxtest.Eventually(t, "the session ended", func() bool { return reg.Snapshot().LiveSessions == 0 })
}
