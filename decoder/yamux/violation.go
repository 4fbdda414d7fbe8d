package yamux

import "fmt"

// Code classifies why a Decoder stopped: a header that real yamux refuses
// by ending the session, or a byte stream that ended inside a frame.
type Code uint8

// The violations, in the order yamux's recvLoop checks them, then
// Truncated. The values are stable.
const (
	BadVersion  Code = iota + 1 // version byte is not 0: ErrInvalidVersion
	UnknownType                 // type above GoAway (3): ErrInvalidMsgType
	Truncated                   // the byte stream ended inside a frame: see Decoder.End
)

// NumCodes is one more than the largest Code; Code values index arrays of this size.
const NumCodes = 4

var codeNames = [NumCodes]string{"", "BAD_VERSION", "UNKNOWN_TYPE", "TRUNCATED"}

// String returns the code's name, or UNKNOWN_CODE_n.
func (c Code) String() string {
	if c != 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("UNKNOWN_CODE_%d", uint8(c))
}

// sessionEnds is how a yamux session dies of an error in its recvLoop:
// Session.exitErr closes the connection at once (no GoAway is sent), and
// its streams are closed without a FIN or RST.
const sessionEnds = `the session closes the connection at once (no GoAway); ` +
	`its streams' Reads return what was buffered, then io.EOF, Writes fail with "stream closed", ` +
	`OpenStream with "session shutdown"`

var reactions = [NumCodes]string{
	BadVersion:  `yamux ends the session with "invalid protocol version": ` + sessionEnds,
	UnknownType: `yamux ends the session with "invalid msg type": ` + sessionEnds,
	Truncated: `yamux's recvLoop fails reading the frame ("unexpected EOF", or "EOF" between frames) ` +
		`and ends the session: ` + sessionEnds,
}

// YamuxReaction says what a real yamux v0.1.2 session does when it
// receives a violation of code c, or returns "" for an unknown code.
func (c Code) YamuxReaction() string {
	if int(c) < len(reactions) {
		return reactions[c]
	}
	return ""
}

// Violation is why a Decoder stopped: the header at Offset broke a receive
// rule of yamux, or the byte stream ended inside the frame at Offset.
// After it the decoder frames nothing more in that direction, as yamux
// reads nothing more.
type Violation struct {
	Code Code
	// Offset is the position of the offending frame's header in the direction's byte stream.
	Offset int64
	// Header is the offending header. For a Truncated violation whose
	// header is incomplete, it holds the bytes that arrived, zero-filled.
	Header Header
	// HeaderComplete reports that the whole header arrived (Truncated only).
	HeaderComplete bool
	// Got is how many bytes into the frame, header included, its stream
	// ended (Truncated only). Bytes of its payload a Gap lost are among
	// them (and count in the decoder's Lost, not in Unparsed).
	Got int64
}

// Error describes the violation and what yamux does about it.
func (v *Violation) Error() string {
	s := "yamux decoder: " + v.Detail() + " at offset " + fmt.Sprint(v.Offset)
	if r := v.Code.YamuxReaction(); r != "" {
		s += ": " + r
	}
	return s
}

// Detail describes what is wrong with the frame, without yamux's reaction.
func (v *Violation) Detail() string {
	h := v.Header
	switch v.Code {
	case BadVersion:
		return fmt.Sprintf("bad version %d (yamux speaks 0)", h.Version())
	case UnknownType:
		return fmt.Sprintf("unknown type %d (yamux knows 0-3)", uint8(h.Type()))
	case Truncated:
		if !v.HeaderComplete {
			if v.Got == 1 {
				return "stream ended 1 byte into a frame header"
			}
			return fmt.Sprintf("stream ended %d bytes into a frame header", v.Got)
		}
		return fmt.Sprintf("stream ended %d of %d bytes into a %s frame (sid %d)",
			v.Got, HeaderSize+int64(h.PayloadLength()), h.Type(), h.StreamID())
	}
	return v.Code.String()
}
