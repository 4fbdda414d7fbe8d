package capture

import (
	"fmt"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/muxtop/muxtop/wirekind"
)

// maxSkipNotices bounds the notices that name a connection skipped as
// neither smux nor yamux, one each; Close sums up those past it, so that a
// capture of a busy web server does not bury everything else in notices.
const maxSkipNotices = 5

// skippedNotMux tells the user of a connection the reader skipped because
// its bytes are neither smux nor yamux: which connection, what it looks
// like, and the flags that would decode it. It is called while the bytes
// it held are still there.
func (c *conn) skippedNotMux() {
	r := c.r
	r.notMux++
	if r.notMux > maxSkipNotices {
		return
	}
	r.notice(c.last, c.skipText())
}

// skipText is skippedNotMux's notice.
func (c *conn) skipText() string {
	client, server := c.ends()
	if c.otherPrefix != nil {
		told := ""
		if len(c.r.cfg.Prefix) == 0 {
			told = ", which attach was told (its --write file says so): attach forwarded it, not decoded"
		}
		return fmt.Sprintf("skipped %s → %s, another protocol on the port: its client began with % x, not --prefix % x%s",
			client, server, c.otherPrefix, c.want, told)
	}
	head := fmt.Sprintf("skipped %s → %s, %s", client, server, c.r.notMuxWhat())
	if n := c.r.cfg.Skip; n > 0 && len(c.r.cfg.Prefix) == 0 && c.syn[live.ClientToServer] {
		switch k := wirekind.Guess(c.bytesFrom(live.ClientToServer, 0)); k {
		case wirekind.Yamux, wirekind.SmuxV1, wirekind.SmuxV2:
			first := "first byte, skipped by --skip 1, begins"
			if n != 1 {
				first = fmt.Sprintf("first %d bytes, skipped by --skip %d, begin", n, n)
			}
			return fmt.Sprintf("%s past --skip %d: the client's %s %s; drop --skip %d, the client sends no prefix", head, n, first, k, n)
		}
	}
	sender, first := "client", c.firstBytes(live.ClientToServer)
	if len(first) == 0 {
		sender, first = "server", c.firstBytes(live.ServerToClient)
	}
	if len(first) == 0 {
		if c.resetBeforeOpen() {
			return fmt.Sprintf("skipped %s → %s: the connection was reset before it opened: refused (nothing listening on port %d), or a firewall's reset; "+
				"the capture has the client's SYN and the server's RST, no SYN-ACK", client, server, server.Port())
		}
		return head + ": it carried no bytes"
	}
	kind := wirekind.Guess(first)
	port := server.Port()
	what := fmt.Sprintf("the %s sent %s", sender, kind)
	if kind == wirekind.Unknown {
		what = fmt.Sprintf("the %s's first bytes are % x", sender, first)
	}
	var try string
	other := c.r.otherMux(kind)
	switch {
	case other == tap.Yamux && kind == wirekind.PrefixedYamux:
		try = "a byte before the yamux, such as Consul's and Nomad's RPC type byte: --protocol yamux --skip 1 decodes it (or --skip 1 without --protocol: muxtop tells smux from yamux by itself)"
	case other != tap.Detect:
		// --protocol asked for the other mux: the bytes are not wrong.
		try = fmt.Sprintf("--protocol %s decodes it (or leave --protocol out: muxtop tells smux from yamux by itself)", other)
	}
	switch {
	case try != "":
	case kind == wirekind.PrefixedYamux:
		try = "a byte before the mux, such as Consul's and Nomad's RPC type byte: --skip 1 decodes the yamux after it (--port " +
			fmt.Sprint(port) + " --protocol yamux --skip 1 to force it)"
	case kind == wirekind.Yamux:
		try = fmt.Sprintf("if it is yamux, --port %d --protocol yamux decodes it whatever follows, and its findings say what is wrong", port)
	case kind == wirekind.SmuxV1, kind == wirekind.SmuxV2:
		try = fmt.Sprintf("if it is smux, --port %d --protocol smux decodes it whatever follows, and its findings say what is wrong", port)
	case kind == wirekind.TLS:
		// A mux inside TLS is encrypted: --port shows TLS records, not it.
		try = "a mux inside TLS is encrypted, and no capture shows it (--port neither): tap the conn under the mux in the program, the *tls.Conn (tap.Wrap), and watch it with muxtop read of its pcapout.Live URL (README: Watch it live)"
		if wirekind.Guess(c.firstBytes(live.ServerToClient)) != wirekind.TLS {
			try += fmt.Sprintf("; if one end should not speak TLS, --port %d decodes the connection, and its findings say what is wrong", port)
		}
	default:
		try = fmt.Sprintf("if a mux should be there, --port %d decodes the connection whatever it holds (--skip N past bytes the client sends first), and its findings say what is wrong", port)
	}
	return head + ": " + what + "; " + try
}

// notMuxWhat says what a connection the reader skipped for its bytes is
// not: neither smux nor yamux, or, with --protocol, not that protocol, the
// only one looked for.
func (r *Reader) notMuxWhat() string {
	if r.cfg.Protocol != tap.Detect {
		return fmt.Sprintf("not %s (--protocol %s)", r.cfg.Protocol, r.cfg.Protocol)
	}
	return "neither smux nor yamux"
}

// otherMux returns the mux other than the one --protocol forced that kind,
// a sender's first bytes, is, or tap.Detect if there is none: kind is not
// a mux, or is the one forced, or no protocol was.
func (r *Reader) otherMux(kind wirekind.Kind) tap.Protocol {
	switch {
	case r.cfg.Protocol == tap.Smux && (kind == wirekind.Yamux || kind == wirekind.PrefixedYamux):
		return tap.Yamux
	case r.cfg.Protocol == tap.Yamux && (kind == wirekind.SmuxV1 || kind == wirekind.SmuxV2):
		return tap.Smux
	}
	return tap.Detect
}

// firstBytes returns the first bytes (up to a header's 8) that direction
// d sent of those held, past the prefix --skip names, if the direction
// began at its SYN.
func (c *conn) firstBytes(d live.Dir) []byte {
	skip := 0
	if d == live.ClientToServer && c.syn[d] {
		skip = c.skip
	}
	return c.bytesFrom(d, skip)
}

// bytesFrom returns the first bytes (up to a header's 8) that direction d
// sent of those held, past the first skip.
func (c *conn) bytesFrom(d live.Dir, skip int) []byte {
	var b []byte
	for _, ch := range c.pending {
		if ch.dir != d || ch.end || ch.lost > 0 {
			continue
		}
		p := ch.data
		n := min(skip, len(p))
		p, skip = p[n:], skip-n
		b = append(b, p[:min(len(p), 8-len(b))]...)
		if len(b) == 8 {
			break
		}
	}
	return b
}

// skipSummary is Close's notice of the connections skipped as neither
// smux nor yamux past the first maxSkipNotices, or "" if there were none.
func (r *Reader) skipSummary() string {
	if r.notMux <= maxSkipNotices {
		return ""
	}
	what := r.notMuxWhat()
	if len(r.cfg.Prefix) > 0 {
		what += " or not behind --prefix"
	}
	return fmt.Sprintf("%d more connections skipped, %s (%d in all; the first %d are named above)",
		r.notMux-maxSkipNotices, what, r.notMux, maxSkipNotices)
}

// filterSummary is Close's notice of the connections skipped because the
// filter does not pick them, or "" if there were none: they count as
// skipped in the status, and nothing else said they were not for want of
// smux or yamux.
func (r *Reader) filterSummary() string {
	switch r.filtered {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("1 connection skipped as the filter (%s) does not pick it, smux or not", r.cfg.Filter)
	}
	return fmt.Sprintf("%d connections skipped as the filter (%s) does not pick them, smux or not", r.filtered, r.cfg.Filter)
}

// resetBeforeOpen reports whether the connection was reset before it
// opened: the capture has the client's SYN, no SYN of the server's, and
// a RST from the server's address. That is a refused connect (nothing
// listening on the port), but also a firewall's REJECT with tcp-reset,
// or a capture that dropped the server's SYN-ACK: the words say so, not
// that nothing listened.
func (c *conn) resetBeforeOpen() bool {
	return c.rst && c.rstDir == live.ServerToClient && c.syn[live.ClientToServer] && !c.syn[live.ServerToClient]
}
