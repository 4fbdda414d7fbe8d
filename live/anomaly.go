package live

import "fmt"

// Anomaly classifies a frame that smux accepts without killing the
// session but that a correct peer would not send. smux silently ignores or
// tolerates these, which is why they are worth showing.
type Anomaly uint8

// The stream-level anomalies.
const (
	DuplicateSYN         Anomaly = iota + 1 // SYN for a stream id that is still open or half-closed: smux ignores it
	WrongParity                             // SYN with an id its sender never opens: 0 or 1 (yamux: 0), or of the other end's parity, as the session's first SYN settled which end opens odd ids
	UnknownStream                           // PSH, FIN or UPD for a stream never opened: smux discards it
	ClosedStream                            // PSH for a stream closed both ways whose receiver had nothing unread: smux discards it (else PSHAfterFIN)
	EmptyPSH                                // PSH of length 0: smux skips it
	PSHAfterFIN                             // PSH after its sender's own FIN: smux still delivers it
	ReusedID                                // SYN for the id of a stream closed both ways: smux opens a new stream
	ConsumedMoreThanSent                    // UPD whose consumed count passes what was written: smux's writer fails
	// WindowExceeded is a yamux DATA frame larger than what is left of
	// its receiver's window: yamux fails with "recv window exceeded" and
	// ends the session, closing the connection at once (the GoAway,
	// protocol error, it queues first rarely reaches the wire).
	WindowExceeded
	// RepeatedFIN is a yamux FIN from a side that had sent FIN on the
	// stream already, to a receiver that has not sent its own, so still
	// has the stream: hashicorp's yamux ends the session ("unexpected
	// flag") as for WindowExceeded. Or to a receiver whose own FIN, the
	// second, closed the stream both ways: its Close sends that FIN
	// before it removes the stream, so yamux ignores the frame unless it
	// comes in between, when the session ends too (a race). A FIN to a
	// stream whose receiver's FIN came first is none: the sender's FIN
	// closed it, yamux removed it at once and ignores the frame.
	RepeatedFIN
)

// A repeated FIN from one side is not an anomaly: smux v1.5.58 itself sends
// a second FIN when Close follows CloseWrite, so correct programs do it.

// NumAnomalies is one more than the largest Anomaly.
const NumAnomalies = 11

var anomalyNames = [NumAnomalies]string{"", "DUPLICATE_SYN", "WRONG_PARITY", "UNKNOWN_STREAM", "CLOSED_STREAM", "EMPTY_PSH", "PSH_AFTER_FIN", "REUSED_ID", "CONSUMED_MORE_THAN_SENT",
	"WINDOW_EXCEEDED", "REPEATED_FIN"}

var anomalyReactions = [NumAnomalies]string{
	"",
	"smux ignores a SYN for a stream it still has",
	"smux accepts it, but smux never opens such an id itself (clients: odd from 3, servers: even from 2; the session's first SYN showed which end opens odd ids); it may collide with one the other side opens",
	"smux discards it: no such stream",
	"smux discards it: the stream is closed, and its receiver had nothing unread",
	"smux skips a PSH of length 0",
	"smux still delivers the data while the stream exists",
	"smux opens a new stream and delivers its data; smux itself never reuses an id",
	`smux's writer fails every write on this stream: "peer consumed more than sent"`,
	"a yamux anomaly: smux has no such rule",
	"a yamux anomaly: smux has no such rule",
}

// yamuxReactions say what hashicorp/yamux v0.1.2 does with the anomalies
// a yamux session can show, and libp2p's go-yamux v5.1.0 where it differs.
var yamuxReactions = [NumAnomalies]string{
	DuplicateSYN: `yamux fails with "duplicate stream initiated", ends the session and closes the connection at once: ` +
		"the GoAway (protocol error) it queues first rarely reaches the wire (a receiver that had sent GoAway answers the SYN with an RST instead, and reads the frame into the stream it has: a payload past the stream's window is WINDOW_EXCEEDED, which ends the session)",
	WrongParity: "hashicorp's yamux accepts it, but yamux never opens such an id itself (clients: odd from 1, servers: even from 2; the session's first SYN showed which end opens odd ids); it may collide with one the other side opens; " +
		`libp2p's go-yamux ends the session ("both yamux endpoints are clients")`,
	UnknownStream: "yamux discards a DATA frame's payload and ignores a WINDOW_UPDATE for a stream it does not have " +
		"(it has closed or reset it, or never opened it)",
	PSHAfterFIN: "yamux still delivers the data to the reader (to a stream its receiver's own FIN closed both ways, racily: only if it arrives as the receiver's Close is still removing the stream; after, it discards it)",
	ReusedID:    "yamux opens a new stream and delivers its data (it forgot the old one when both FINs or an RST went by); yamux itself never reuses an id",
	WindowExceeded: `yamux fails with "recv window exceeded", ends the session and closes the connection at once: ` +
		"the GoAway (protocol error) it queues first rarely reaches the wire",
	RepeatedFIN: `a hashicorp receiver, which still has the stream (it has not sent its own FIN), fails with "unexpected flag", ends the session and closes the connection at once ` +
		"(the GoAway, protocol error, it queues first rarely reaches the wire); " +
		"one whose own FIN closed the stream both ways (the sender's FIN came first) ignores it, racily: " +
		`its Close sends that FIN before it removes the stream, and a FIN arriving in between ends the session with "unexpected flag" too; ` +
		"libp2p's go-yamux ignores it",
}

// String returns the anomaly's name, or UNKNOWN_ANOMALY_n.
func (a Anomaly) String() string {
	if a != 0 && int(a) < NumAnomalies {
		return anomalyNames[a]
	}
	return fmt.Sprintf("UNKNOWN_ANOMALY_%d", uint8(a))
}

// YamuxReaction says what real yamux does with such a frame, or "" for an
// anomaly a yamux session does not show.
func (a Anomaly) YamuxReaction() string {
	if int(a) < NumAnomalies {
		return yamuxReactions[a]
	}
	return ""
}

// Reaction says what the library of protocol p does with such a frame.
func (a Anomaly) Reaction(p Protocol) string {
	if p == Yamux {
		return a.YamuxReaction()
	}
	return a.SmuxReaction()
}

// SmuxReaction says what real smux does with such a frame.
func (a Anomaly) SmuxReaction() string {
	if int(a) < NumAnomalies {
		return anomalyReactions[a]
	}
	return ""
}
