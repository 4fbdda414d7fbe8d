package smuxtest

import (
	"bytes"
	"io"
	"net"
	"testing"
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
	cc, sc := Conns(t)
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
