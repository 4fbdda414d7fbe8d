package tap

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// Protocol chooses what a tap decodes a connection as.
type Protocol uint8

// The choices. The zero value detects the protocol per connection.
const (
	// Detect decides from the connection's first byte after any skipped
	// prefix, whichever direction sends first: 0 is yamux (its version
	// byte), anything else smux (whose version byte is 1 or 2; other bytes
	// are then an smux violation, named with a guess at what they are).
	Detect Protocol = iota
	// Smux decodes every connection as smux.
	Smux
	// Yamux decodes every connection as yamux.
	Yamux
)

var protocolFlags = [...]string{"auto", "smux", "yamux"}

// String returns the choice as the --protocol flag spells it: auto, smux or yamux.
func (p Protocol) String() string {
	if int(p) < len(protocolFlags) {
		return protocolFlags[p]
	}
	return fmt.Sprintf("protocol-%d", uint8(p))
}

// ParseProtocol parses the --protocol flag: auto, smux or yamux.
func ParseProtocol(s string) (Protocol, error) {
	for i, n := range protocolFlags {
		if s == n {
			return Protocol(i), nil
		}
	}
	return 0, fmt.Errorf("--protocol %q: want auto, smux or yamux", s)
}

// live returns the protocol a session opens with: the forced one, or
// live.ProtocolUnknown until detection.
func (p Protocol) live() live.Protocol {
	switch p {
	case Smux:
		return live.Smux
	case Yamux:
		return live.Yamux
	}
	return live.ProtocolUnknown
}

// detectByte returns the protocol whose frames can start with b.
func detectByte(b byte) uint32 {
	if b == yamux.Version {
		return kindYamux
	}
	return kindSmux
}

// The kinds a Feeder decodes; a connection's choice is shared by its two
// feeders as one of these in an atomic.
const (
	kindUndecided uint32 = iota
	kindSmux
	kindYamux
	kindOther // the client's prefix is not the one expected: another protocol, not decoded
)

// choice is the protocol of one connection, decided once for both
// directions: by the tap's Protocol, or by the first byte either sends.
// prefix says the client's prefix (ProxyConfig.Prefix) is yet to come in
// full: a server that speaks before it is another protocol's, since the
// mux's server waits for the prefix that picks it.
type choice struct {
	kind   atomic.Uint32
	prefix atomic.Bool
}

func newChoice(p Protocol) *choice {
	c := new(choice)
	switch p {
	case Smux:
		c.kind.Store(kindSmux)
	case Yamux:
		c.kind.Store(kindYamux)
	}
	return c
}

// decide settles the connection's protocol from first, the first byte of
// one direction after its prefix, unless the other direction settled it
// already, and returns it.
func (c *choice) decide(first byte) uint32 {
	c.kind.CompareAndSwap(kindUndecided, detectByte(first))
	return c.kind.Load()
}

// decideSmux settles the connection's protocol as smux unless it is
// settled, and returns it.
func (c *choice) decideSmux() uint32 {
	c.kind.CompareAndSwap(kindUndecided, kindSmux)
	return c.kind.Load()
}

// settle makes the feeder decode kind.
func (f *Feeder) settle(kind uint32) {
	f.kind = kind
	if kind == kindYamux {
		f.ydec = yamux.New(f.dec.Snaplen())
		f.sess.SetProtocol(live.Yamux)
	} else {
		f.sess.SetProtocol(live.Smux)
	}
}

// detect is feed's slow start: it skips the direction's prefix, then
// takes the connection's protocol, deciding it from p's first byte if
// nothing has, and returns what is left of p to decode.
func (f *Feeder) detect(p []byte, at time.Time) []byte {
	if f.choice.kind.Load() == kindOther {
		f.kind = kindOther // the other direction told it: once
		return nil
	}
	if len(f.prefix) == 0 && f.choice.prefix.Load() {
		// The server spoke before its client's prefix came whole: the
		// proxy feeds the client's bytes before it forwards them, so the
		// mux's server, which waits for them, cannot have.
		f.other(p[:min(len(p), 8)])
		return nil
	}
	if f.skip > 0 && len(f.prefix) > 0 {
		n := min(int64(len(p)), f.skip)
		if want := f.prefix[f.skipped : f.skipped+n]; !bytes.Equal(p[:n], want) {
			f.other(append(append([]byte(nil), f.prefix[:f.skipped]...), p[:n]...))
			return nil
		}
	}
	if f.skip > 0 {
		n := min(int64(len(p)), f.skip)
		f.skip -= n
		f.skipped += n
		f.sess.PrefixBytes(f.dir, p[:n])
		p = p[n:]
		f.sess.Prefix(f.dir, f.skipped)
		if f.skip == 0 && len(f.prefix) > 0 {
			f.choice.prefix.Store(false) // the prefix came whole
		}
	}
	if f.skip > 0 || len(p) == 0 {
		return nil
	}
	kind := f.choice.kind.Load()
	if kind == kindOther {
		f.kind = kindOther
		return nil
	}
	if kind == kindUndecided {
		kind = f.choice.decide(p[0])
	}
	f.settle(kind)
	return p
}

// other makes the connection another protocol than the mux, not decoded
// either way, and tells onOther got, the bytes that showed it.
func (f *Feeder) other(got []byte) {
	f.choice.kind.Store(kindOther)
	f.kind = kindOther
	f.sess.SetProtocol(live.ProtocolUnknown) // neither, whatever --protocol says
	if f.onOther != nil {
		f.onOther(got)
	}
}

// feedYamux is feed for a yamux connection.
func (f *Feeder) feedYamux(p []byte, at time.Time) {
	if f.ydec.Violation() != nil {
		f.ydec.Next(p)
		f.sess.Unparsed(f.dir, f.ydec.Unparsed())
		return
	}
	f.ywrote = f.ywrote[:0]
	if f.resync != inStep || len(f.held) > 0 { // a tap, which never resynchronises, passes here
		f.hold(f.ydec.Offset(), len(p), at)
	}
	// After a resynchronisation the decoder may hold frames to give.
	for len(p) > 0 || f.ydec.Buffered() > 0 {
		n, fr, err := f.ydec.Next(p)
		p = p[n:]
		if fr == nil && err == nil {
			continue
		}
		if at.IsZero() {
			at = f.clock.Now()
		}
		if fr == nil {
			v := f.ydec.Violation()
			f.sess.ViolationYamux(f.dir, f.heldAt(v.Offset+yamux.HeaderSize, at), v) // when its header came, as a frame is stamped when it came whole
			f.sess.Unparsed(f.dir, f.ydec.Unparsed())
			f.ywrote = f.ywrote[:0]
			continue
		}
		fat := at
		if len(f.held) > 0 {
			fat = f.heldAt(fr.Offset+yamux.HeaderSize+int64(fr.Header.PayloadLength()), at)
		}
		if f.resync != inStep {
			f.resynced(fat, fr.Offset, fr.Skipped)
		}
		ref := f.sess.RecordYamuxRef(f.dir, fat, fr)
		if f.keep {
			f.ywrote = append(f.ywrote, wroteFrame[yamux.Header]{fr.Offset, fr.Header, ref})
		}
	}
	f.heldDone(f.ydec.Buffered())
}

// yamuxFraming is what unsent knows of yamux frames.
var yamuxFraming = framing[yamux.Header, yamux.Violation]{
	size:  func(h yamux.Header) int64 { return yamux.HeaderSize + int64(h.PayloadLength()) },
	place: func(v *yamux.Violation) (int64, yamux.Header) { return v.Offset, v.Header },
	truncated: func(c frameCut[yamux.Header]) *yamux.Violation {
		return &yamux.Violation{Code: yamux.Truncated, Offset: c.off, Header: c.hdr, HeaderComplete: c.headerComplete(), Got: c.got}
	},
}
