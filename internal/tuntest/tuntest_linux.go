//go:build linux

package tuntest

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Pair is a TCP listener and a way to dial it whose every segment
// crosses a tun device (IFF_TUN|IFF_NO_PI: link type ARPHRD_NONE, bare
// IPv4 packets, or IPv6 ones from New6, no link header), in both directions, within the test's
// own process: an AF_PACKET capture bound to Ifname sees each of them.
//
// The tun is given Local/24 and up, so ServerSide and ClientSide, in the
// same /24, are routed into it. A reflector goroutine reads what the
// kernel sends into the tun and writes it back with its addresses
// rewritten, a 1:1 NAT, ports kept:
//
//	Local:cport -> ServerSide:port  is written back as  ClientSide:cport -> Local:port
//	Local:port  -> ClientSide:cport is written back as  ServerSide:port  -> Local:cport
//
// Dial connects from Local to ServerSide:port; the listener, on
// Local:port, accepts it as from ClientSide:cport. Each segment crosses
// the tun twice, going out then coming back in rewritten, so a capture
// on Ifname sees two complete connections: Local:cport <-> ServerSide:port
// (the client's view) and ClientSide:cport <-> Local:port (the server's).
// Without offloads asked for (no IFF_VNET_HDR, no TUNSETOFFLOAD) the
// kernel hands the tun packets no bigger than its MTU (1500), with
// complete checksums.
//
// The tun also has IPv6 off (best effort) so that nothing but the test's
// IPv4 crosses it; the reflector drops whatever is not TCP between those
// addresses.
//
// At the test's cleanup every connection Ln accepted and Dial made is
// closed, then Ln, then the tun (which deletes the device), and the
// reflector is waited for. Closing the connections first wakes a
// goroutine blocked on one: with the tun gone, the peer's FIN would
// never arrive. The test must still wait for its own goroutines.
type Pair struct {
	Ifname     string
	Local      netip.Addr   // A: the tun's address; the listener's and the client's
	ServerSide netip.Addr   // R1: the address the client dials
	ClientSide netip.Addr   // R2: the address the server's connections come from
	Ln         net.Listener // on Local; Accept returns a *net.TCPConn
	v6         bool         // made by New6: the addresses are IPv6 ones

	mu    sync.Mutex
	conns []net.Conn // accepted and dialed, for the cleanup to close

	Reflected atomic.Int64 // packets written back into the tun
	Dropped   atomic.Int64 // packets read from the tun and not written back
	Oversized atomic.Int64 // packets read bigger than the tun's MTU (GSO); reflected anyway
}

// Dial connects to the listener through the tun: from Local to
// ServerSide:port.
func (p *Pair) Dial() (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.Local, 0))}
	port := p.Ln.Addr().(*net.TCPAddr).Port
	network := "tcp4"
	if p.v6 {
		network = "tcp6"
	}
	c, err := d.Dial(network, netip.AddrPortFrom(p.ServerSide, uint16(port)).String())
	if err == nil {
		p.track(c)
	}
	return c, err
}

func (p *Pair) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

// listener is a Pair's listener: it has the pair track what it
// accepts.
type listener struct {
	net.Listener
	p *Pair
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.p.track(c)
	}
	return c, err
}

// MTU is the tun's MTU, the kernel's default for a tun device.
const MTU = 1500

// nets are the /24s (10.77.N.0/24, by N) this process's pairs hold.
var nets struct {
	sync.Mutex
	used map[byte]bool
}

// New makes a Pair; it skips the test where a tun cannot be
// opened, or set up for lack of privilege (CAP_NET_ADMIN).
func New(t testing.TB) *Pair {
	t.Helper()
	return newPair(t, false)
}

// New6 is New with IPv6 addresses: Local is fd77:0:N::1/64 (ServerSide
// and ClientSide the next two), the tun's packets bare IPv6 ones. Router
// solicitations and the like cross the tun too; the reflector drops
// them.
func New6(t testing.TB) *Pair {
	t.Helper()
	return newPair(t, true)
}

func newPair(t testing.TB, v6 bool) *Pair {
	t.Helper()
	for range 20 {
		p, f, n, err := tryNew(t, v6)
		if errors.Is(err, errClash) {
			t.Logf("tun pair: %v; trying another", err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		start(t, p, f, n)
		return p
	}
	t.Fatal("tun pair: no free name or 10.77.N.0/24 in 20 tries")
	return nil
}

var errClash = errors.New("the name or the network is taken")

// tryNew opens a tun of a random name, gives it a random /24 no
// interface has an address in, and brings it up; it skips the test for
// lack of a tun or of privilege.
func tryNew(t testing.TB, v6 bool) (*Pair, *os.File, byte, error) {
	t.Helper()
	var rnd [4]byte
	rand.Read(rnd[:])
	name := "mxt" + hex.EncodeToString(rnd[:3])
	n := rnd[3]
	nets.Lock()
	if nets.used == nil {
		nets.used = map[byte]bool{}
	}
	if nets.used[n] {
		nets.Unlock()
		return nil, nil, 0, fmt.Errorf("10.77.%d.0/24: %w", n, errClash)
	}
	nets.used[n] = true
	nets.Unlock()
	ok := false
	defer func() {
		if !ok {
			nets.Lock()
			delete(nets.used, n)
			nets.Unlock()
		}
	}()
	var tun *os.File
	prefix := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, n, 0}), 24)
	if v6 {
		prefix = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x77, 0, 0, 0, n}), 64)
	}
	if other := addrIn(prefix, ""); other != "" {
		return nil, nil, 0, fmt.Errorf("%v has an address on %s: %w", prefix, other, errClash)
	}

	// O_NONBLOCK: os.NewFile puts the fd in the runtime's poller, where
	// Close unblocks a Read. O_CLOEXEC: a command the test starts (ip,
	// tcpdump) must not hold the tun, and so the device, open.
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no tun device: open /dev/net/tun: %v", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
	} else {
		// Only now: a tun fd not yet attached to a device polls as an
		// error, and the poller would take it for one it cannot poll
		// (a Read returned "not pollable").
		f := os.NewFile(uintptr(fd), "/dev/net/tun")
		defer func() {
			if !ok {
				f.Close() // deletes the device: it is not persistent
			}
		}()
		tun = f
	}
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("creating a tun device needs CAP_NET_ADMIN: TUNSETIFF: %v", err)
		}
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.EINVAL) {
			return nil, nil, 0, fmt.Errorf("TUNSETIFF %s: %v: %w", name, err, errClash)
		}
		return nil, nil, 0, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	name = ifr.Name() // as the kernel has it

	// Best effort: without IPv6 the tun carries no router solicitation
	// or MLD report, only the test's packets. Strict reverse-path
	// filtering would pass the reflected packets (their sources are
	// routed into the tun); 0 is for a host whose default is odd.
	if !v6 {
		os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	}
	os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/rp_filter", []byte("0"), 0)

	local := prefix.Addr().Next()
	p := &Pair{Ifname: name, Local: local, ServerSide: local.Next(), ClientSide: local.Next().Next(), v6: v6}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, 0, err
	}
	defer unix.Close(s)
	ioctl := func(what string, req uint, prep func(*unix.Ifreq) error) (*unix.Ifreq, error) {
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			err = prep(ifr)
		}
		if err == nil {
			err = unix.IoctlIfreq(s, req, ifr)
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("setting up a tun device needs CAP_NET_ADMIN: %s %s: %v", what, name, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, name, err)
		}
		return ifr, nil
	}
	if v6 {
		// nodad: usable at once, not after duplicate address detection.
		if out, err := exec.Command("ip", "-6", "addr", "add", netip.PrefixFrom(local, prefix.Bits()).String(), "dev", name, "nodad").CombinedOutput(); err != nil {
			return nil, nil, 0, fmt.Errorf("ip -6 addr add %v dev %s: %v: %s", local, name, err, out)
		}
	} else {
		a4 := local.As4()
		mask := net.CIDRMask(prefix.Bits(), 32)
		if _, err := ioctl("SIOCSIFADDR", unix.SIOCSIFADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr(a4[:]) }); err != nil {
			return nil, nil, 0, err
		}
		if _, err := ioctl("SIOCSIFNETMASK", unix.SIOCSIFNETMASK, func(r *unix.Ifreq) error { return r.SetInet4Addr(mask) }); err != nil {
			return nil, nil, 0, err
		}
	}
	fl, err := ioctl("SIOCGIFFLAGS", unix.SIOCGIFFLAGS, func(*unix.Ifreq) error { return nil })
	if err != nil {
		return nil, nil, 0, err
	}
	if _, err := ioctl("SIOCSIFFLAGS", unix.SIOCSIFFLAGS, func(r *unix.Ifreq) error { r.SetUint16(fl.Uint16() | unix.IFF_UP); return nil }); err != nil {
		return nil, nil, 0, err
	}
	// Another process may have taken the same /24 meanwhile: both see
	// it now, and both try again.
	if other := addrIn(prefix, name); other != "" {
		return nil, nil, 0, fmt.Errorf("%v has an address on %s too: %w", prefix, other, errClash)
	}
	network := "tcp4"
	if v6 {
		network = "tcp6"
	}
	ln, err := net.Listen(network, netip.AddrPortFrom(local, 0).String())
	if err != nil {
		return nil, nil, 0, err
	}
	p.Ln = listener{ln, p}
	ok = true
	return p, tun, n, nil
}

// addrIn is the name of an interface other than except with an IPv4
// address in prefix, or "".
func addrIn(prefix netip.Prefix, except string) string {
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Name == except {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && prefix.Contains(ip.Unmap()) {
					return ifc.Name
				}
			}
		}
	}
	return ""
}

// start starts p's reflector on the tun f, and has the test's
// cleanup stop it.
func start(t testing.TB, p *Pair, f *os.File, n byte) {
	var writeErr error // the first, set before done closes
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(done)
		readErr, writeErr = p.reflect(f)
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.Ln.Close()
		f.Close() // unblocks the reflector's read; deletes the device
		<-done
		nets.Lock()
		delete(nets.used, n)
		nets.Unlock()
		if readErr != nil && !errors.Is(readErr, os.ErrClosed) {
			t.Errorf("tun pair %s: reading the tun: %v", p.Ifname, readErr)
		}
		if writeErr != nil {
			t.Errorf("tun pair %s: writing the tun: %v", p.Ifname, writeErr)
		}
	})
}

// reflect writes back into the tun f each TCP packet between p's
// addresses it reads there, rewritten, until reading f fails; it returns
// that error and the first of writing.
func (p *Pair) reflect(f *os.File) (readErr, writeErr error) {
	buf := make([]byte, 1<<16)
	a, r1, r2 := p.Local.As16(), p.ServerSide.As16(), p.ClientSide.As16()
	for {
		n, err := f.Read(buf)
		if err != nil {
			return err, writeErr
		}
		pkt := buf[:n]
		if n > MTU {
			p.Oversized.Add(1)
		}
		ok := false
		if p.v6 {
			ok = rewrite6(pkt, a, r1, r2)
		} else {
			ok = rewrite(pkt, [4]byte(a[12:]), [4]byte(r1[12:]), [4]byte(r2[12:]))
		}
		if !ok {
			p.Dropped.Add(1)
			continue
		}
		if _, err := f.Write(pkt); err != nil {
			// EIO: the tun is down; ErrClosed: closed since the read.
			if writeErr == nil && !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrClosed) {
				writeErr = err
			}
			p.Dropped.Add(1)
			continue
		}
		p.Reflected.Add(1)
	}
}

// rewrite turns pkt, an IPv4 TCP packet from a to r1 (or r2), into one
// from r2 (or r1) to a, with its checksums made again; it reports
// whether pkt was one of those.
func rewrite(pkt []byte, a, r1, r2 [4]byte) bool {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != unix.IPPROTO_TCP {
		return false
	}
	ihl := int(pkt[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total < ihl+20 || total > len(pkt) {
		return false
	}
	if binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0 { // a fragment: MF or an offset
		return false
	}
	pkt = pkt[:total]
	src, dst := (*[4]byte)(pkt[12:16]), (*[4]byte)(pkt[16:20])
	if !reflectAddrs(src, dst, a, r1, r2) {
		return false
	}
	binary.BigEndian.PutUint16(pkt[10:12], 0)
	binary.BigEndian.PutUint16(pkt[10:12], ^fold(sum(0, pkt[:ihl])))
	seg := pkt[ihl:]
	var pseudo [12]byte
	copy(pseudo[0:4], src[:])
	copy(pseudo[4:8], dst[:])
	pseudo[9] = unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(pseudo[10:12], uint16(len(seg)))
	setTCPChecksum(seg, pseudo[:])
	return true
}

// rewrite6 is rewrite for an IPv6 TCP packet (no extension header).
func rewrite6(pkt []byte, a, r1, r2 [16]byte) bool {
	if len(pkt) < 40 || pkt[0]>>4 != 6 || pkt[6] != unix.IPPROTO_TCP {
		return false
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if plen < 20 || 40+plen > len(pkt) {
		return false
	}
	pkt = pkt[:40+plen]
	src, dst := (*[16]byte)(pkt[8:24]), (*[16]byte)(pkt[24:40])
	if !reflectAddrs(src, dst, a, r1, r2) {
		return false
	}
	seg := pkt[40:]
	var pseudo [40]byte
	copy(pseudo[0:16], src[:])
	copy(pseudo[16:32], dst[:])
	binary.BigEndian.PutUint32(pseudo[32:36], uint32(len(seg)))
	pseudo[39] = unix.IPPROTO_TCP
	setTCPChecksum(seg, pseudo[:])
	return true
}

// reflectAddrs turns a packet's addresses src -> dst, from a to r1 (or
// r2), into r2 (or r1) -> a: the pair's 1:1 NAT, for IPv4 and IPv6
// alike. It reports whether they were one of those, and changes them
// only then.
func reflectAddrs[A [4]byte | [16]byte](src, dst *A, a, r1, r2 A) bool {
	if *src != a {
		return false
	}
	switch *dst {
	case r1:
		*src, *dst = r2, a
	case r2:
		*src, *dst = r1, a
	default:
		return false
	}
	return true
}

// setTCPChecksum makes the checksum of the TCP segment seg again, over
// the pseudo-header pseudo (IPv4's or IPv6's) and seg.
func setTCPChecksum(seg, pseudo []byte) {
	binary.BigEndian.PutUint16(seg[16:18], 0)
	binary.BigEndian.PutUint16(seg[16:18], ^fold(sum(sum(0, pseudo), seg)))
}

// sum adds b, as big-endian 16-bit words, to s: the Internet checksum's
// sum, not yet folded.
func sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
