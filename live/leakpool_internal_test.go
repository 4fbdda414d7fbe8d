package live

import (
	"strings"
	"testing"
	"time"
)

// TestLeakPoolWording: the no-FIN LEAK's advice adds the HTTP pool's
// words only where its oldest stream's first bytes are an answered
// HTTP/1.x keep-alive exchange or an h2c connection its opener began,
// of whichever side; not for an upgrade (a WebSocket), a tunnel
// (CONNECT), a request unanswered, bytes a capture joined mid-stream, a
// half-closed LEAK (a side's Close missing), nor any other protocol,
// whose advice stays the leak's own. The words come again as the finding
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
		want           string // after old; "" for old alone
	}{
		{name: "http1", req: get, resp: ok, want: "; stream 9 is an HTTP/1.x keep-alive exchange (the client's request, the server's response): an HTTP client keeps idle connections open in its pool"},
		{name: "http1-server-opened", opener: ServerToClient, req: get, resp: ok, want: "; stream 9 is an HTTP/1.x keep-alive exchange (the server's request, the client's response)"},
		{name: "h2c", req: h2c, resp: sets, want: "; stream 9 is an HTTP/2 connection (the client's preface, the server's SETTINGS)"},
		{name: "websocket", req: "GET /ws HTTP/1.1\r\nUpgrade: websock", resp: "HTTP/1.1 101 Switching Protocols\r\n"},
		{name: "connect", req: "CONNECT db.internal:5432 HTTP/1.1", resp: "HTTP/1.1 200 Connection established"},
		{name: "response-the-opener's", req: ok, resp: get},
		{name: "joined", req: get, resp: ok, joined: true},
		{name: "half-closed", req: get, resp: ok, hasDir: true},
		{name: "not-http", req: "REQ 1\n", resp: "ANS 1\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h [2]FirstBytes
			h[c.opener], h[c.opener.Reverse()] = head(c.req, c.joined), head(c.resp, false)
			f := &Finding{Code: CodeLeak, Proto: Smux, version: 2, Dir: c.opener, HasDir: c.hasDir, Stream: 9, Since: time.Unix(100, 0),
				Evidence: Evidence{Count: 2, Age: 31 * time.Second, Idle: 31 * time.Second, Limit: 30 * time.Second}, Heads: [][2]FirstBytes{h}}
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
