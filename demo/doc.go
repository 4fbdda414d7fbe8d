// Package demo is the classic smux example, written to be watched: a
// random-number service speaking smux, an HTTP gateway that reaches it
// through a pool of smux client sessions, and a load generator that keeps
// the gateway busy.
//
//	load ──HTTP GET /rand──▶ Gateway ══ pool of smux sessions ══▶ Serve
//	                          Dial ▲                        ▲ net.Listener
//	                               └── tapping points ──────┘
//
// The wire protocol inside each stream is four bytes of command, "RAND",
// answered by an 8-byte big-endian uint64, after which the service closes
// the stream. Nothing else is sent unless a fault is injected (Faults,
// Config.Fault): the faults' sessions send the commands BULK, SINK, CLOS,
// HOLD, FRZE and GOAW, each of which makes the service misbehave in one
// way (see CommandBulk and the others), so that muxtop has something to
// diagnose. The whole demo runs over yamux as well (Config.Protocol),
// with the faults that mean something there (Fault.For).
//
// muxtop watches the sessions by plugging into the two tapping points: the
// service accepts from any net.Listener (Config.WrapListener), and the
// gateway dials through any function (GatewayConfig.Dial, Config.Dial).
//
// Everything is owned by one context.Context: cancelling it, or calling
// Close, stops every goroutine and closes every listener and session; Wait
// returns once that is done.
package demo
