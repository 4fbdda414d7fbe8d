package sniff

import (
	"encoding/binary"
	"strconv"

	"golang.org/x/net/bpf"

	"github.com/muxtop/muxtop/capture"
)

// keepAll and drop are a socket filter's verdicts: keep the packet whole
// (up to 256 KiB), or drop it.
const (
	keepAll = 1 << 18
	drop    = 0
)

// Linux's values of a packet's type (PACKET_OUTGOING) and of its
// interface's link type (ARPHRD_*), as a socket filter's extensions load
// them.
const (
	packetOutgoing = 4
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdPPP      = 512
	arphrdRawIP    = 519
	arphrdTunnel   = 768 // IPIP
	arphrdTunnel6  = 769
	arphrdSIT      = 776
	arphrdNone     = 0xfffe // tun (OpenVPN, Tailscale), WireGuard
)

// bareIP lists the link types whose packets AF_PACKET gives as a bare IPv4
// or IPv6 packet, without a link-layer header: those of tunnels and
// point-to-point links, which have no MAC header to give (the kernel's
// dev_is_mac_header_xmit). libpcap reads them as LINKTYPE_RAW too.
var bareIP = []uint32{arphrdNone, arphrdRawIP, arphrdTunnel, arphrdTunnel6, arphrdSIT, arphrdPPP}

// Offsets in an IPv4 or IPv6 packet, from the start of its header.
const (
	ip4Proto = 9
	ip4Frag  = 6
	ip4Src   = 12
	ip4Dst   = 16
	ip6Next  = 6
	ip6Src   = 8
	ip6Dst   = 24
	ip6Ports = 40
)

// The link-layer headers before the IP header: an Ethernet one, which
// AF_PACKET gives every Ethernet and loopback packet (a VLAN tag taken
// out into the packet's metadata), or none (bareIP).
const (
	ethernet  = 14
	noHeader  = 0
	etherType = 12 // the offset of an Ethernet frame's EtherType
)

// The packets a socket filter sees first, by the socket's interface.
type preamble int

const (
	bound    preamble = iota // an Ethernet interface of its own: every packet
	loopback                 // the loopback: each packet as it arrives, not as it leaves
	every                    // Any, unbound: Ethernet and loopback packets, a loopback one as it arrives, and bare IP ones
	boundIP                  // an interface of its own whose packets are bare IP (bareIP)
)

// socketFilter is the classic BPF program sniff's socket runs, nil when
// it would keep every packet; ok is false when f has too many terms for
// one (its jumps reach 255 instructions at most): the reader's filter
// then does all the work.
//
// After the preamble's checks (loopback's PACKET_OUTGOING copy, which
// AF_PACKET shows beside the incoming one, as libpcap drops it; under
// Any, frames of link types the reader cannot decode), it drops, in the
// kernel, the IPv4 and IPv6 packets that cannot belong to a connection f
// picks: those not TCP, and TCP segments whose ends fail one of f's
// terms. Every other packet it keeps whole (another EtherType, such as
// one whose VLAN tag stayed in the frame, or an IPv4 fragment past the
// first), for the reader to judge: it only spares the reader the traffic
// it would skip anyway, as tcpdump's filter does, so that a busy
// interface does not make sniff fall behind the connections it watches.
func socketFilter(pre preamble, f capture.Filter) (ins []bpf.Instruction, ok bool) {
	if (pre == bound || pre == boundIP) && f.Empty() {
		return nil, true
	}
	var p program
	body := "ether"
	switch pre {
	case loopback:
		p.add(bpf.LoadExtension{Num: bpf.ExtType})
		p.jumpIf(bpf.JumpEqual, packetOutgoing, "drop", "")
	case every:
		p.add(bpf.LoadExtension{Num: bpf.ExtLinkLayerType})
		p.jumpIf(bpf.JumpEqual, arphrdEther, "ether", "")
		for _, t := range bareIP {
			p.jumpIf(bpf.JumpEqual, t, "ip", "")
		}
		p.jumpIf(bpf.JumpEqual, arphrdLoopback, "", "drop")
		p.add(bpf.LoadExtension{Num: bpf.ExtType})
		p.jumpIf(bpf.JumpEqual, packetOutgoing, "drop", "ether")
	case boundIP:
		body = "ip"
	}
	if body == "ether" {
		p.label("ether")
		if !f.Empty() {
			p.prefilter(f, ethernet)
		} else {
			p.jump("keep")
		}
	}
	if body == "ip" || pre == every {
		p.label("ip")
		if !f.Empty() {
			p.prefilter(f, noHeader)
		} else {
			p.jump("keep")
		}
	}
	p.label("keep")
	p.add(bpf.RetConstant{Val: keepAll})
	p.label("drop")
	p.add(bpf.RetConstant{Val: drop})
	return p.resolve()
}

// prefilter adds the checks of f's terms on packets whose IP header
// starts at offset link, going to "keep" or "drop".
func (p *program) prefilter(f capture.Filter, link uint32) {
	ip4, ip6, ip6tcp, ip6ports := p.fresh(), p.fresh(), p.fresh(), p.fresh()
	if link == ethernet {
		p.add(bpf.LoadAbsolute{Off: etherType, Size: 2})
		p.jumpIf(bpf.JumpEqual, 0x0800, ip4, "")
		p.jumpIf(bpf.JumpEqual, 0x86dd, ip6, "keep")
	} else {
		p.add(bpf.LoadAbsolute{Off: 0, Size: 1}) // the IP version
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		p.jumpIf(bpf.JumpEqual, 0x40, ip4, "")
		p.jumpIf(bpf.JumpEqual, 0x60, ip6, "keep")
	}

	p.label(ip4)
	p.add(bpf.LoadAbsolute{Off: link + ip4Proto, Size: 1})
	p.jumpIf(bpf.JumpEqual, 6, "", "drop")
	p.add(bpf.LoadAbsolute{Off: link + ip4Frag, Size: 2})
	p.jumpIf(bpf.JumpBitsSet, 0x1fff, "keep", "")
	p.add(bpf.LoadMemShift{Off: link}) // X: the IPv4 header's length
	for _, port := range f.Ports() {
		p.either(port, bpf.LoadIndirect{Off: link, Size: 2}, bpf.LoadIndirect{Off: link + 2, Size: 2})
	}
	for _, h := range f.Hosts() {
		if !h.Is4() {
			p.jump("drop") // an IPv6 host: no IPv4 packet has it
			break
		}
		p.either4(binary.BigEndian.Uint32(h.AsSlice()), link+ip4Src, link+ip4Dst)
	}
	p.jump("keep")

	// TCP right after the header, or after a Hop-by-Hop header (the jumbo
	// option of an IPv6 BIG TCP segment), which gopacket's IPv6 layer
	// takes in: the reader decodes both, and no other. X: the length of
	// the headers between the IPv6 header and TCP's.
	p.label(ip6)
	p.add(bpf.LoadAbsolute{Off: link + ip6Next, Size: 1})
	p.jumpIf(bpf.JumpEqual, 6, ip6tcp, "")
	p.jumpIf(bpf.JumpEqual, 0, "", "drop")
	p.add(bpf.LoadAbsolute{Off: link + ip6Ports, Size: 1}) // the Hop-by-Hop header's next
	p.jumpIf(bpf.JumpEqual, 6, "", "drop")
	p.add(bpf.LoadAbsolute{Off: link + ip6Ports + 1, Size: 1}) // its length: 8 bytes, and 8 more each
	p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1})
	p.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 3})
	p.add(bpf.TAX{})
	p.jump(ip6ports)
	p.label(ip6tcp)
	p.add(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
	p.label(ip6ports)
	for _, port := range f.Ports() {
		p.either(port, bpf.LoadIndirect{Off: link + ip6Ports, Size: 2}, bpf.LoadIndirect{Off: link + ip6Ports + 2, Size: 2})
	}
	for _, h := range f.Hosts() {
		// An IPv4 host is matched by its IPv4-mapped form, as Match unmaps.
		a := h.As16()
		p.either16(a[:], link+ip6Src, link+ip6Dst)
	}
	p.jump("keep")
}

// program is a BPF program under construction whose jumps name labels,
// resolved to skips by resolve.
type program struct {
	ins    []bpf.Instruction
	jumps  map[int][2]string // index of a jump: its true and false labels ("" for the next)
	labels map[string]int
	n      int // labels made by fresh
}

func (p *program) add(i bpf.Instruction) { p.ins = append(p.ins, i) }

func (p *program) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.ins)
}

// fresh returns a label name not used before.
func (p *program) fresh() string {
	p.n++
	return "term" + strconv.Itoa(p.n)
}

// jumpIf compares A with val, going to yes or no ("": the next instruction).
func (p *program) jumpIf(cond bpf.JumpTest, val uint32, yes, no string) {
	if p.jumps == nil {
		p.jumps = map[int][2]string{}
	}
	p.jumps[len(p.ins)] = [2]string{yes, no}
	p.add(bpf.JumpIf{Cond: cond, Val: val})
}

// jump goes to label.
func (p *program) jump(label string) {
	if p.jumps == nil {
		p.jumps = map[int][2]string{}
	}
	p.jumps[len(p.ins)] = [2]string{label, ""}
	p.add(bpf.Jump{})
}

// either goes on if the 16-bit value either load gives is port, else drops.
func (p *program) either(port uint16, a, b bpf.Instruction) {
	next := p.fresh()
	p.add(a)
	p.jumpIf(bpf.JumpEqual, uint32(port), next, "")
	p.add(b)
	p.jumpIf(bpf.JumpEqual, uint32(port), next, "drop")
	p.label(next)
}

// either4 goes on if the IPv4 address at src or dst is a, else drops.
func (p *program) either4(a uint32, src, dst uint32) {
	next := p.fresh()
	p.add(bpf.LoadAbsolute{Off: src, Size: 4})
	p.jumpIf(bpf.JumpEqual, a, next, "")
	p.add(bpf.LoadAbsolute{Off: dst, Size: 4})
	p.jumpIf(bpf.JumpEqual, a, next, "drop")
	p.label(next)
}

// either16 goes on if the IPv6 address at src or dst is a, else drops.
func (p *program) either16(a []byte, src, dst uint32) {
	next, other := p.fresh(), p.fresh()
	for i, at := range []uint32{src, dst} {
		miss := other
		if i == 1 {
			miss = "drop"
		}
		for w := range uint32(4) {
			p.add(bpf.LoadAbsolute{Off: at + 4*w, Size: 4})
			yes := ""
			if w == 3 {
				yes = next
			}
			p.jumpIf(bpf.JumpEqual, binary.BigEndian.Uint32(a[4*w:]), yes, miss)
		}
		if i == 0 {
			p.label(other)
		}
	}
	p.label(next)
}

// resolve turns the labels of the jumps into skips; ok is false when a
// conditional jump reaches farther than its 8 bits of skip.
func (p *program) resolve() (ins []bpf.Instruction, ok bool) {
	skip := func(at int, label string) uint32 {
		if label == "" {
			return 0
		}
		to, ok := p.labels[label]
		if !ok || to <= at {
			panic("sniff: socket filter: bad label " + label) // a bug here: the tests run every shape
		}
		return uint32(to - at - 1)
	}
	for at, j := range p.jumps {
		switch i := p.ins[at].(type) {
		case bpf.JumpIf:
			yes, no := skip(at, j[0]), skip(at, j[1])
			if yes > 255 || no > 255 {
				return nil, false
			}
			i.SkipTrue, i.SkipFalse = uint8(yes), uint8(no)
			p.ins[at] = i
		case bpf.Jump:
			i.Skip = skip(at, j[0])
			p.ins[at] = i
		}
	}
	return p.ins, true
}
