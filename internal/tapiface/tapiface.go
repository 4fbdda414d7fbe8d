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
	"strings"
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
