package smuxtest

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// The leaky service's requests and answers (LeakyRun).
var (
	BadRequest  = []byte("GET /bad HTTP/1.1\r\nHost: example\r\n\r\n")
	BadAnswer   = []byte("ERR bad request")
	GoodRequest = []byte("GET /ok HTTP/1.1\r\nHost: example\r\n\r\n")
	GoodAnswer  = []byte("HTTP/1.1 200 OK\r\n\r\n")
)

// serveLeaky answers each stream srv accepts: BadAnswer to a request that
// begins "GET /bad", and then returns without closing the stream, the
// leak; GoodAnswer, then Close, to any other. It returns when srv's Accept
// fails.
func serveLeaky(srv Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			buf := make([]byte, len(GoodRequest))
			n, _ := io.ReadAtLeast(st, buf, 8)
			if bytes.HasPrefix(buf[:n], []byte("GET /bad")) {
				st.Write(BadAnswer)
				return // forgets Close
			}
			st.Write(GoodAnswer)
			st.Close()
		}()
	}
}

// LeakyRun runs mux over a loopback connection whose server end wrap
// wraps (a tap): the server is serveLeaky; the client sends badReq on one
// stream, reads the answer and closes its side, so that the stream stays
// half-closed by the client for ever; then it sends GoodRequest on each of
// healthy more streams, one after another, each read to its end and
// closed. It returns the bad stream's id; both sessions close as the test
// ends.
func LeakyRun(t testing.TB, mux Mux, wrap func(net.Conn) net.Conn, badReq []byte, healthy int) uint32 {
	t.Helper()
	return LeakyRunOn(t, Conns, mux, wrap, badReq, healthy)
}

// LeakyRunOn is LeakyRun over a connection conns makes (TLSConns,
// UnixConns…) rather than loopback TCP.
func LeakyRunOn(t testing.TB, conns func(testing.TB) (net.Conn, net.Conn), mux Mux, wrap func(net.Conn) net.Conn, badReq []byte, healthy int) uint32 {
	t.Helper()
	cc, sc := conns(t)
	srv, err := mux.Server(wrap(sc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	go serveLeaky(srv)
	cli, err := mux.Client(cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ask := func(req, want []byte, all bool) uint32 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(req); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(st, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("the client read %q, %v; want %q", got, err, want)
		}
		if all {
			ReadAll(st) // the server's FIN
		}
		st.Close()
		return StreamID(st)
	}
	bad := ask(badReq, BadAnswer, false)
	for range healthy {
		ask(GoodRequest, GoodAnswer, true)
	}
	return bad
}

// LeakyLeak runs LeakyRun over mux with request req, its server end
// wrapped by tapServer into a registry whose history of 64 records the 40
// healthy streams after the bad one lap, evaluates LEAK until one opens,
// and returns the registry, the bad stream's id and the LEAK's
// finding-opened record. It fails t if history still holds a frame of
// the bad stream.
func LeakyLeak(t testing.TB, mux Mux, tapServer func(net.Conn, *live.Registry) net.Conn, req []byte) (*live.Registry, uint32, live.Record) {
	t.Helper()
	return LeakyLeakOn(t, Conns, mux, tapServer, req)
}

// LeakyLeakOn is LeakyLeak over a connection conns makes rather than
// loopback TCP.
func LeakyLeakOn(t testing.TB, conns func(testing.TB) (net.Conn, net.Conn), mux Mux, tapServer func(net.Conn, *live.Registry) net.Conn, req []byte) (*live.Registry, uint32, live.Record) {
	t.Helper()
	reg := live.New(live.Config{History: 64})
	bad := LeakyRunOn(t, conns, mux, func(c net.Conn) net.Conn { return tapServer(c, reg) }, req, 40)
	var last time.Time
	Eventually(t, "the bad stream half-closed by the client", func() bool {
		snap := reg.Snapshot()
		if len(snap.Sessions) != 1 {
			return false
		}
		st := snap.Sessions[0].Stream(bad)
		if st == nil || st.State != live.HalfClosedByClient {
			return false
		}
		last = st.Last
		return true
	})
	// A LEAK needs the stream idle LeakAfter as well as open that long:
	// measure from its latest frame (its FIN), not its SYN. Half the time
	// from there to the session's latest frame puts its deadline among the
	// healthy streams' frames, so that yamux's wait for a first ping (a
	// deadline after the server's last frame) does not excuse it. No LEAK
	// opens while a tapped write is in progress (it may be a block), as
	// one of the server's may be on a loaded machine: evaluate again.
	Eventually(t, "a LEAK opened", func() bool {
		sessLast := reg.Snapshot().Sessions[0].Last
		at := time.Now()
		reg.Evaluate(at, live.FindingsConfig{LeakAfter: sessLast.Sub(last) / 2, UnansweredAfter: time.Hour, Churn: -1})
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeLeak {
				return true
			}
		}
		return false
	})
	recs, _ := reg.Frames(live.Query{}, nil)
	for _, r := range recs {
		if r.Kind == live.FrameRecord && r.StreamID() == bad {
			t.Fatalf("history still holds a frame of stream %d: the test evicts them", bad)
		}
	}
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeLeak {
			return reg, bad, r
		}
	}
	t.Fatalf("no LEAK opened among %d records", len(recs))
	return nil, 0, live.Record{}
}
