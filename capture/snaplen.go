package capture

import (
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// cutNotice says why packets the snapshot length cut lose bytes, each
// kind once: Packet calls it for every cut TCP packet (ci, data). Cut in
// the payload, the frames in the bytes cut off are lost; cut in the
// headers (headers: IP decoded, carrying TCP, and TCP not decoded), the
// packet holds no TCP segment at all, and a
// capture of only such packets shows no connection, so the notice says
// that the headers were cut and what snapshot length keeps them.
func (r *Reader) cutNotice(ci gopacket.CaptureInfo, data []byte, headers bool) {
	if headers {
		if r.headersCutSaid {
			return
		}
		r.headersCutSaid = true
		need, exact := r.headersLen(data)
		at := "at least "
		if exact {
			at = ""
		}
		r.notice(ci.Timestamp, fmt.Sprintf("the capture's snapshot length (tcpdump -s) cut the TCP headers: it kept %d of a packet's %d bytes, and its link, IP and TCP headers take %s%d: no connection can be read from packets cut so, and muxtop counts none of them (tcp conns, sessions); "+
			"capture with tcpdump -s 0 to keep whole packets, or at least -s %d, the headers and a mux header (12 bytes for yamux, 8 for smux), to see the connections and their frames' headers",
			ci.CaptureLength, ci.Length, at, need, need+12))
		return
	}
	if r.cutSaid {
		return
	}
	r.cutSaid = true
	// The bytes cut off are lost to every connection, silently but for
	// the resynchronisations: say why once.
	r.notice(ci.Timestamp, fmt.Sprintf("the capture kept only %d of a packet's %d bytes: its snapshot length (tcpdump -s) cuts packets, and the frames in the bytes cut off are lost, their connections' decoding skipping to the next header it finds; capture with -s 0 to keep whole packets",
		ci.CaptureLength, ci.Length))
}

// headersLen returns how many bytes of data, a packet whose IP layer the
// parser decoded last, its link, IP and TCP headers take, and whether that
// is exact: the TCP header's length is in its 13th byte, and where the
// capture cut before it, a TCP header's least, 20 bytes, is counted.
func (r *Reader) headersLen(data []byte) (int, bool) {
	var ipHeader, ipPayload int
	for _, t := range r.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			ipHeader, ipPayload = len(r.ip4.Contents), len(r.ip4.Payload)
		case layers.LayerTypeIPv6:
			ipHeader, ipPayload = len(r.ip6.Contents), len(r.ip6.Payload)
		}
	}
	tcpAt := len(data) - ipPayload
	if tcpAt < ipHeader || tcpAt > len(data) {
		return 0, false
	}
	if len(data) > tcpAt+12 {
		return tcpAt + int(data[tcpAt+12]>>4)*4, true
	}
	return tcpAt + 20, false
}
