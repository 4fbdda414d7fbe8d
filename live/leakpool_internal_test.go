package live

import (
	"strings"
	"testing"
	"time"
)

// TestLeakPoolWording: the no-FIN LEAK's advice adds the HTTP pool's
// words only where the first bytes of every stream it names (Heads) are
// an HTTP/1.1 exchange answered with a final status, or every one an h2c
// connection, either side the opener (poolOf); not for an upgrade (a
// WebSocket), an interim answer (100 Continue, 103 Early Hints), an
// HTTP/1.0 exchange, a tunnel (CONNECT), a request unanswered, bytes a
// capture joined mid-stream, a half-closed LEAK (a side's Close
// missing), a mix of HTTP with another protocol or of HTTP/1.1 with
// h2c, nor any other protocol, whose advice stays the leak's own. The words come again as the finding
// is worded at a later time (AsOf): they are of its data alone, and
// never quote its bytes.
func TestLeakPoolWording(t *testing.T) {
	head := func(s string, joined bool) FirstBytes {
		var b FirstBytes
		b.N = uint8(copy(b.Data[:], s))
		b.Joined = joined
		return b
	}
	const (
		get  = "GET /api/v1/items?page=2 HTTP/1.1\r\n"
		ok   = "HTTP/1.1 200 OK\r\nContent-Type: appl"
		h2c  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00"
		sets = "\x00\x00\x18\x04\x00\x00\x00\x00\x00\x00\x01\x00\x00\x10\x00"
		old  = "if they are not meant to live this long, a side forgot Close(): smux keeps every stream, and its buffers, until both sides have sent FIN"
	)
	for _, c := range []struct {
		name           string
		opener         Dir // the oldest stream's opener's direction
		req, resp      string
		joined, hasDir bool
		more           [][2]string // the other streams it names: their first bytes each way, the client's first
		want           string      // after old; "" for old alone
	}{
		{name: "http1", req: get, resp: ok, want: "; stream 9 is an HTTP/1.1 exchange (the client's request, the server's response): a connection idle in a client's pool (a Go client's net/http defaults"},
		{name: "http1-server-opened", opener: ServerToClient, req: get, resp: ok, want: "; stream 9 is an HTTP/1.1 exchange (the server's request, the client's response):"},
		{name: "http1-all", req: get, resp: ok, more: [][2]string{{get, ok}, {ok, get}}, want: "; stream 9 is an HTTP/1.1 exchange (the client's request, the server's response), as are the 2 others it names: "},
		{name: "h2c", req: h2c, resp: sets, want: "; stream 9 is an HTTP/2 connection in the clear (the client's preface, the server's SETTINGS): "},
		{name: "h2c-all", req: h2c, resp: sets, more: [][2]string{{h2c, sets}}, want: "; stream 9 is an HTTP/2 connection in the clear (the client's preface, the server's SETTINGS), as are the 1 others it names: "},
		{name: "http1-then-other", req: get, resp: ok, more: [][2]string{{get, ok}, {"REQ 1\n", "ANS 1\n"}}},
		{name: "http1-then-h2c", req: get, resp: ok, more: [][2]string{{h2c, sets}}},
		{name: "websocket", req: "GET /ws HTTP/1.1\r\nUpgrade: websock", resp: "HTTP/1.1 101 Switching Protocols\r\n"},
		{name: "continue", req: "POST /up HTTP/1.1\r\nExpect: 100-co", resp: "HTTP/1.1 100 Continue\r\n\r\n"},
		{name: "early-hints", req: get, resp: "HTTP/1.1 103 Early Hints\r\nLink: </"},
		{name: "http1.0", req: "GET / HTTP/1.0\r\n", resp: "HTTP/1.0 200 OK\r\nContent-Type: te"},
		{name: "connect", req: "CONNECT db.internal:5432 HTTP/1.1", resp: "HTTP/1.1 200 Connection established"},
		{name: "response-the-opener's", req: ok, resp: get},
		{name: "joined", req: get, resp: ok, joined: true},
		{name: "half-closed", req: get, resp: ok, hasDir: true},
		{name: "not-http", req: "REQ 1\n", resp: "ANS 1\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h [2]FirstBytes
			h[c.opener], h[c.opener.Reverse()] = head(c.req, c.joined), head(c.resp, false)
			heads := [][2]FirstBytes{h}
			for _, m := range c.more {
				heads = append(heads, [2]FirstBytes{head(m[0], false), head(m[1], false)})
			}
			f := &Finding{Code: CodeLeak, Proto: Smux, version: 2, Dir: c.opener, HasDir: c.hasDir, Stream: 9, Since: time.Unix(100, 0),
				Evidence: Evidence{Count: uint64(len(heads)), Age: 31 * time.Second, Idle: 31 * time.Second, Limit: 30 * time.Second}, Heads: heads[:1]}
			f.Evidence.Pool = poolOf(f, heads)
			f.word()
			if c.hasDir {
				if strings.Contains(f.Advice, "HTTP") {
					t.Errorf("half-closed: advice %q names HTTP", f.Advice)
				}
				return
			}
			if !strings.HasPrefix(f.Advice, old+c.want) || c.want == "" && f.Advice != old {
				t.Errorf("advice %q\nwant %q…", f.Advice, old+c.want)
			}
			if g := f.AsOf(time.Unix(200, 0)); g == f || g.Advice != f.Advice {
				t.Errorf("worded again at a later time: advice %q, want %q", g.Advice, f.Advice)
			}
			if strings.Contains(f.Advice, "GET") || strings.Contains(f.Advice, "PRI") || strings.Contains(f.Advice, "/api") {
				t.Errorf("advice %q quotes the wire's bytes", f.Advice)
			}
		})
	}
}
