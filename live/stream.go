package live

import "time"

// State is the state of a stream as seen on the wire.
type State uint8

// The stream states.
const (
	Open               State = iota // SYN seen, no FIN
	HalfClosedByClient              // the client sent FIN
	HalfClosedByServer              // the server sent FIN
	Closed                          // both sides sent FIN
	EndedWithSession                // the session ended before both FINs
)

var stateNames = [...]string{"open", "half-closed→", "half-closed←", "closed", "ended"}

// String returns the state's name; half-closed carries the arrow of the
// direction whose sender closed.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Live reports whether the stream is open or half-closed.
func (s State) Live() bool { return s <= HalfClosedByServer }

// Flow is the v2 flow-control state of one direction of a stream, as its
// writer sees it.
type Flow struct {
	// Written is the payload bytes sent in this direction, modulo 2^32 as smux counts them.
	Written uint32
	// PeerConsumed and PeerWindow are the reader's last UPD.
	PeerConsumed, PeerWindow uint32
	// HasUPD reports whether the reader sent a UPD yet; before it the
	// writer assumes InitialPeerWindow.
	HasUPD bool
}

// Window returns the reader's window as the writer uses it.
func (f Flow) Window() uint32 {
	if !f.HasUPD {
		return InitialPeerWindow
	}
	return f.PeerWindow
}

// InFlight returns the bytes written but not yet consumed by the reader,
// with smux's modular arithmetic.
func (f Flow) InFlight() uint32 { return f.Written - f.PeerConsumed }

// Stalled reports whether the writer is blocked: its in-flight bytes have
// reached the window (smux v2 blocks when window − in-flight <= 0, even
// after the peer sent FIN).
func (f Flow) Stalled() bool {
	return int32(f.Window())-int32(f.InFlight()) <= 0
}

// stream is the mutable state of one stream; its Session's lock guards it.
type stream struct {
	id          uint32
	opener      Side
	state       State
	fin         [2]bool
	frames      [2]uint64
	bytes       [2]uint64
	first, last time.Time
	replyAt     time.Time // the first PSH with data from the side that did not open
	flow        [2]Flow
}

// ClosedSummary adds up the closed streams a session no longer tracks one by one.
type ClosedSummary struct {
	Streams uint64
	// Ended counts those of Streams that ended with their session.
	Ended  uint64
	Frames [2]uint64
	Bytes  [2]uint64
}

func (c *ClosedSummary) add(st *stream) {
	c.Streams++
	if st.state == EndedWithSession {
		c.Ended++
	}
	for d := range 2 {
		c.Frames[d] += st.frames[d]
		c.Bytes[d] += st.bytes[d]
	}
}
