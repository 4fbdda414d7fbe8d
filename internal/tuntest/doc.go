// Package tuntest gives tests a TCP connection whose every segment
// crosses a tun device (bare IP packets, no link-layer header, as on a
// WireGuard, Tailscale or OpenVPN interface), both ways, within the test's
// own process, so that a capture of the tun sees every segment.
//
// It needs Linux, a tun device (/dev/net/tun) and CAP_NET_ADMIN; New
// skips the test without them.
package tuntest
