// Package tapiface names the pcapng interfaces under which pcapout writes
// the connections taps recorded, one per transport the taps ran over, so
// that capture, reading the file back, gives each session the transport
// its tap saw (live.SessionInfo.Transport): the packets are TCP whatever
// the conn was, and only the interface says it was TLS (and over what), a
// unix socket, a net.Pipe or a conn over UDP, as KCP. The name is the interface's if_name option, which
// Wireshark shows and pcapgo's NgReader gives as NgInterface.Name; no
// network interface is so named (Linux refuses '/' in one's name), so a
// capture of real interfaces (tcpdump's, dumpcap's) never reads as one.
package tapiface

import (
	"cmp"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// prefix begins the name of every interface pcapout writes.
const prefix = "muxtop/"

// tcp is the name's end for the transport "" (TCP).
const tcp = "tcp"

// Name is the interface name of the connections a tap recorded over
// transport, as live.SessionInfo.Transport names it ("" for TCP):
// "muxtop/tcp", "muxtop/tls" (TLS over TCP), "muxtop/tls+unix" (TLS over
// a unix socket), "muxtop/udp".
func Name(transport string) string {
	return prefix + cmp.Or(transport, tcp)
}

// Description is the interface's if_description: what its packets are.
func Description(transport string) string {
	if transport == "" {
		return "connections tapped by muxtop over TCP, written as the TCP packets that carried their bytes (handshake, sequence numbers and FINs made up)"
	}
	if under, ok := strings.CutPrefix(transport, "tls+"); ok {
		transport = "TLS over " + under
	}
	return "connections tapped by muxtop over " + transport + ", not TCP: the bytes the conn carried, written as made-up TCP packets; muxtop read words their sessions as " + transport + "'s"
}

// Transport returns the transport of an interface named name, and whether
// it is one pcapout wrote.
func Transport(name string) (string, bool) {
	t, ok := strings.CutPrefix(name, prefix)
	if !ok || t == "" {
		return "", false
	}
	if t == tcp {
		return "", true
	}
	return t, true
}

// toldPrefix begins the comment (opt_comment) of an interface whose
// connections' taps were told something the bytes do not show (tap.Told).
const toldPrefix = "muxtop told:"

// Comment is the comment of the interface of connections whose taps were
// told told, "" where they were told nothing (told.Any is false): a
// line of key=value words after "muxtop told:", which Wireshark shows in
// the capture file's properties, such as "muxtop told: tap=server
// version=2" (tap.Version(2) on a server's conn) or "muxtop told:
// tap=client proto=yamux skip=1" (tap.WithProtocol(tap.Yamux) and
// tap.Skip(1), as Consul's conns are tapped); a prefix's bytes are in
// hex, "muxtop told: tap=server proto=yamux skip=1 prefix=04 by=attach"
// (attach --protocol yamux --prefix 04), "by=attach" where attach's
// flags told it.
func Comment(told tap.Told) string {
	if !told.Any() {
		return ""
	}
	s := toldPrefix + " tap=" + told.Tap.String()
	if told.Proto != tap.Detect {
		s += " proto=" + told.Proto.String()
	}
	if told.Version != 0 {
		s += " version=" + strconv.Itoa(int(told.Version))
	}
	if told.Skip > 0 {
		s += " skip=" + strconv.FormatInt(told.Skip, 10)
	}
	if told.Prefix != "" {
		s += " prefix=" + hex.EncodeToString([]byte(told.Prefix))
	}
	if told.Attach {
		s += " by=attach"
	}
	return s
}

// Told returns what an interface's comment says the taps of its
// connections were told, and whether it says anything: Comment's words
// back; a word it does not know is left out, a comment that is not
// Comment's says nothing.
func Told(comment string) (tap.Told, bool) {
	rest, ok := strings.CutPrefix(comment, toldPrefix)
	if !ok {
		return tap.Told{}, false
	}
	var told tap.Told
	side := false
	for _, w := range strings.Fields(rest) {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "tap":
			switch v {
			case live.Client.String():
				told.Tap, side = live.Client, true
			case live.Server.String():
				told.Tap, side = live.Server, true
			}
		case "proto":
			if p, err := tap.ParseProtocol(v); err == nil {
				told.Proto = p
			}
		case "version":
			if n, err := strconv.Atoi(v); err == nil && (n == 1 || n == 2) {
				told.Version = uint8(n)
			}
		case "skip":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				told.Skip = n
			}
		case "by":
			told.Attach = v == "attach"
		case "prefix":
			if b, err := hex.DecodeString(v); err == nil && len(b) > 0 {
				told.Prefix = string(b)
			}
		}
	}
	if !side || !told.Any() {
		return tap.Told{}, false
	}
	return told, true
}

// limitPrefix begins the comment (opt_comment) of the last packet a
// pcapout file holds when its writer stopped at its size limit
// (--write-limit): the mark of the cut, in the file itself.
const limitPrefix = "muxtop --write-limit:"

// LimitComment is the comment of the last packet of a capture whose
// writer stopped at its size limit, limit bytes: Wireshark shows it as
// the packet's comment (and in its Expert Information), tcpdump passes
// over it, and muxtop read takes it for the cut (LimitCut).
func LimitComment(limit int64) string {
	size := strconv.FormatInt(limit, 10) + " bytes"
	if limit%(1<<20) == 0 {
		size = strconv.FormatInt(limit>>20, 10) + " MiB"
	}
	return limitPrefix + " the writer reached its limit of " + size + " here: nothing after this packet was written, though the connections went on; those open now are cut here, not ended"
}

// LimitCut reports whether a packet's comment is LimitComment's: the
// capture was cut after that packet by its writer's size limit.
func LimitCut(comment string) bool { return strings.HasPrefix(comment, limitPrefix) }
