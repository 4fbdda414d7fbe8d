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
