// Package sniff captures packets from a network interface as they pass,
// with AF_PACKET on Linux (pure Go: no libpcap, no cgo), for `muxtop
// sniff`: a capture.Source that capture.Reader reads like a file.
package sniff

import (
	"errors"
	"fmt"
	"io"
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
