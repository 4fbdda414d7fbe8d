package live_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestNoReplyWroteOnThenAnsweredReal: the hung call (request at 2 s)
// stays hung; at 10 s the host sends another call on the same stream
// (net/rpc: a second caller), which the plugin answers 1 ms later. The
// resolution does not call that a slow answer to the first: it says the
// client wrote on with no answer between, its answers counting anew.
// Before, it said
// "the server answered, 1 ms after the request (before, within 1 µs at
// most): a slow answer, not a lost one" (a review found it).
func TestNoReplyWroteOnThenAnsweredReal(t *testing.T) {
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			h := newReplyHost(t, mux)
			h.at(2)
			send(t, h.plugin[0], h.plugin[1], "Plugin.Get k9")
			h.logLines(3, 9, nil)
			h.at(10)
			send(t, h.plugin[0], h.plugin[1], "Plugin.Get k10")
			h.at(10.001)
			send(t, h.plugin[1], h.plugin[0], "v10")
			h.logLines(11, 12, nil)
			recs := h.noReplies(13)
			if len(recs) < 2 {
				t.Fatalf("want opened+resolved:%s", describeRecords(recs))
			}
			d := recs[1].Detail
			want := fmt.Sprintf("the client wrote on stream %d again with no answer between: it writes on rather than waits", recs[1].Finding.Stream)
			if strings.Contains(d, "a slow answer") || !strings.HasPrefix(d, want) {
				t.Errorf("resolved %q, want %q…: not a slow answer to the 2 s request, the answer having come 1 ms after a new request at 10 s", d, want)
			}
		})
	}
}

// TestNoReplyAnsweredThenFoldedReal: the hung call is answered at 20 s
// and both ends close the stream at once, and, in the same evaluation
// interval, other streams close so that the session folds it
// (ClosedStreams 1 here: a busy session). The resolution does not say
// the request went unanswered, which muxtop no longer knows. Before:
// "stream 11 closed, its request unanswered after 18 s".
func TestNoReplyAnsweredThenFoldedReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			h := &replyHost{pluginHost: newPluginHostCfg(t, mux, live.Config{ClosedStreams: 1}), evaluated: 1, cfg: live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}}
			h.setUp()
			h.at(2)
			st := h.open()
			for i := range 3 {
				h.at(2 + float64(i)/10)
				h.call(st, "Plugin.Put", "true")
			}
			h.at(2.5)
			send(t, st[0], st[1], "Plugin.Get k9")
			h.logLines(3, 19, nil)
			h.at(20)
			send(t, st[1], st[0], "v9")
			st[0].Close()
			st[1].Close()
			for range 3 {
				o := h.open()
				h.call(o, "x", "y")
				o[0].Close()
				o[1].Close()
			}
			h.logLines(21, 21, nil)
			recs := h.noReplies(22)
			if len(recs) < 2 {
				t.Fatalf("want opened+resolved:%s", describeRecords(recs))
			}
			d := recs[1].Detail
			t.Logf("resolved: %q", d)
			if strings.Contains(d, "unanswered") {
				t.Errorf("resolution says unanswered, though the answer came at 20 s: %q", d)
			}
		})
	}
}

// TestNoReplyAuthedLogShipperReal: the healthy "log shipper" with one
// more exchange before it streams one way: HELLO/OK, then AUTH/OK (a
// handshake with a login), then a burst of log lines every 7 s with
// nothing back, by design. Its first burst waits as a request would, and
// may open one NO_REPLY, which resolves as the next burst comes: then
// its answers count anew, and no more open. Before, it opened at every
// burst (5 opened, 4 resolved in 41 s).
func TestNoReplyAuthedLogShipperReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			h := newReplyHost(t, mux)
			h.at(2)
			st := h.open()
			send(h.t, st[0], st[1], "HELLO")
			send(h.t, st[1], st[0], "OK")
			h.at(2.01)
			send(h.t, st[0], st[1], "AUTH token")
			send(h.t, st[1], st[0], "OK")
			h.logLines(3, 40, func(s float64) {
				if int(s)%7 == 0 {
					send(h.t, st[0], st[1], "log line a\nlog line b\n")
				}
			})
			recs := h.noReplies(41)
			opened := 0
			for _, r := range recs {
				if r.Kind == live.FindingOpened {
					opened++
				}
			}
			if opened > 1 || len(recs) > 0 && (len(recs) != 2 || !strings.Contains(recs[1].Detail, "again")) {
				t.Errorf("NO_REPLY on a healthy one-way stream after a 2-exchange handshake, want at most one, resolved as the opener writes on:%s", describeRecords(recs))
			}
		})
	}
}

// TestNoReplyAnswerHeldByWindowReal: the client stops reading its
// stream while its writer goes on: the server's big answer fills the
// stream's window and its writer is held (WINDOW_STALL of the server's
// direction); the client's next request gets no answer because the
// server cannot send, not because its handler hung. No NO_REPLY: before,
// it blamed the server's handler beside the WINDOW_STALL.
func TestNoReplyAnswerHeldByWindowReal(t *testing.T) {
	for _, m := range realMuxes()[1:] { // smux v2, yamux: windows
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			h := newReplyHost(t, mux)
			h.at(2)
			st := h.open()
			for i := range 2 {
				h.at(2 + float64(i)/10)
				h.call(st, "small", "ok")
			}
			h.at(2.5)
			send(t, st[0], st[1], "GET big")
			go func() { st[1].Write(make([]byte, 4<<20)) }() // blocks at the window: the client reads none of it
			h.at(3)
			send(t, st[0], st[1], "GET next") // the client's writer goes on
			h.logLines(4, 15, nil)
			stalled := false
			for _, r := range findingRecords(h.reg) {
				stalled = stalled || r.Kind == live.FindingOpened && r.Finding.Code == live.CodeWindowStall && r.Finding.Dir == live.ServerToClient
			}
			if !stalled {
				t.Fatalf("no WINDOW_STALL of the server's writer: the window never filled, and no NO_REPLY proves nothing:%s", describeRecords(findingRecords(h.reg)))
			}
			for _, r := range findingRecords(h.reg) {
				if r.Finding.Code == live.CodeNoReply {
					t.Errorf("NO_REPLY blames the server's handler while its answer is held by the client's window:%s", describeRecords([]live.Record{r}))
				}
			}
		})
	}
}

// TestNoReplyTrailingFlowControlReal: HTTP/2 through a tunnel over the
// mux: the client's requests come after think time and the server
// answers each at once; after the last response the client sends a
// WINDOW_UPDATE 1 ms later (its own flow control: no answer by design),
// and the connection idles. That turn followed the answer at once, as no
// request after think time does: no NO_REPLY. Before: "stream 11: the
// client's request, sent 5.4 s ago, has no answer; … (a hung call)".
func TestNoReplyTrailingFlowControlReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			h := newReplyHost(t, mux)
			h.at(2)
			st := h.open()
			for i, at := range []float64{2, 2.4, 3.1} { // page loads, the user reading between
				h.at(at)
				send(t, st[0], st[1], "HEADERS GET /page")
				h.at(at + 0.002)
				send(t, st[1], st[0], "HEADERS 200 DATA ...")
				if i == 2 {
					h.at(at + 0.003)
					send(t, st[0], st[1], "WINDOW_UPDATE")
				}
			}
			h.logLines(4, 20, nil)
			if recs := h.noReplies(21); len(recs) != 0 {
				t.Errorf("NO_REPLY for an HTTP/2 client's WINDOW_UPDATE:%s", describeRecords(recs))
			}
		})
	}
}
