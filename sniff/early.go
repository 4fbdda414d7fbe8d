package sniff

import (
	"fmt"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/muxtop/muxtop/capture"
)

// settle is how long past since (the moment Open attached the socket
// filter) a capture checks its packets against the filter itself, and
// then only until a packet the filter keeps comes: see startup.
//
// Attaching a filter does not wait for the packets the kernel is
// receiving on other CPUs: one that passed the socket's old filter (none)
// a moment before is written to the ring after, and stamped as it is
// written, after since (seen 0.9 to 12 µs after). The kernel receives a
// packet without sleeping, so such a stamp is a few microseconds late,
// more only on a CPU stalled (a virtual machine's CPU not scheduled by its
// host). 100 ms is thousands of times what was seen, and short enough
// that checking every packet until then costs little: the socket filter
// has dropped all but the connections f picks.
const settle = 100 * time.Millisecond

// startup is what a capture checks its first packets against: the ring
// may hold packets the socket took before it was bound and its filter in
// place (see Open). Its zero value checks nothing.
//
// Those stamped before since (by less than early) are dropped: the
// packets of every interface taken before the socket was bound to its own
// (binding waits for the packets being received), and, on the loopback,
// the copies of outgoing packets, which the socket filter drops but the
// ring's packets do not tell apart. Those stamped after are run through
// the socket filter's checks of f (its preamble's, under Any, of the
// interface's link type too), in x/net/bpf's virtual machine: one the
// filter drops does not come out, whatever its stamp. The checks end at
// the first packet the filter keeps that is stamped settle past since:
// the packets after it in the ring passed the filter too. A packet
// stamped before since by early or more is of a wall clock set back (an
// NTP step at boot): the checks end there too, or they would drop every
// packet until the clock is back.
type startup struct {
	since time.Time // zero once the checks are over
	early time.Duration
	// ether and ip are the socket filter's checks of f on an Ethernet and
	// a bare IP packet, nil when it checks none (f is empty, or has too
	// many terms for the socket filter, which then keeps every
	// connection: the reader filters).
	ether, ip *bpf.VM
	// links: under Any, the socket filter drops the packets of interfaces
	// of a link type linkOf does not know.
	links bool
}

// newStartup returns the checks of a capture whose socket runs
// socketFilter(pre, f), attached at since, created early before it.
func newStartup(pre preamble, f capture.Filter, since time.Time, early time.Duration) (startup, error) {
	s := startup{since: since, early: early, links: pre == every}
	var err error
	if pre != boundIP {
		if s.ether, err = check(bound, f); err != nil {
			return startup{}, err
		}
	}
	if pre == boundIP || pre == every {
		if s.ip, err = check(boundIP, f); err != nil {
			return startup{}, err
		}
	}
	return s, nil
}

// check returns a virtual machine that runs the socket filter's checks of
// f on the packets of an interface of its own of type pre (bound or
// boundIP): nil when the socket filter does not check f.
func check(pre preamble, f capture.Filter) (*bpf.VM, error) {
	ins, ok := socketFilter(pre, f)
	if !ok || ins == nil {
		return nil, nil
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		return nil, fmt.Errorf("sniff: socket filter: %w", err) // a bug: the tests run every shape
	}
	return vm, nil
}

// judge reports whether a packet of link type link, stamped at, comes
// out (keep), and whether the packets after it need no more checks
// (over). other is true for a packet of an interface of a link type
// linkOf does not know (under Any).
func (s *startup) judge(data []byte, at time.Time, link layers.LinkType, other bool) (keep, over bool) {
	d := s.since.Sub(at)
	if d > 0 && d < s.early {
		return false, false // taken before the socket was bound and filtered
	}
	keep = s.passes(data, link, other)
	if d >= s.early || (s.ether == nil && s.ip == nil && !s.links) {
		// A wall clock set back; or nothing to check: the time was all.
		return keep, true
	}
	return keep, keep && !at.Before(s.since.Add(settle))
}

// passes reports whether the socket filter keeps the packet, as far as
// its bytes and link type tell.
func (s *startup) passes(data []byte, link layers.LinkType, other bool) bool {
	if s.links && other {
		return false
	}
	vm := s.ether
	if link == layers.LinkTypeRaw {
		vm = s.ip
	}
	if vm == nil {
		return true
	}
	n, err := vm.Run(data)
	return err == nil && n > 0
}
