// Package decoder turns the bytes of one direction of an smux connection into
// frames, mirroring the receive rules of github.com/xtaci/smux v1.5.58.
//
// The decoder is pure: it does no I/O, reads no clock and starts no
// goroutines. It accepts bytes in any chunking and yields the same frames.
package decoder

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HeaderSize is the size of an smux frame header: ver(1) cmd(1) length(2) sid(4).
const HeaderSize = 8

// UPDSize is the payload size of a v2 window update: consumed(4) window(4).
const UPDSize = 8

// DefaultSnaplen is how many payload bytes a Decoder keeps per frame by default.
const DefaultSnaplen = 256

// Cmd is an smux frame command.
type Cmd uint8

// The smux commands. UPD exists only in protocol version 2.
const (
	SYN Cmd = 0 // stream open
	FIN Cmd = 1 // stream close (EOF mark)
	PSH Cmd = 2 // data push
	NOP Cmd = 3 // no operation; keepalive
	UPD Cmd = 4 // window update (v2)
)

// NumCmds is the number of known commands; Cmd values below it index arrays.
const NumCmds = 5

var cmdNames = [NumCmds]string{"SYN", "FIN", "PSH", "NOP", "UPD"}

// String returns the command's name, or UNKNOWN_CMD_n for an unknown value.
func (c Cmd) String() string {
	if int(c) < len(cmdNames) {
		return cmdNames[c]
	}
	return fmt.Sprintf("UNKNOWN_CMD_%d", uint8(c))
}

// ParseCmd returns the command named s (case-insensitive), as String spells it.
func ParseCmd(s string) (Cmd, bool) {
	for i, n := range cmdNames {
		if strings.EqualFold(s, n) {
			return Cmd(i), true
		}
	}
	return 0, false
}

// Header is the raw 8-byte smux frame header as it was on the wire.
type Header [HeaderSize]byte

// Version returns the protocol version byte.
func (h Header) Version() uint8 { return h[0] }

// Cmd returns the command byte.
func (h Header) Cmd() Cmd { return Cmd(h[1]) }

// Length returns the payload length (little-endian).
func (h Header) Length() uint16 { return binary.LittleEndian.Uint16(h[2:]) }

// StreamID returns the stream id (little-endian).
func (h Header) StreamID() uint32 { return binary.LittleEndian.Uint32(h[4:]) }

// String formats the header's fields.
func (h Header) String() string {
	return fmt.Sprintf("v%d %s sid %d len %d", h.Version(), h.Cmd(), h.StreamID(), h.Length())
}

// MakeHeader builds a header from its fields.
func MakeHeader(ver uint8, cmd Cmd, length uint16, sid uint32) Header {
	var h Header
	h[0] = ver
	h[1] = byte(cmd)
	binary.LittleEndian.PutUint16(h[2:], length)
	binary.LittleEndian.PutUint32(h[4:], sid)
	return h
}

// Frame is one decoded smux frame.
//
// A Frame returned by Decoder.Next, and the bytes its Payload refers to, are
// only valid until the next call to Next: copy what you keep.
type Frame struct {
	// Offset is the position of the frame's header in the direction's byte stream.
	Offset int64
	// Header holds the raw header bytes.
	Header Header
	// Payload is the first Snaplen bytes of the payload (all of it if shorter).
	Payload []byte
	// Truncated reports that Payload holds fewer bytes than Length.
	Truncated bool
	// Consumed and Window are the fields of a UPD frame; zero for other commands.
	Consumed, Window uint32
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

// Version returns the frame's protocol version.
func (f *Frame) Version() uint8 { return f.Header.Version() }

// Cmd returns the frame's command.
func (f *Frame) Cmd() Cmd { return f.Header.Cmd() }

// Length returns the frame's payload length.
func (f *Frame) Length() uint16 { return f.Header.Length() }

// StreamID returns the frame's stream id.
func (f *Frame) StreamID() uint32 { return f.Header.StreamID() }

// Size returns the number of wire bytes the frame took: header plus payload.
func (f *Frame) Size() int64 { return HeaderSize + int64(f.Header.Length()) }
