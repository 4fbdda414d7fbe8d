// Package yamux turns the bytes of one direction of a hashicorp/yamux
// connection into frames, mirroring the receive rules of
// github.com/hashicorp/yamux v0.1.2. It is the yamux twin of package
// decoder, which does the same for smux.
//
// The decoder is pure: it does no I/O, reads no clock and starts no
// goroutines. It accepts bytes in any chunking and yields the same frames.
//
// It checks only what framing decides: yamux's recvLoop ends the session
// on a version other than 0 (ErrInvalidVersion) and on a type above GoAway
// (ErrInvalidMsgType), and those are the decoder's violations, with a byte
// stream that ends inside a frame. What yamux decides per stream (a SYN
// for a stream it has, a FIN in the wrong state, data over the receive
// window, a frame for a stream it does not know) needs the state of both
// directions; the Code constants name them for the layers that keep it.
package yamux

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// HeaderSize is the size of a yamux frame header:
// version(1) type(1) flags(2) stream id(4) length(4), big-endian.
const HeaderSize = 12

// DefaultSnaplen is how many payload bytes a Decoder keeps per frame by default.
const DefaultSnaplen = 256

// InitialWindow is the receive window every yamux stream starts with, in
// each direction: 256 KiB (initialStreamWindow). Only Data payload counts
// against it; WindowUpdate deltas grow it.
const InitialWindow = 256 * 1024

// Version is the only protocol version yamux speaks.
const Version = 0

// Type is a yamux frame type.
type Type uint8

// The yamux frame types.
const (
	Data         Type = 0 // stream data; Length is the payload's
	WindowUpdate Type = 1 // stream window grown by Length; carries SYN, ACK, FIN, RST as well
	Ping         Type = 2 // keepalive or RTT probe on stream 0; Length is an opaque value the ACK echoes
	GoAway       Type = 3 // session end on stream 0; Length is the reason code
)

// NumTypes is the number of known types; Type values below it index arrays.
const NumTypes = 4

var typeNames = [NumTypes]string{"DATA", "WINDOW_UPDATE", "PING", "GO_AWAY"}

// String returns the type's name, or UNKNOWN_TYPE_n for an unknown value.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("UNKNOWN_TYPE_%d", uint8(t))
}

// ParseType returns the type named s, as String spells it, case-insensitive
// and with or without its underscore (window_update, windowupdate); "wnd"
// and "update" also name WindowUpdate.
func ParseType(s string) (Type, bool) {
	s = strings.ReplaceAll(strings.ToUpper(s), "_", "")
	for i, n := range typeNames {
		if s == strings.ReplaceAll(n, "_", "") {
			return Type(i), true
		}
	}
	for _, a := range typeAliases {
		if s == a.name {
			return a.t, true
		}
	}
	return 0, false
}

// typeAliases are the names ParseType takes besides the types' own.
var typeAliases = [...]struct {
	name string
	t    Type
}{{"WND", WindowUpdate}, {"UPDATE", WindowUpdate}}

// Names returns the names ParseType takes for t, upper-case: String's,
// then its other names ("WND" and "UPDATE" for WindowUpdate).
func (t Type) Names() []string {
	if t >= NumTypes {
		return nil
	}
	names := []string{t.String()}
	for _, a := range typeAliases {
		if a.t == t {
			names = append(names, a.name)
		}
	}
	return names
}

// Flags are the flag bits of a yamux header.
type Flags uint16

// The yamux flags. SYN, ACK, FIN and RST ride on Data and WindowUpdate
// frames; on Ping, SYN asks and ACK answers. yamux ignores other bits.
const (
	SYN Flags = 1 << 0 // stream open; ping request
	ACK Flags = 1 << 1 // stream accepted; ping reply
	FIN Flags = 1 << 2 // half-close
	RST Flags = 1 << 3 // hard close
)

// KnownFlags are the bits yamux gives a meaning.
const KnownFlags = SYN | ACK | FIN | RST

var flagNames = [4]string{"SYN", "ACK", "FIN", "RST"}

// String returns the flags joined by |, as "SYN|ACK", unknown bits in hex
// ("FIN|0x10"); no flag at all is "".
func (f Flags) String() string { return string(f.AppendText(nil)) }

// AppendText appends what String returns to b, allocating only to grow b.
func (f Flags) AppendText(b []byte) []byte {
	start := len(b)
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			if len(b) > start {
				b = append(b, '|')
			}
			b = append(b, n...)
		}
	}
	if rest := f &^ KnownFlags; rest != 0 {
		if len(b) > start {
			b = append(b, '|')
		}
		b = strconv.AppendUint(append(b, "0x"...), uint64(rest), 16)
	}
	return b
}

// ParseFlag returns the flag named s (SYN, ACK, FIN or RST), case-insensitive.
func ParseFlag(s string) (Flags, bool) {
	for i, n := range flagNames {
		if strings.EqualFold(s, n) {
			return 1 << i, true
		}
	}
	return 0, false
}

// GoAway codes, the Length of a GoAway frame.
const (
	GoAwayNormal        = 0 // the sender accepts no new streams; existing ones go on
	GoAwayProtocolError = 1 // the sender found a protocol error and ends the session
	GoAwayInternalError = 2 // the sender failed and ends the session
)

var goAwayNames = [3]string{"normal", "protocol error", "internal error"}

// GoAwayName names a GoAway code: "normal", "protocol error", "internal
// error", or "unknown code n", which yamux answers by ending the session.
func GoAwayName(code uint32) string {
	if int(code) < len(goAwayNames) {
		return goAwayNames[code]
	}
	return fmt.Sprintf("unknown code %d", code)
}

// Header is the raw 12-byte yamux frame header as it was on the wire.
type Header [HeaderSize]byte

// Version returns the protocol version byte.
func (h Header) Version() uint8 { return h[0] }

// Type returns the frame type.
func (h Header) Type() Type { return Type(h[1]) }

// Flags returns the flags (big-endian).
func (h Header) Flags() Flags { return Flags(binary.BigEndian.Uint16(h[2:])) }

// StreamID returns the stream id (big-endian); 0 is the session itself.
func (h Header) StreamID() uint32 { return binary.BigEndian.Uint32(h[4:]) }

// Length returns the length field (big-endian): the payload length of a
// Data frame, the window delta of a WindowUpdate (with RST, libp2p's
// go-yamux's error code), the opaque value of a Ping, the code of a GoAway.
func (h Header) Length() uint32 { return binary.BigEndian.Uint32(h[8:]) }

// LengthName names what a stream frame's Length is, as muxtop prints
// it: "len" of Data, "delta" of a WindowUpdate, and "code" of a
// WindowUpdate with RST (libp2p's go-yamux carries ResetWithError's code
// there). Ping's value and GoAway's code are printed apart.
func (h Header) LengthName() string {
	switch {
	case h.Type() == WindowUpdate && h.Flags()&RST != 0:
		return "code"
	case h.Type() == WindowUpdate:
		return "delta"
	}
	return "len"
}

// PayloadLength returns how many payload bytes follow the header: Length
// for a Data frame, 0 for every other type.
func (h Header) PayloadLength() uint32 {
	if h.Type() == Data {
		return h.Length()
	}
	return 0
}

// String formats the header as muxtop prints a frame:
// "DATA SYN|ACK sid 3 len 4", "WINDOW_UPDATE ACK sid 2 delta 0",
// "WINDOW_UPDATE RST sid 5 code 42",
// "PING SYN value 7", "GO_AWAY code 0 (normal)".
func (h Header) String() string { return string(h.AppendText(nil)) }

// AppendText appends what String returns to b, allocating only to grow b.
func (h Header) AppendText(b []byte) []byte {
	t := h.Type()
	if t < NumTypes {
		b = append(b, typeNames[t]...)
	} else {
		b = strconv.AppendUint(append(b, "UNKNOWN_TYPE_"...), uint64(t), 10)
	}
	if f := h.Flags(); f != 0 {
		b = append(b, ' ')
		b = f.AppendText(b)
	}
	switch t {
	case Ping:
		b = strconv.AppendUint(append(b, " value "...), uint64(h.Length()), 10)
	case GoAway:
		b = strconv.AppendUint(append(b, " code "...), uint64(h.Length()), 10)
		b = append(b, " ("...)
		if c := h.Length(); int(c) < len(goAwayNames) {
			b = append(b, goAwayNames[c]...)
		} else {
			b = strconv.AppendUint(append(b, "unknown code "...), uint64(c), 10)
		}
		b = append(b, ')')
	default:
		b = strconv.AppendUint(append(b, " sid "...), uint64(h.StreamID()), 10)
		b = append(append(append(b, ' '), h.LengthName()...), ' ')
		b = strconv.AppendUint(b, uint64(h.Length()), 10)
	}
	if v := h.Version(); v != Version {
		b = strconv.AppendUint(append(b, " version "...), uint64(v), 10)
	}
	return b
}

// MakeHeader builds a version-0 header from its fields.
func MakeHeader(t Type, flags Flags, sid, length uint32) Header {
	var h Header
	h[1] = byte(t)
	binary.BigEndian.PutUint16(h[2:], uint16(flags))
	binary.BigEndian.PutUint32(h[4:], sid)
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

// Frame is one decoded yamux frame.
//
// A Frame returned by Decoder.Next, and the bytes its Payload refers to, are
// only valid until the next call to Next: copy what you keep.
type Frame struct {
	// Offset is the position of the frame's header in the direction's byte stream.
	Offset int64
	// Header holds the raw header bytes.
	Header Header
	// Payload is the first Snaplen bytes of a Data frame's payload (all of
	// it if shorter); empty for the other types, which carry none.
	Payload []byte
	// Truncated reports that Payload holds fewer bytes than the payload.
	Truncated bool
	// Skipped is how many bytes that arrived were skipped right before this
	// frame while the decoder looked for a frame boundary (Resync, Gap);
	// it is above 0 only on the first frame after a resynchronisation.
	Skipped int64
	// Lost is how many bytes of the payload a capture lost (Decoder.Gap):
	// the header and the bytes around them came, so the frame is whole but
	// for them, and Payload holds only the bytes before the first lost one
	// (Truncated then).
	Lost int64
}

// Type returns the frame's type.
func (f *Frame) Type() Type { return f.Header.Type() }

// Flags returns the frame's flags.
func (f *Frame) Flags() Flags { return f.Header.Flags() }

// StreamID returns the frame's stream id.
func (f *Frame) StreamID() uint32 { return f.Header.StreamID() }

// Length returns the frame's length field; see Header.Length.
func (f *Frame) Length() uint32 { return f.Header.Length() }

// Size returns the number of wire bytes the frame took: header plus payload.
func (f *Frame) Size() int64 { return HeaderSize + int64(f.Header.PayloadLength()) }
