// Package yamuxdiff is muxtop's differential test against real
// github.com/hashicorp/yamux sessions, in the spirit of internal/smuxdiff:
// seeded workloads (streams opened by either side, writes larger than a
// window, half-closes in either order, streams reset by yamux's
// StreamCloseTimeout, pings, a GoAway) run between a real yamux client and
// server, tapped at the client, at the server and through the attach
// proxy; what muxtop says is checked against an independent walk of the
// bytes each end wrote and against what yamux did.
//
// MUXTOP_YAMUXDIFF_SEED=N runs seed N only (a failure logs its seed).
package yamuxdiff
