// Package wirekind guesses what bytes are when they are not smux: the first
// bytes of a direction that broke smux's framing, as a violation keeps them
// (the 8 bytes where a header belonged). muxtop names the guess so that a
// user reads "this is HTTP" instead of "bad version 71".
package wirekind

import (
	"bytes"
	"encoding/binary"
)

// Kind is what the bytes look like.
type Kind uint8

// The kinds, from the most specific.
const (
	Unknown       Kind = iota // bytes that match nothing below
	HTTPRequest               // an HTTP/1 request line: GET, POST, …
	HTTPResponse              // an HTTP/1 status line: HTTP/1.1 200
	HTTP2                     // the HTTP/2 connection preface: PRI * HTTP/2.0
	TLS                       // a TLS record: a ClientHello or a server's handshake
	SSH                       // an SSH banner: SSH-2.0-…
	SOCKS5                    // a SOCKS5 greeting: 05 nmethods methods…
	Zeros                     // all zero bytes: padding, a corrupted or reset buffer
	SmuxV1                    // a well-formed smux v1 header
	SmuxV2                    // a well-formed smux v2 header
	Text                      // printable ASCII, some other text protocol
	Yamux                     // a yamux header: at an smux port, the other multiplexer
	PrefixedYamux             // one byte, then a yamux header: a prefix such as Consul's RPC type byte
	Multistream               // libp2p's multistream-select: \x13/multistream/1.0.0\n, a length and a protocol id
)

// NumKinds is the number of kinds: every Kind is below it.
const NumKinds = int(Multistream) + 1

var names = [...]string{"unknown bytes", "an HTTP request", "an HTTP response", "HTTP/2", "TLS", "an SSH banner",
	"a SOCKS5 greeting", "zeros", "an smux v1 header", "an smux v2 header", "text", "a yamux header",
	"a byte and then a yamux header", "libp2p's multistream-select"}

// String returns the kind as a noun phrase: "an HTTP request", "TLS".
func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return names[Unknown]
}

// Code returns a stable machine name: unknown, http-request, http-response,
// http2, tls, ssh, socks5, zeros, smux-v1, smux-v2, text, yamux,
// yamux-prefixed or multistream.
func (k Kind) Code() string {
	if int(k) < len(codes) {
		return codes[k]
	}
	return codes[Unknown]
}

var codes = [...]string{"unknown", "http-request", "http-response", "http2", "tls", "ssh", "socks5", "zeros", "smux-v1", "smux-v2", "text",
	"yamux", "yamux-prefixed", "multistream"}

// Hint says what the kind usually means when it reaches an smux port, as
// the end of a sentence that starts with the sender: "the client …".
func (k Kind) Hint() string { return k.HintAt("smux") }

// HintAt is Hint for a port of mux, "smux" or "yamux": an smux header at a
// yamux port means the ends use different multiplexers.
func (k Kind) HintAt(mux string) string {
	a := "an " + mux
	if mux != "smux" {
		a = "a " + mux
	}
	switch k {
	case HTTPRequest, HTTP2:
		return "is talking HTTP to the " + mux + " port: it has the wrong address"
	case HTTPResponse:
		return "is an HTTP server, not " + a + " server: the other end dialled the wrong port"
	case TLS:
		return "speaks TLS: one end wraps the connection in TLS and the other does not"
	case SSH:
		return "is an SSH endpoint: the wrong port"
	case SOCKS5:
		return "speaks SOCKS5: a proxy setting points at the " + mux + " port"
	case Zeros:
		return "sent zero bytes where a header belongs: a corrupted stream, or a layer underneath (a broken KCP or FEC setting, a bad proxy) that loses or pads bytes"
	case SmuxV1, SmuxV2:
		if mux != "smux" {
			return "speaks smux, not " + mux + ": the two ends use different multiplexers (one has the wrong library, or dialled the wrong port)"
		}
		return "sent an smux header the receiving end does not accept: the ends speak different versions, or bytes were lost before it"
	case Text:
		return "sent text, not " + mux + ": some other protocol, or the wrong port"
	case Yamux:
		if mux == "yamux" {
			return "sent a yamux header the receiving end does not accept, or bytes were lost before it"
		}
		return "speaks yamux, not " + mux + ": the two ends use different multiplexers (one has the wrong library, or dialled the wrong port), or both speak yamux and muxtop decoded the connection as " + mux
	case PrefixedYamux:
		return "sent one byte and then a yamux header: a prefix before the mux, such as Consul's and Nomad's RPC type byte (--skip 1 --protocol yamux passes it and decodes the yamux after it)"
	case Multistream:
		return "speaks libp2p's multistream-select, with which libp2p negotiates its security and then its muxer (yamux) before it starts them: normally the mux runs inside TLS or Noise, and is on the wire only where the transport is not encrypted, after the negotiation"
	}
	return "sent bytes that are not " + a + " header: the wrong protocol, or bytes lost or altered on the way (check any layer underneath " + mux + ")"
}

// OtherProtocol says whether k is another protocol's bytes, not a mux's
// nor a broken mux's: HTTP (1 or 2), TLS, SSH, SOCKS5 or text. At a
// connection's start, the first bytes of such a kind mean its sender
// speaks no mux at all (not a mux), not that a mux's framing broke.
// Zeros, unknown bytes, smux and yamux headers and multistream-select
// (which negotiates a mux) are not.
func (k Kind) OtherProtocol() bool {
	switch k {
	case HTTPRequest, HTTPResponse, HTTP2, TLS, SSH, SOCKS5, Text:
		return true
	}
	return false
}

// IsSmux says whether k is an smux header, of either version.
func (k Kind) IsSmux() bool { return k == SmuxV1 || k == SmuxV2 }

// IsYamux says whether k is a yamux header, with or without a prefix
// byte before it.
func (k Kind) IsYamux() bool { return k == Yamux || k == PrefixedYamux }

// Pair names the one protocol that client, the guess at the first bytes
// a connection's client sent, and server, the guess at its server's,
// belong to together: "HTTP" for a request answered by a response, "TLS",
// "SSH", "text" or "multistream-select" both ways. Both ends then speak it
// to each other, and the connection carries no mux (multistream-select
// negotiates one: a mux may follow it). It returns "" for any other pair: one
// end's bytes alone, zeros (a corruption), smux or yamux headers (a
// mux, which its own wording covers), or unknown bytes.
func Pair(client, server Kind) string {
	switch {
	case (client == HTTPRequest || client == HTTP2) && server == HTTPResponse:
		return "HTTP"
	case client != server:
		return ""
	case client == TLS:
		return "TLS"
	case client == SSH:
		return "SSH"
	case client == Text:
		return "text"
	case client == Multistream:
		return "multistream-select"
	}
	return ""
}

var methods = [][]byte{[]byte("GET "), []byte("POST "), []byte("PUT "), []byte("HEAD "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("CONNECT "), []byte("TRACE ")}

// Guess says what b, the first bytes seen where an smux header belonged,
// look like. Eight bytes (an smux header's worth) are enough for every kind.
func Guess(b []byte) Kind {
	if len(b) == 0 {
		return Unknown
	}
	switch {
	case bytes.HasPrefix(b, []byte("PRI * HT")):
		return HTTP2
	case bytes.HasPrefix(b, []byte("HTTP/")):
		return HTTPResponse
	case bytes.HasPrefix(b, []byte("SSH-")):
		return SSH
	case isTLS(b):
		return TLS
	case isMultistream(b):
		return Multistream
	}
	for _, m := range methods {
		if bytes.HasPrefix(b, m) || (len(b) < len(m) && bytes.HasPrefix(m, b) && len(b) >= 3) {
			return HTTPRequest
		}
	}
	if isZero(b) {
		return Zeros
	}
	if k := smuxHeader(b); k != Unknown {
		return k
	}
	if len(b) >= 8 && yamuxHeader(b) {
		return Yamux
	}
	if len(b) >= 8 && b[0] > 2 && yamuxHeader(b[1:]) { // 1 and 2 are smux's versions: a broken smux header
		return PrefixedYamux
	}
	if b[0] == 5 && len(b) >= 3 && int(b[1]) >= 1 && int(b[1]) <= 8 && b[2] <= 0x80 {
		return SOCKS5
	}
	if isText(b) {
		return Text
	}
	return Unknown
}

// isTLS reports a TLS record header: content type handshake (22) or alert
// (21), version 3.x.
func isTLS(b []byte) bool {
	return len(b) >= 3 && (b[0] == 22 || b[0] == 21) && b[1] == 3 && b[2] <= 4
}

// multistreamID is the protocol id of libp2p's multistream-select, which
// each end sends first, after its length as a varint (19, 0x13), as
// "\x13/multistream/1.0.0\n".
const multistreamID = "/multistream/"

// isMultistream reports the start of a multistream-select message: a
// one-byte varint length, then "/multistream/" as far as b holds it (at
// least "/mul").
func isMultistream(b []byte) bool {
	if len(b) < 5 || b[0] == 0 || b[0] >= 0x80 {
		return false
	}
	rest := b[1:min(len(b), 1+len(multistreamID))]
	return string(rest) == multistreamID[:len(rest)]
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// smuxHeader reports a header smux would frame: version 1 or 2, a known
// command, a length that command allows.
func smuxHeader(b []byte) Kind {
	if len(b) < 8 || (b[0] != 1 && b[0] != 2) {
		return Unknown
	}
	cmd, length := b[1], binary.LittleEndian.Uint16(b[2:])
	switch {
	case cmd <= 3 && cmd != 2 && length != 0: // SYN, FIN, NOP carry nothing
		return Unknown
	case cmd == 4 && (b[0] != 2 || length != 8):
		return Unknown
	case cmd > 4:
		return Unknown
	}
	if b[0] == 1 {
		return SmuxV1
	}
	return SmuxV2
}

// yamuxHeader reports whether b, 7 bytes or more, begins as a yamux
// header does: version 0, a type up to GoAway (3), flags within
// SYN|ACK|FIN|RST, and a stream id that fits the type as far as b holds
// it: 0 for Ping and GoAway, not 0 for Data and WindowUpdate, and below
// 2^24 (a session's first streams are 1 and 2). Without that bound, a
// 4-byte big-endian length up to 15 and any 4 bytes after it, as many a
// protocol's first message has (PostgreSQL's SSLRequest, a MySQL
// server's greeting after a length byte), read as yamux.
func yamuxHeader(b []byte) bool {
	if b[0] != 0 || b[1] > 3 || binary.BigEndian.Uint16(b[2:4]) > 0xF {
		return false
	}
	sid := b[4:min(len(b), 8)]
	if b[1] >= 2 {
		return isZero(sid)
	}
	return sid[0] == 0 && (len(sid) < 4 || !isZero(sid))
}

func isText(b []byte) bool {
	for _, c := range b {
		if (c < ' ' || c > '~') && c != '\r' && c != '\n' && c != '\t' {
			return false
		}
	}
	return true
}

// HTTP1KeepAlive reports whether request and response, the first bytes
// each way of one connection (a stream), are an HTTP/1.1 exchange after
// which the connection may wait, kept alive, for the next request: a
// request line of any method but CONNECT (which makes a tunnel) answered
// by an HTTP/1.1 status line whose code is seen and is a final one, 200
// or more, after any whole interim responses (a final status line the
// bytes end inside counts, after one). Not a 1xx alone, which is no answer (100 Continue and 102
// Processing come before it, 103 Early Hints too) or makes something else
// of the connection (101 Switching Protocols: a WebSocket); nor
// HTTP/1.0, whose connection closes after its response unless both ends
// asked for keep-alive, which the first bytes need not show.
func HTTP1KeepAlive(request, response []byte) bool {
	method := false
	for _, m := range methods {
		method = method || bytes.HasPrefix(request, m)
	}
	if !method || bytes.HasPrefix(request, []byte("CONNECT ")) {
		return false
	}
	// Whole interim responses before the final one (100 Continue, as a
	// server reads a body sent with Expect: 100-continue) answer nothing
	// but end nothing either: the final status follows, or, where the
	// first bytes kept end inside it, has begun.
	interims := 0
	for len(response) >= 12 && bytes.HasPrefix(response, []byte("HTTP/1.1 1")) && string(response[9:12]) != "101" {
		end := bytes.Index(response, []byte("\r\n\r\n"))
		if end < 0 {
			return false
		}
		response, interims = response[end+4:], interims+1
	}
	if interims > 0 && len(response) > 0 && len(response) < 12 {
		n := min(len(response), 9)
		return string(response[:n]) == "HTTP/1.1 "[:n] // the final status line, cut by the bytes kept
	}
	if len(response) < 12 || !bytes.HasPrefix(response, []byte("HTTP/1.1 ")) {
		return false
	}
	code := response[9:12]
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return code[0] >= '2'
}

// http2Preface is what an HTTP/2 client sends first on a connection.
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// HTTP2Connection reports whether client and server, the first bytes
// each way of one connection (a stream), begin an HTTP/2 connection in
// the clear (h2c with prior knowledge): the client's whole connection
// preface, answered by the server's preface, a SETTINGS frame (type 4,
// no flags, stream 0, its length a multiple of 6).
func HTTP2Connection(client, server []byte) bool {
	if !bytes.HasPrefix(client, http2Preface) || len(server) < 9 {
		return false
	}
	length := int(server[0])<<16 | int(server[1])<<8 | int(server[2])
	return server[3] == 4 && server[4] == 0 && binary.BigEndian.Uint32(server[5:9])&0x7fffffff == 0 && length%6 == 0
}

// HTTP1Interim reports whether response, all the bytes one side sent on
// a connection (a stream), is one or more whole HTTP/1.1 interim
// responses and nothing after them: a 1xx status line (not 101, which
// ends HTTP on the connection) and its headers, up to the blank line,
// each. Such a side has not answered yet: 100 Continue tells the client
// to send its body, 102 Processing and 103 Early Hints come before the
// answer.
func HTTP1Interim(response []byte) bool {
	if len(response) == 0 {
		return false
	}
	for len(response) > 0 {
		if len(response) < 12 || !bytes.HasPrefix(response, []byte("HTTP/1.1 1")) || string(response[9:12]) == "101" ||
			response[10] < '0' || response[10] > '9' || response[11] < '0' || response[11] > '9' {
			return false
		}
		end := bytes.Index(response, []byte("\r\n\r\n"))
		if end < 0 {
			return false
		}
		response = response[end+4:]
	}
	return true
}
