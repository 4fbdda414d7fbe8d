// Package hostport reads the addresses muxtop is given, on its command
// line or in a demo.Config, by one rule: loopback unless the host is
// spelled out.
package hostport

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Loopback fills in an address given loosely: a bare PORT or :PORT means
// 127.0.0.1:PORT, so that nothing listens beyond this machine unless the
// user spells out the host ("0.0.0.0:9000"). The port must be a number
// from 0 to 65535; the host is kept as given.
func Loopback(addr string) (string, error) {
	if strings.Trim(addr, "0123456789") == "" && addr != "" {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not an address: use host:port or :port, such as :9000", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
