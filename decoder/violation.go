package decoder

import "fmt"

// Code classifies why a Decoder stopped: a header real smux refuses with
// ErrInvalidProtocol (the framing codes and VersionMismatch), or a byte
// stream that ended inside a frame (Truncated).
type Code uint8

// The framing violations, in the order smux's recvLoop checks them, then
// the codes added later. The values are stable.
const (
	BadVersion     Code = iota + 1 // version byte is neither 1 nor 2
	VersionChanged                 // version differs from the connection's first frame
	UnknownCmd                     // cmd is not SYN, FIN, PSH, NOP (or UPD in v2)
	UPDInV1                        // UPD in a protocol version 1 connection
	LengthNotZero                  // SYN, FIN or NOP that carries a payload
	BadUPDLength                   // UPD whose length is not 8
	// VersionMismatch is a frame whose version (1 or 2) is not the one the
	// receiving end speaks: see Decoder.Expect and Decoder.Reject.
	VersionMismatch
	// Truncated is a byte stream that ended inside a frame: see Decoder.End.
	Truncated
)

// NumCodes is one more than the largest Code; Code values index arrays of this size.
const NumCodes = 9

var codeNames = [NumCodes]string{"", "BAD_VERSION", "VERSION_CHANGED", "UNKNOWN_CMD", "UPD_IN_V1", "LENGTH_NOT_ZERO", "BAD_UPD_LENGTH",
	"VERSION_MISMATCH", "TRUNCATED"}

// String returns the code's name, or UNKNOWN_CODE_n.
func (c Code) String() string {
	if c != 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("UNKNOWN_CODE_%d", uint8(c))
}

// SmuxReaction says what a real smux session does when it receives a frame
// with one of the six framing violations, BadVersion to BadUPDLength; of
// the last three, only smux versions that check them (Code.SmuxReaction
// says which). Code.SmuxReaction says it for every code.
const SmuxReaction = `smux stops reading the session; stream reads fail with "invalid protocol"; ` +
	`keepalive closes the session in 1-2 KeepAliveTimeouts (30-60 s by default)`

// unchecked ends the reaction to a violation that older smux versions do
// not check: a capture does not say the version, so muxtop stops framing
// as the newer ones do.
const unchecked = "; muxtop, which cannot tell the version, frames no more of it"

var smuxReactions = [NumCodes]string{
	BadVersion:     SmuxReaction,
	VersionChanged: SmuxReaction,
	UnknownCmd:     SmuxReaction,
	// v1.5.53 checks the version of a UPD (session.go, recvLoop's case
	// cmdUPD: if s.config.Version != 2); v1.5.50 and older (v1.5.16,
	// v1.5.24, v1.5.34) read its 8 bytes and go on.
	UPDInV1: "smux v1.5.53 and later: " + SmuxReaction +
		"; v1.5.50 and older take the UPD and read on" + unchecked,
	// v1.5.56 checks the lengths (session.go, recvLoop: hdr.Length() != 0
	// for NOP, SYN and FIN, != szCmdUPD for UPD); v1.5.55 and older read
	// only the 8-byte header of a NOP, SYN or FIN, and 8 bytes after a
	// UPD's, whatever the length says.
	LengthNotZero: "smux v1.5.56 and later: " + SmuxReaction +
		"; v1.5.55 and older ignore the length and read the next header right after this one" + unchecked,
	BadUPDLength: "smux v1.5.56 and later: " + SmuxReaction +
		"; v1.5.55 and older read 8 bytes of it whatever the length and read on" + unchecked,
	VersionMismatch: `the receiving end refuses every frame of the other version: ` +
		`smux stops reading ("invalid protocol") and keepalive closes the session in 1-2 KeepAliveTimeouts (30-60 s by default)`,
	Truncated: `smux stops reading the session: every stream's read fails with "unexpected EOF" ` +
		`("EOF" when the cut falls between a header and its payload)`,
}

// SmuxReaction says what a real smux session does when it meets a
// violation of code c, or returns "" for an unknown code.
func (c Code) SmuxReaction() string {
	if int(c) < len(smuxReactions) {
		return smuxReactions[c]
	}
	return ""
}

// Violation is why a Decoder stopped: the header at Offset broke a receive
// rule of smux, or the byte stream ended inside the frame at Offset. After
// it the decoder frames nothing more in that direction, as smux reads
// nothing more.
type Violation struct {
	Code Code
	// Offset is the position of the offending frame's header in the direction's byte stream.
	Offset int64
	// Header is the offending header. For a Truncated violation whose
	// header is incomplete, it holds the bytes that arrived, zero-filled.
	Header Header
	// Want is the version the receiving end speaks, as far as the decoder
	// knows: the one given to Expect, or else that of the direction's first
	// frame (VersionChanged), or 0. For Reject it is the caller's.
	Want uint8
	// HeaderComplete reports that the whole header arrived (Truncated only).
	HeaderComplete bool
	// Got is how many bytes into the frame, header included, its stream
	// ended (Truncated only). Bytes of its payload a Gap lost are among
	// them (and count in the decoder's Lost, not in Unparsed).
	Got int64
}

// Error describes the violation and what smux does about it.
func (v *Violation) Error() string {
	s := "decoder: " + v.Detail() + " at offset " + fmt.Sprint(v.Offset)
	if r := v.Code.SmuxReaction(); r != "" {
		s += ": " + r
	}
	return s
}

// Detail describes what is wrong with the frame, without the smux reaction.
func (v *Violation) Detail() string {
	h := v.Header
	switch v.Code {
	case BadVersion:
		return fmt.Sprintf("bad version %d (smux speaks 1 or 2)", h.Version())
	case VersionChanged:
		return fmt.Sprintf("version changed from %d to %d", v.Want, h.Version())
	case UnknownCmd:
		return fmt.Sprintf("unknown cmd %d in v%d", uint8(h.Cmd()), h.Version())
	case UPDInV1:
		return "UPD in protocol version 1"
	case LengthNotZero:
		return fmt.Sprintf("%s with length %d (must be 0)", h.Cmd(), h.Length())
	case BadUPDLength:
		return fmt.Sprintf("UPD with length %d (must be 8)", h.Length())
	case VersionMismatch:
		return fmt.Sprintf("v%d frame to an end that speaks v%d", h.Version(), v.Want)
	case Truncated:
		if !v.HeaderComplete {
			if v.Got == 1 {
				return "stream ended 1 byte into a frame header"
			}
			return fmt.Sprintf("stream ended %d bytes into a frame header", v.Got)
		}
		return fmt.Sprintf("stream ended %d of %d bytes into a %s frame (sid %d)",
			v.Got, HeaderSize+int(h.Length()), h.Cmd(), h.StreamID())
	}
	return v.Code.String()
}
