//go:build linux

package sniff

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
)

// The ring AF_PACKET fills: frames large enough for the largest packet
// loopback carries (64 KiB, and what segmentation offload hands over on
// other interfaces), in blocks of 1 MiB (8 frames each, a whole number
// of pages), as many blocks as the ring has MiB (DefaultBuffer, or
// --buffer).
const (
	frameSize  = 128 << 10
	blockSize  = 1 << 20
	pollPeriod = 100 * time.Millisecond // how often a read looks at its context
)

// blockTimeout is how long the kernel keeps a block of the ring that has
// packets before it hands the block over (TPACKET_V3): gopacket's default.
// A variable for the test that proves the reads wait for it.
var blockTimeout = afpacket.DefaultBlockTimeout

// Handle is an open live capture on one interface. It is a
// capture.Source; Close releases it.
type Handle struct {
	ctx   context.Context
	iface string
	tp    *afpacket.TPacket
	// link is the link type of the packets: Ethernet, or bare IP on an
	// interface without a link-layer header. Under Any, where both come,
	// links keeps each interface's, by index, and a bare IP packet says
	// so in its CaptureInfo (capture.Reader reads it then as a pcapng
	// capture of mixed link types).
	link  layers.LinkType
	links map[int]linkSeen
	// uncounted is how many packets the reads returned that the kernel's
	// counts never had (see held).
	uncounted uint32
	// start checks the first packets, until it is over (see Open).
	start startup
	// buffer is the ring's size, in MiB.
	buffer int

	mu      sync.Mutex // for Dropped, from another goroutine, and Close
	closed  bool
	dropped uint64 // the kernel's drops, as Dropped last read them
}

// Open starts capturing the packets on iface ("" means DefaultInterface;
// Any, every interface of a link type it decodes) that may belong to a
// connection f picks: the kernel drops the rest (the zero Filter: none)
// before they cost a copy, into a ring of DefaultBuffer MiB. Reads end
// with io.EOF once ctx is done. Without the permission to capture, the
// error wraps ErrPermission.
func Open(ctx context.Context, iface string, f capture.Filter) (*Handle, error) {
	return OpenBuffer(ctx, iface, f, DefaultBuffer)
}

// OpenBuffer is Open with a ring of buffer MiB (0: DefaultBuffer), the
// room the kernel has for packets the reads have not taken yet: a burst
// larger than it is dropped (Dropped counts those). A size CheckBuffer
// refuses, or one the kernel cannot allocate, is an error naming
// --buffer.
func OpenBuffer(ctx context.Context, iface string, f capture.Filter, buffer int) (*Handle, error) {
	if iface == "" {
		iface = DefaultInterface
	}
	if buffer == 0 {
		buffer = DefaultBuffer
	}
	if err := CheckBuffer(buffer); err != nil {
		return nil, fmt.Errorf("sniff: %w", err)
	}
	opts := []any{
		afpacket.OptFrameSize(frameSize),
		afpacket.OptBlockSize(blockSize),
		afpacket.OptNumBlocks(buffer * (1 << 20) / blockSize),
		afpacket.OptPollTimeout(pollPeriod),
		afpacket.OptBlockTimeout(blockTimeout),
		afpacket.TPacketVersion3,
	}
	pre := every // an unbound socket: every interface
	link := layers.LinkTypeEthernet
	if iface != Any {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, noInterface(iface, err)
		}
		if ifc.Flags&net.FlagUp == 0 {
			// Bound to it, the socket would only report an error.
			return nil, fmt.Errorf("sniff: %s is down: bring it up (ip link set %s up), or capture on another (ip link)", iface, iface)
		}
		opts = append(opts, afpacket.OptInterface(iface))
		pre = bound
		hw, err := hardwareType(iface)
		if err != nil {
			return nil, fmt.Errorf("sniff: %s: cannot tell its link type: %w", iface, err)
		}
		var ok bool
		if link, ok = linkOf(hw); !ok {
			return nil, fmt.Errorf("sniff: %s carries link type %d (ARPHRD), which muxtop does not decode: it reads Ethernet, loopback and bare IP (tun, WireGuard, IPIP) interfaces; capture with tcpdump -w FILE (libpcap reads more) and use muxtop read FILE", iface, hw)
		}
		if link == layers.LinkTypeRaw {
			pre = boundIP
		}
		if ifc.Flags&net.FlagLoopback != 0 {
			// AF_PACKET shows each loopback packet twice, as it leaves and as
			// it arrives; keep the arrival only, as tcpdump does.
			pre = loopback
		}
	}
	filter, ok := socketFilter(pre, f)
	if !ok {
		filter, _ = socketFilter(pre, capture.Filter{}) // too many terms: the reader filters
	}
	var raw []bpf.RawInstruction
	if filter != nil {
		var err error
		if raw, err = bpf.Assemble(filter); err != nil {
			return nil, fmt.Errorf("sniff: %s: socket filter: %w", iface, err) // a bug: the tests assemble every shape
		}
	}
	created := time.Now()
	tp, err := afpacket.NewTPacket(opts...)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, permission(iface)
		}
		if ringRefused(err) {
			return nil, fmt.Errorf("sniff: %s: the kernel refused a capture ring of %d MiB (%v): give a smaller --buffer", iface, buffer, err)
		}
		return nil, fmt.Errorf("sniff: cannot capture on %s: %w", iface, err)
	}
	if raw != nil {
		if err := tp.SetBPF(raw); err != nil {
			tp.Close()
			return nil, fmt.Errorf("sniff: %s: %w", iface, err)
		}
	}
	// The socket took packets from its creation on, of every interface
	// until it was bound and whatever the filter drops until it was set
	// (loopback ones twice): the ring may hold some. The kernel stamps a
	// packet as it writes it to the ring, or with the earlier stamp it was
	// given when received or sent (tpacket_get_timestamp). Those stamped
	// before now are dropped, as if the capture began now: those stamped
	// since the socket was created, or a moment before (a stamp taken as
	// the packet was received). A packet stamped earlier still is no such
	// packet but one of a wall clock set back since (an NTP step at
	// boot): it and the later ones are kept, not dropped until the clock
	// is back here. A stamp from now on does not prove the filter ran,
	// though: a packet that passed no filter on another CPU just before it
	// was attached is written, and stamped, just after. So the first
	// packets are run through the filter's checks too (startup).
	since := time.Now()
	start, err := newStartup(pre, f, since, since.Sub(created)+time.Second)
	if err != nil {
		tp.Close()
		return nil, fmt.Errorf("sniff: %s: %w", iface, err)
	}
	h := &Handle{ctx: ctx, iface: iface, tp: tp, link: link, start: start, buffer: buffer}
	if iface == Any {
		h.links = make(map[int]linkSeen)
	}
	return h, nil
}

// ringRefused reports whether err, of afpacket.NewTPacket, is the
// kernel's refusal of the ring: gopacket says so in words
// ("setsockopt packet_rx_ring v3: cannot allocate memory"), not wrapped;
// a mapping of it that fails is ENOMEM.
func ringRefused(err error) bool {
	return strings.Contains(err.Error(), "packet_rx_ring") || errors.Is(err, syscall.ENOMEM)
}

// memory returns the machine's memory, in bytes, or 0 where it cannot
// tell.
func memory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// Buffer returns the size of the capture's ring, in MiB.
func (h *Handle) Buffer() int { return h.buffer }

// linkOf returns the link type of the packets AF_PACKET gives of an
// interface of ARPHRD type hw, and false for one the reader cannot decode.
func linkOf(hw uint16) (layers.LinkType, bool) {
	switch {
	case hw == arphrdEther, hw == arphrdLoopback:
		return layers.LinkTypeEthernet, true
	case slices.Contains(bareIP, uint32(hw)):
		return layers.LinkTypeRaw, true
	}
	return 0, false
}

// hardwareType returns the ARPHRD type of the interface named name, as
// SIOCGIFHWADDR gives it (libpcap asks the same).
func hardwareType(name string) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, err
	}
	return ifr.Uint16(), nil // sa_family: the ARPHRD type
}

// bareIPPacket is what a bare IP packet's CaptureInfo carries under Any.
var bareIPPacket = []any{layers.LinkTypeRaw}

// linkSeen is an interface's link type as linkAt looked it up, and the
// time of the packet it was looked up for.
type linkSeen struct {
	link  layers.LinkType
	at    time.Time
	other bool // a link type linkOf does not know
}

// linkRecheck is how long, in capture time, linkAt takes an index's link
// type as it looked it up: an index can change hands (a tun deleted, a
// tap given its index by ip link add ... index N, or moved in from
// another network namespace), and a lookup can fail for a moment (an
// interface renamed between its two steps).
const linkRecheck = time.Second

// linkAt returns the link type of the packets of the interface with index
// i, under Any, for a packet of time at: what the interface's type says,
// looked up again once linkRecheck has passed. The socket filter keeps
// only packets of the types linkOf knows. An interface gone keeps the
// type it was last seen with (its packets still in the ring, read late,
// are of that type); one gone before it could be looked up at all is
// taken for Ethernet, as before sniff knew of others. other is true for
// an interface of a type linkOf does not know (its link then Ethernet),
// whose packets the socket filter drops: the ring holds some only from
// before the filter was in place.
func (h *Handle) linkAt(i int, at time.Time) (link layers.LinkType, other bool) {
	s, seen := h.links[i]
	if seen {
		if d := at.Sub(s.at); d >= 0 && d < linkRecheck {
			return s.link, s.other
		}
	}
	s.at = at
	if !seen {
		s.link = layers.LinkTypeEthernet
	}
	if hw, err := hardwareTypeAt(i); err == nil {
		var ok bool
		if l, known := linkOf(hw); known {
			s.link, ok = l, true
		}
		s.other = !ok
	}
	h.links[i] = s
	return s.link, s.other
}

// hardwareTypeAt returns the ARPHRD type of the interface with index i
// (SIOCGIFNAME, then SIOCGIFHWADDR): two system calls, where
// net.InterfaceByIndex reads every interface's attributes.
func hardwareTypeAt(i int) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	ifr, err := unix.NewIfreq("")
	if err == nil {
		ifr.SetUint32(uint32(i)) // ifr_ifindex
		err = unix.IoctlIfreq(fd, unix.SIOCGIFNAME, ifr)
	}
	unix.Close(fd)
	if err != nil {
		return 0, err
	}
	return hardwareType(ifr.Name())
}

// ReadPacketData returns the next packet; its data is valid until the
// next call. It returns capture.ErrIdle, with the time, after a poll
// period with no packet, io.EOF once the context is done, and an error
// once its interface is deleted or goes down.
func (h *Handle) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	for {
		if h.ctx.Err() != nil {
			return nil, gopacket.CaptureInfo{}, eof
		}
		data, ci, err := h.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			// A poll period without a packet.
			if now, ok := h.quiet(); ok {
				return nil, gopacket.CaptureInfo{Timestamp: now}, capture.ErrIdle
			}
			continue
		}
		if errors.Is(err, afpacket.ErrPoll) {
			// The socket's error: its interface went down or away. It stays
			// set (a ring is not read with recv, which would clear it), so
			// every poll returns at once: end as tcpdump does, or, on an
			// interface that is up again, wait out a poll period rather
			// than spin, and then only report a quiet moment as a poll
			// timeout does.
			if err := h.gone(); err != nil {
				return nil, gopacket.CaptureInfo{}, err
			}
			time.Sleep(pollPeriod)
			if now, ok := h.quiet(); ok {
				return nil, gopacket.CaptureInfo{Timestamp: now}, capture.ErrIdle
			}
			continue
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, ci, fmt.Errorf("sniff: %s: %w", h.iface, err)
		}
		link, other := h.link, false
		if h.links != nil {
			link, other = h.linkAt(ci.InterfaceIndex, ci.Timestamp)
		}
		if !h.start.since.IsZero() {
			keep, over := h.start.judge(data, ci.Timestamp, link, other)
			if over {
				h.start = startup{}
			}
			if !keep {
				continue
			}
		}
		if link == layers.LinkTypeRaw {
			ci.AncillaryData = bareIPPacket
		}
		return data, ci, nil
	}
}

// quiet returns the time of a quiet moment after reads that found no
// packet, with ok: the reader's waits and evaluations may run on to now.
// Not ok while the kernel still holds packets older than now in a block
// it has not handed over.
func (h *Handle) quiet() (now time.Time, ok bool) {
	now = time.Now() // before the counts: a packet counted after is not older
	return now, !h.holding()
}

// holding reports whether the ring holds packets that ReadPacketData has
// not returned. Once the reads have caught up, that is a block the kernel
// has not yet handed over: TPACKET_V3 hands a block over when it is full
// or its timeout (blockTimeout) passes. Until then the capture's time
// must not pass those packets' own, or their connections would look
// silent.
func (h *Handle) holding() bool {
	_, v3, err := h.tp.SocketStats()
	if err != nil {
		return false
	}
	st, err := h.tp.Stats()
	if err != nil {
		return false
	}
	return h.held(uint32(v3.Packets()), uint32(v3.Drops()), uint32(st.Packets))
}

// held reports whether the kernel counted packets into the ring that the
// reads have not returned: PACKET_STATISTICS counts the packets written
// to the ring and the drops, in packets too (counts of 32 bits, as the
// kernel keeps them). The kernel's counts begin only once the ring is
// ready (gopacket clears them then), but the ring takes packets from the
// moment it exists, while its megabytes are mapped: on a busy interface
// the reads return packets the counts never had, which must not look
// like packets still to come, or held would stay true for good and no
// quiet moment come again. Those are taken as uncounted once the reads
// are ahead of the counts. (Until the reads have returned them all, a
// quiet moment may come while the kernel holds packets, as it would
// without this check.)
func (h *Handle) held(packets, drops, read uint32) bool {
	written := packets - drops + h.uncounted
	if ahead := int32(read - written); ahead > 0 {
		h.uncounted += uint32(ahead)
		return false
	}
	return written != read
}

// gone returns the error that ends a capture whose interface was
// deleted or went down, else nil.
func (h *Handle) gone() error {
	if h.iface == Any {
		return nil
	}
	ifc, err := net.InterfaceByName(h.iface)
	if err != nil {
		return fmt.Errorf("sniff: %s: the interface disappeared", h.iface)
	}
	if ifc.Flags&net.FlagUp == 0 {
		return fmt.Errorf("sniff: %s: the interface went down", h.iface)
	}
	return nil
}

// LinkType is Ethernet (AF_PACKET gives loopback packets an Ethernet
// header too), or bare IP (layers.LinkTypeRaw) on an interface without a
// link-layer header: a tun, WireGuard or IPIP tunnel. Under Any, a bare
// IP packet's CaptureInfo says so (its AncillaryData, as in a pcapng
// capture of mixed link types).
func (h *Handle) LinkType() layers.LinkType { return h.link }

// Dropped returns how many packets the kernel dropped because muxtop did
// not read them fast enough: after Close, the count it had then.
func (h *Handle) Dropped() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.countDropped()
}

// countDropped reads the kernel's drops while the socket is open. h.mu is held.
func (h *Handle) countDropped() uint64 {
	if h.closed {
		return h.dropped
	}
	if _, v3, err := h.tp.SocketStats(); err == nil {
		h.dropped = uint64(v3.Drops())
	}
	return h.dropped
}

// Close stops the capture. Dropped still answers: a summary reads it after.
func (h *Handle) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.countDropped()
	h.closed = true
	h.tp.Close()
}
