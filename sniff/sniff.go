// Package sniff captures packets from a network interface as they pass,
// with AF_PACKET on Linux (pure Go: no libpcap, no cgo), for `muxtop
// sniff`: a capture.Source that capture.Reader reads like a file.
package sniff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// DefaultInterface is the interface sniff watches when none is named: the
// loopback, where a client and server on one machine talk.
const DefaultInterface = "lo"

// Any is the interface name that captures on every Ethernet, loopback
// and bare IP (tun, WireGuard, IPIP) interface, as tcpdump's -i any does.
const Any = "any"

// DefaultBuffer is the size, in MiB, of the ring in which the kernel
// keeps the packets sniff captures until it reads them, unless --buffer
// gives another: room for about a quarter of a second of a 1 Gbit/s
// link's packets, or of a loopback's bulk transfer in 64 KiB packets
// (each packet takes a frame of 128 KiB of the ring).
const DefaultBuffer = 32

// CheckBuffer returns an error, one line that begins with --buffer, for a
// ring of mib MiB that sniff cannot have: less than 1 MiB, or more than
// half the machine's memory (the kernel takes the ring from memory no
// other process can have while sniff runs: more would starve the
// machine; the kernel may still refuse less, which Open says). Its
// words tell a tcpdump user that --buffer counts MiB where tcpdump's -B
// counts KiB.
func CheckBuffer(mib int) error {
	if mib < 1 {
		return fmt.Errorf("--buffer %d: give the capture ring's size in MiB, 1 or more (default %d; tcpdump's -B counts KiB: -B 65536 is --buffer 64)", mib, DefaultBuffer)
	}
	mem := memory()
	if mem == 0 {
		return nil
	}
	if most := mem / 2 >> 20; uint64(mib) > most {
		return fmt.Errorf("--buffer %d: more than half this machine's memory (%d MiB), give at most %d; --buffer counts MiB, not KiB as tcpdump's -B does (-B %d is --buffer %d)", mib, mem>>20, most, mib, (mib+1023)/1024)
	}
	return nil
}

// ErrPermission is returned, wrapped, when the process may not capture.
var ErrPermission = errors.New("sniff: capturing packets needs root or CAP_NET_RAW: run as root, or once: sudo setcap cap_net_raw+ep $(which muxtop)")

// eof ends a capture: the context is done.
var eof = io.EOF

// permission wraps err as ErrPermission with the interface's name.
func permission(iface string) error {
	return fmt.Errorf("%w (interface %s)", ErrPermission, iface)
}

// noInterface is the error for iface, which net.InterfaceByName did not
// find (err): one line naming the interfaces that are up here, in place
// of the Go runtime's "route ip+net: no such network interface".
func noInterface(iface string, err error) error {
	up, lerr := UpInterfaces()
	switch {
	case lerr != nil:
		return fmt.Errorf("sniff: no interface %q (%v; list them with ip link, or use -i any)", iface, err)
	case len(up) == 0:
		return fmt.Errorf("sniff: no interface %q, and none is up here (ip link lists them)", iface)
	}
	return fmt.Errorf("sniff: no interface %q (interfaces up here: %s; or -i any for every one)", iface, strings.Join(up, ", "))
}

// UpInterfaces returns the names of the network interfaces that are up.
func UpInterfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var up []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp != 0 {
			up = append(up, ifc.Name)
		}
	}
	return up, nil
}
