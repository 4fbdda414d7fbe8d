package wirekind

import "testing"

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
