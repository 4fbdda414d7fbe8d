package capture

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Filter picks the TCP connections to decode. Its zero value picks none
// by address: every connection whose bytes look like smux is decoded.
type Filter struct {
	hosts []netip.Addr
	ports []uint16
}

// ParseFilter parses a small BPF-style filter: terms joined by "and",
// each "host ADDR" (an IP address), "port N" or "tcp". A connection
// matches when, for every term, one of its two ends does. An empty
// expression is the zero Filter.
func ParseFilter(expr string) (Filter, error) {
	var f Filter
	words := strings.Fields(expr)
	for i := 0; i < len(words); i++ {
		w := strings.ToLower(words[i])
		switch w {
		case "and", "&&", "tcp":
			continue
		case "host", "port":
			if i+1 == len(words) {
				return Filter{}, fmt.Errorf("capture: filter %q: %s needs a value", expr, w)
			}
			i++
			v := words[i]
			if w == "host" {
				a, err := netip.ParseAddr(v)
				if err != nil {
					return Filter{}, fmt.Errorf("capture: filter %q: host %q is not an IP address", expr, v)
				}
				f.hosts = append(f.hosts, a.Unmap())
				continue
			}
			p, err := strconv.ParseUint(v, 10, 16)
			if err != nil || p == 0 {
				return Filter{}, fmt.Errorf("capture: filter %q: port %q is not a port number (1-65535)", expr, v)
			}
			f.ports = append(f.ports, uint16(p))
		default:
			if strings.HasPrefix(w, "-") && len(w) > 1 {
				// A flag after --, which ends the flags.
				return Filter{}, fmt.Errorf("capture: filter %q: %q is a flag, not a filter's word: flags go before --", expr, words[i])
			}
			return Filter{}, fmt.Errorf("capture: filter %q: %q is not understood; use terms such as host 10.0.0.5 and port 9000", expr, words[i])
		}
	}
	return f, nil
}

// Port returns a Filter that picks the connections with an end on port.
func Port(port uint16) Filter { return Filter{ports: []uint16{port}} }

// Empty reports whether the filter picks by nothing.
func (f Filter) Empty() bool { return len(f.hosts) == 0 && len(f.ports) == 0 }

// Match reports whether the connection between a and b matches.
func (f Filter) Match(a, b netip.AddrPort) bool {
	for _, h := range f.hosts {
		if a.Addr().Unmap() != h && b.Addr().Unmap() != h {
			return false
		}
	}
	for _, p := range f.ports {
		if a.Port() != p && b.Port() != p {
			return false
		}
	}
	return true
}

// isServer reports whether the filter names b's port and not a's, which
// makes b the server: a --port is the server's port.
func (f Filter) isServer(a, b netip.AddrPort) bool {
	for _, p := range f.ports {
		if b.Port() == p && a.Port() != p {
			return true
		}
	}
	return false
}

// String returns the filter as ParseFilter reads it.
func (f Filter) String() string {
	var terms []string
	for _, h := range f.hosts {
		terms = append(terms, "host "+h.String())
	}
	for _, p := range f.ports {
		terms = append(terms, "port "+strconv.Itoa(int(p)))
	}
	return strings.Join(terms, " and ")
}

// Hosts returns the filter's host terms, IPv4 addresses unmapped.
func (f Filter) Hosts() []netip.Addr { return slices.Clone(f.hosts) }

// Ports returns the filter's port terms.
func (f Filter) Ports() []uint16 { return slices.Clone(f.ports) }
