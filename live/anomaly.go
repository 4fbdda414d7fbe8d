package live

import "fmt"

// Anomaly classifies a frame that smux accepts without killing the
// session but that a correct peer would not send. smux silently ignores or
// tolerates these, which is why they are worth showing.
type Anomaly uint8

// The stream-level anomalies.
const (
	DuplicateSYN         Anomaly = iota + 1 // SYN for a stream id that is still open or half-closed: smux ignores it
	WrongParity                             // SYN with an id its opener never uses: clients open odd ids from 3, servers even ids from 2
	UnknownStream                           // PSH, FIN or UPD for a stream never opened: smux discards it
	ClosedStream                            // PSH for a stream closed both ways: smux discards it
	EmptyPSH                                // PSH of length 0: smux skips it
	PSHAfterFIN                             // PSH after its sender's own FIN: smux still delivers it
	ReusedID                                // SYN for the id of a stream closed both ways: smux opens a new stream
	ConsumedMoreThanSent                    // UPD whose consumed count passes what was written: smux's writer fails
)

// A repeated FIN from one side is not an anomaly: smux v1.5.58 itself sends
// a second FIN when Close follows CloseWrite, so correct programs do it.

// NumAnomalies is one more than the largest Anomaly.
const NumAnomalies = 9

var anomalyNames = [NumAnomalies]string{"", "DUPLICATE_SYN", "WRONG_PARITY", "UNKNOWN_STREAM", "CLOSED_STREAM", "EMPTY_PSH", "PSH_AFTER_FIN", "REUSED_ID", "CONSUMED_MORE_THAN_SENT"}

var anomalyReactions = [NumAnomalies]string{
	"",
	"smux ignores a SYN for a stream it still has",
	"smux accepts it, but smux never opens such an id itself (clients: odd from 3, servers: even from 2); it may collide with one the other side opens",
	"smux discards it: no such stream",
	"smux discards it: the stream is closed",
	"smux skips a PSH of length 0",
	"smux still delivers the data while the stream exists",
	"smux opens a new stream and delivers its data; smux itself never reuses an id",
	`smux's writer fails every write on this stream: "peer consumed more than sent"`,
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
