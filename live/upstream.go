package live

import "fmt"

// UpstreamError is the cause a proxy (muxtop attach) gives Session.End
// for a client it closed because it could not connect that client to
// its upstream: the session never reached a server. CHURN counts such
// sessions apart and says the upstream is the cause, not the clients.
// Error returns Err's text, so the session's end reads as the proxy's.
type UpstreamError struct {
	// Addr is the upstream's address.
	Addr string
	// Failure is how the connection failed.
	Failure UpstreamFailure
	// Err is the proxy's error.
	Err error
}

func (e *UpstreamError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("upstream %s %s", e.Addr, e.Failure.phrase())
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *UpstreamError) Unwrap() error { return e.Err }

// UpstreamFailure is how a connection to an upstream failed.
type UpstreamFailure uint8

// The ways a connection to an upstream fails.
const (
	// UpstreamOther: neither refused nor timed out, such as a name that
	// does not resolve or no route to the host.
	UpstreamOther UpstreamFailure = iota
	// UpstreamRefused: the upstream refused it: nothing listens there.
	UpstreamRefused
	// UpstreamTimedOut: the upstream did not answer in time.
	UpstreamTimedOut
)

// phrase says what the upstream did, after its address.
func (f UpstreamFailure) phrase() string {
	switch f {
	case UpstreamRefused:
		return "refused the connection"
	case UpstreamTimedOut:
		return "did not answer the connection in time"
	}
	return "could not be reached"
}

// check says the first thing to check of an upstream that failed so.
func (f UpstreamFailure) check() string {
	switch f {
	case UpstreamRefused:
		return "nothing listens there: is its server running, on that port?"
	case UpstreamTimedOut:
		return "it does not answer within attach's --dial-timeout: is its host up, and does a firewall drop the connections?"
	}
	return "does its name resolve, and is there a route to it? The notices say how each connection failed."
}
