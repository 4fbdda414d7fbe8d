package wirekind

import (
	"bytes"
	"testing"
)

func TestGuess(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Kind
	}{
		{"GET /ran", HTTPRequest},
		{"POST /a ", HTTPRequest},
		{"GET", HTTPRequest},
		{"HTTP/1.1", HTTPResponse},
		{"PRI * HTTP/2.0", HTTP2},
		{"\x16\x03\x01\x02\x00\x01\x00\x01", TLS},
		{"SSH-2.0-", SSH},
		{"\x05\x01\x00", SOCKS5},
		{"\x00\x00\x00\x00\x00\x00\x00\x00", Zeros},
		{"\x02\x00\x00\x00\x03\x00\x00\x00", SmuxV2},  // SYN sid 3
		{"\x01\x02\x04\x00\x03\x00\x00\x00", SmuxV1},  // PSH len 4
		{"\x01\x04\x08\x00\x03\x00\x00\x00", Unknown}, // UPD in v1
		{"\x02\x00\x01\x00\x03\x00\x00\x00", Unknown}, // SYN with a length
		{"hello wo", Text},
		// hashicorp/yamux v0.1.2's first headers: a WindowUpdate SYN of
		// stream 1, its ACK, a Ping.
		{"\x00\x01\x00\x01\x00\x00\x00\x01", Yamux},
		{"\x00\x01\x00\x02\x00\x00\x00\x01", Yamux},
		{"\x00\x02\x00\x01\x00\x00\x00\x00", Yamux},
		{"\x00\x02\x00\x01\x00\x00\x00\x03", Unknown}, // a Ping on a stream
		{"\x00\x00\x00\x00\x00\x00\x00\x00", Zeros},   // Data on stream 0: zeros
		// Consul's RPC type byte (4, RPCMultiplexV2) before the client's
		// first yamux header, as its servers' RPC port receives it.
		{"\x04\x00\x01\x00\x01\x00\x00\x00", PrefixedYamux},
		{"\x04\x00\x02\x00\x01\x00\x00\x01", Unknown}, // a Ping on a stream
		{"\x04\x00\x05\x00\x01\x00\x00\x00", Unknown}, // type 5
		// Other protocols' first bytes at the wrong port are no yamux:
		// PostgreSQL's SSLRequest (libpq's first message by default), a
		// MySQL 5.7 server's greeting.
		{"\x00\x00\x00\x08\x04\xd2\x16\x2f", Unknown},
		{"\x4a\x00\x00\x00\x0a5.7", Unknown},
		{"\x9f\x88\x01\xfe\x00\x10\x20\x30", Unknown},
		// libp2p's multistream-select, which each end sends first
		// (go-libp2p v0.52.0), as smux's and yamux's headers hold it.
		{"\x13/multis", Multistream},
		{"\x13/multistream/1.", Multistream},
		{"\x13/multi-", Unknown},
		{"", Unknown},
	} {
		if got := Guess([]byte(tc.in)); got != tc.want {
			t.Errorf("Guess(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for k := Unknown; k <= Multistream; k++ {
		if k.String() == "" || k.Code() == "" || k.Hint() == "" {
			t.Errorf("kind %d has an empty name, code or hint", k)
		}
	}
	if Kind(200).String() != Unknown.String() || Kind(200).Code() != "unknown" {
		t.Error("an out-of-range kind is not unknown")
	}
}

// TestPair: the guesses at a connection's two directions that are one
// protocol, spoken by both ends, and those that are not.
func TestPair(t *testing.T) {
	for _, tc := range []struct {
		client, server Kind
		want           string
	}{
		{HTTPRequest, HTTPResponse, "HTTP"},
		{HTTP2, HTTPResponse, "HTTP"},
		{TLS, TLS, "TLS"},
		{SSH, SSH, "SSH"},
		{Text, Text, "text"},
		{Multistream, Multistream, "multistream-select"},
		{HTTPResponse, HTTPRequest, ""}, // a client does not answer
		{HTTPRequest, Unknown, ""},
		{HTTPRequest, TLS, ""},
		{Zeros, Zeros, ""},
		{Yamux, Yamux, ""},
		{SmuxV1, SmuxV1, ""},
		{Unknown, Unknown, ""},
	} {
		if got := Pair(tc.client, tc.server); got != tc.want {
			t.Errorf("Pair(%v, %v) = %q, want %q", tc.client, tc.server, got, tc.want)
		}
	}
}

// TestHTTP1KeepAlive: the first bytes each way of an HTTP/1.1 exchange
// whose connection may wait for the next request, and those that are
// not: a tunnel (CONNECT), an interim or upgrade response (any 1xx), an
// HTTP/1.0 response (no keep-alive unless asked for), a request
// unanswered or answered by something else, a status code not seen.
func TestHTTP1KeepAlive(t *testing.T) {
	for _, tc := range []struct {
		req, resp string
		want      bool
	}{
		{"GET /hello HTTP/1.1\r\nHost: backend.ex", "HTTP/1.1 200 OK\r\nDate: Sun, 06 Dec 2", true},
		{"POST /a HTTP/1.1\r\n", "HTTP/1.1 404 Not Found\r\n", true},
		{"DELETE /a HTTP/1.1\r\n", "HTTP/1.1 503 Service Unavailable", true},
		{"POST /a HTTP/1.1\r\n", "HTTP/1.0 404 Not Found\r\n", false},
		{"GET / HTTP/1.0\r\n", "HTTP/1.0 200 OK\r\n", false},
		{"POST /up HTTP/1.1\r\nExpect: 100-co", "HTTP/1.1 100 Continue\r\n\r\n", false},
		// The answer after the interim, cut by the 32 bytes kept, or whole.
		{"POST /up HTTP/1.1\r\nExpect: 100-co", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.", true},
		{"POST /up HTTP/1.1\r\nExpect: 100-co", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", true},
		{"POST /up HTTP/1.1\r\nExpect: 100-co", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 P\r\n\r\n", false},
		{"POST /up HTTP/1.1\r\nExpect: 100-co", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0", false},
		{"HEAD / HTTP/1.1\r\n", "HTTP/1.1 102 Processing\r\n", false},
		{"GET / HTTP/1.1\r\n", "HTTP/1.1 103 Early Hints\r\nLink: <", false},
		{"GET / HTTP/1.1\r\n", "HTTP/1.1 099 Odd\r\n", false},
		{"GET /ws HTTP/1.1\r\nUpgrade: websocket", "HTTP/1.1 101 Switching Protocols", false},
		{"CONNECT example.com:443 HTTP/1.1\r\n", "HTTP/1.1 200 Connection established", false},
		{"GET / HTTP/1.1\r\n", "", false},
		{"GET / HTTP/1.1\r\n", "HTTP/1.1 2", false}, // cut before its code
		{"GET / HTTP/1.1\r\n", "HTTP/2.0 200 OK", false},
		{"GET / HTTP/1.1\r\n", "ANS 1\n", false},
		{"GET", "HTTP/1.1 200 OK\r\n", false}, // a method's start alone
		{"REQ 1\n", "HTTP/1.1 200 OK\r\n", false},
		{"HTTP/1.1 200 OK\r\n", "GET / HTTP/1.1\r\n", false},
	} {
		if got := HTTP1KeepAlive([]byte(tc.req), []byte(tc.resp)); got != tc.want {
			t.Errorf("HTTP1KeepAlive(%q, %q) = %v, want %v", tc.req, tc.resp, got, tc.want)
		}
	}
}

// TestHTTP2Connection: an h2c client's preface answered by a server's
// SETTINGS frame, and what is not.
func TestHTTP2Connection(t *testing.T) {
	preface := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00"
	settings := "\x00\x00\x18\x04\x00\x00\x00\x00\x00\x00\x01\x00\x00\x10\x00"
	for _, tc := range []struct {
		client, server string
		want           bool
	}{
		{preface, settings, true},
		{preface, "\x00\x00\x00\x04\x00\x00\x00\x00\x00", true},  // SETTINGS with none
		{preface, "\x00\x00\x00\x04\x01\x00\x00\x00\x00", false}, // an ACK is not the server's preface
		{preface, "\x00\x00\x18\x01\x04\x00\x00\x00\x01", false}, // HEADERS
		{preface, "\x00\x00\x07\x04\x00\x00\x00\x00\x00", false}, // a length no setting makes
		{preface, "HTTP/1.1 400 Bad Request\r\n", false},
		{preface, "", false},
		{"PRI * HTTP/2.0\r\n", settings, false}, // the preface cut
		{"GET / HTTP/1.1\r\n", settings, false},
	} {
		if got := HTTP2Connection([]byte(tc.client), []byte(tc.server)); got != tc.want {
			t.Errorf("HTTP2Connection(%q, %q) = %v, want %v", tc.client, tc.server, got, tc.want)
		}
	}
}

// TestHTTP1Interim: what a side sent that is only interim responses, and
// what is an answer, or not whole.
func TestHTTP1Interim(t *testing.T) {
	for _, tc := range []struct {
		resp string
		want bool
	}{
		{"HTTP/1.1 100 Continue\r\n\r\n", true},
		{"HTTP/1.1 102 Processing\r\n\r\n", true},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 P\r\n\r\n", true},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", false},
		{"HTTP/1.1 100 Continue\r\n", false}, // not whole
		{"HTTP/1.1 101 Switching Protocols\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\n\r\n", false},
		{"HTTP/1.0 100 Continue\r\n\r\n", false},
		{"", false},
	} {
		if got := HTTP1Interim([]byte(tc.resp)); got != tc.want {
			t.Errorf("HTTP1Interim(%q) = %v, want %v", tc.resp, got, tc.want)
		}
	}
}

// FuzzHTTPConnection: HTTP1KeepAlive and HTTP2Connection take any bytes,
// either way round, cut anywhere, without a panic; and a response that
// HTTP1KeepAlive accepts is an HTTP/1.1 status line of a final code.
func FuzzHTTPConnection(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\n"), []byte("HTTP/1.1 200 OK\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), []byte("\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
	f.Add([]byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, p := range [][2][]byte{{a, b}, {b, a}} {
			if HTTP1KeepAlive(p[0], p[1]) && (!bytes.HasPrefix(p[1], []byte("HTTP/1.1 ")) || p[1][9] < '2' || p[1][9] > '9') {
				t.Errorf("HTTP1KeepAlive(%q, %q): not a final HTTP/1.1 status", p[0], p[1])
			}
			HTTP2Connection(p[0], p[1])
			if HTTP1Interim(p[1]) && HTTP1KeepAlive(p[0], p[1]) {
				t.Errorf("%q is both interim only and a final answer", p[1])
			}
		}
	})
}
