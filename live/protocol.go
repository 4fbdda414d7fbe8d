package live

import "fmt"

// Protocol is the multiplexing protocol a session speaks.
type Protocol uint8

// The protocols muxtop decodes. The zero value is smux, which every
// session spoke before muxtop knew another.
const (
	Smux  Protocol = 0 // github.com/xtaci/smux
	Yamux Protocol = 1 // github.com/hashicorp/yamux
	// ProtocolUnknown is a session whose protocol the tap has not
	// detected yet: no byte has passed.
	ProtocolUnknown Protocol = 2
)

var protocolNames = [...]string{"smux", "yamux", "unknown"}

// String returns "smux" or "yamux": the protocol's name in every output.
func (p Protocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return fmt.Sprintf("protocol-%d", uint8(p))
}

// ParseProtocol returns the protocol named s, as String spells it
// ("unknown" included).
func ParseProtocol(s string) (Protocol, bool) {
	for i, n := range protocolNames {
		if s == n {
			return Protocol(i), true
		}
	}
	return 0, false
}
