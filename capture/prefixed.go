package capture

import (
	"fmt"
	"strings"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/muxtop/muxtop/wirekind"
)

// A mux after a negotiation. A connection whose start the capture saw is a
// mux when its frames chain up from each direction's first byte (past the
// client's --skip). Some programs negotiate their mux first: go-libp2p, on
// a transport without encryption, sends multistream-select from both ends
// ("\x13/multistream/1.0.0\n", then the security and muxer protocol ids and
// the security handshake), and yamux starts after it, 151 bytes into each
// direction with NoSecurity. No --skip passes it: the server sends one too.
//
// So a connection whose directions both began at their SYN, whose probes
// found neither direction's first byte a frame's, and found each
// direction's first chain of headers (three, or fewer at the end: the
// rule for a connection joined mid-stream) of one protocol, within the
// first prefixMax bytes of both, with nothing lost before them, is that
// mux after a prefix each end sent first. It is decoded from each chain's
// start; the bytes before count as each direction's prefix (unparsed), and
// a notice says where each direction's mux began and what came before it.
// Only without --skip or --prefix, which say where the client's mux
// begins, and for a connection the filter did not pick (a picked one is
// decoded from its first byte as a tap decodes it, once its probes are
// past its first bytes: a PROTOCOL finding then says what the ends speak).
// The risk is that of any chain found in a direction's first bytes, as a
// capture joined mid-stream takes one, here needed in both directions, of
// one protocol, within a few KiB of their starts.

// prefixMax bounds the prefix each end may send before the mux: the first
// chain must begin within it.
const prefixMax = 4 << 10

// prefixed notes that direction d's probe for proto found its first chain
// at off, past the first byte of a direction that began at its SYN, the
// capture having lost none of it before (verdict), and acts on it: the connection is that mux
// after a prefix if the other direction's chain was found likewise, of
// the same protocol; it stays probing for the other's while that may
// come; it is skipped otherwise, as before.
func (c *conn) prefixed(d live.Dir, proto tap.Protocol, off int64) connState {
	if c.pick || c.skip != 0 || off > prefixMax || !c.syn[d.Reverse()] { // skip: --skip's (--prefix sets it too: NewReader), else its tap's
		return skipped
	}
	c.after[d], c.afterProto[d] = off+1, proto
	o := d.Reverse()
	switch {
	case c.after[o] == 0:
		return probing // the other direction's chain may come
	case c.afterProto[o] != proto:
		return skipped
	}
	return decoding
}

// prefixedFirst says whether a direction's prefixed chain was found while
// the other's probes decided otherwise (decoding from its first byte, or
// skipped): the connection is then skipped, as it was before the other's
// verdict could count (prefixed).
func (c *conn) prefixedFirst() bool {
	return (c.after[0] != 0) != (c.after[1] != 0)
}

// prefixes returns, per direction, the length of the prefix before the
// mux that prefixed found, or zeros.
func (c *conn) prefixes() (n [2]int64) {
	if c.after[0] == 0 || c.after[1] == 0 {
		return n
	}
	return [2]int64{c.after[0] - 1, c.after[1] - 1}
}

// prefixNotice tells the user of a connection decoded after the prefixes
// its ends sent first: where each direction's mux began and what came
// before it.
func (c *conn) prefixNotice() string {
	client, server := c.ends()
	n := c.prefixes()
	var each []string
	negotiated := false
	for d := range live.Dir(2) {
		head := c.bytesFrom(d, 0)
		before := fmt.Sprintf("bytes that begin % x", head)
		if k := wirekind.Guess(head); k != wirekind.Unknown {
			before = k.String()
			negotiated = negotiated || k == wirekind.Multistream
		}
		each = append(each, fmt.Sprintf("the %s's begins at byte %d, after %s", d.Sender(), n[d], before))
	}
	text := fmt.Sprintf("%s → %s: %s after a prefix each end sent first, decoded from there: %s (the prefixes count as unparsed bytes)",
		client, server, c.proto, strings.Join(each, "; "))
	if negotiated {
		text += "; libp2p negotiates its security and its muxer with multistream-select before it starts them, and its yamux is on the wire only where the transport is not encrypted, as here"
	}
	return text
}
