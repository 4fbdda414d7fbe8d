package live

import "fmt"

// Anomaly classifies a frame that smux accepts without killing the
// session but that a correct peer would not send. smux silently ignores or
// tolerates these, which is why they are worth showing.
type Anomaly uint8

// The stream-level anomalies.
const (
	DuplicateSYN  Anomaly = iota + 1 // SYN for a stream id that is already open: smux ignores it
	WrongParity                      // SYN whose id parity does not match its opener (client odd, server even)
	UnknownStream                    // PSH or FIN for a stream never opened: smux discards it
	ClosedStream                     // PSH for a stream closed both ways: smux discards it
	EmptyPSH                         // PSH of length 0: smux skips it
	PSHAfterFIN                      // PSH after its sender's own FIN: smux still delivers it
)

// A repeated FIN from one side is not an anomaly: smux v1.5.58 itself sends
// a second FIN when Close follows CloseWrite, so correct programs do it.

// NumAnomalies is one more than the largest Anomaly.
const NumAnomalies = 7

var anomalyNames = [NumAnomalies]string{"", "DUPLICATE_SYN", "WRONG_PARITY", "UNKNOWN_STREAM", "CLOSED_STREAM", "EMPTY_PSH", "PSH_AFTER_FIN"}

var anomalyReactions = [NumAnomalies]string{
	"",
	"smux ignores a SYN for an existing stream",
	"smux accepts it, but the id may collide with one the other side opens",
	"smux discards it: no such stream",
	"smux discards it: the stream is closed",
	"smux skips a PSH of length 0",
	"smux still delivers the data while the stream exists",
}

// String returns the anomaly's name, or UNKNOWN_ANOMALY_n.
func (a Anomaly) String() string {
	if a != 0 && int(a) < NumAnomalies {
		return anomalyNames[a]
	}
	return fmt.Sprintf("UNKNOWN_ANOMALY_%d", uint8(a))
}

// SmuxReaction says what real smux does with such a frame.
func (a Anomaly) SmuxReaction() string {
	if int(a) < NumAnomalies {
		return anomalyReactions[a]
	}
	return ""
}
