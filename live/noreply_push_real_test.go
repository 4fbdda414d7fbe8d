package live_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
)

// What NO_REPLY says of a request that followed the acceptor's push (its
// own message, after its answer and a quiet on the stream), on real smux
// v1, v2 and hashicorp/yamux sessions at a virtual clock (replyHost):
// when it opens is what it was (the timing rule takes an acknowledgement
// slower than the acceptor's answers for a request); its words and JSON
// say that the bytes followed the push, and by how much, and its
// resolution at the acceptor's next payload on the stream does not call
// that an answer.

// anyRequest is NO_REPLY's text of a request that followed no push, as
// the acceptor still sends on the session: f's words before pushes were
// told apart, and after, where none came before it.
func anyRequest(f *live.Finding) string {
	return fmt.Sprintf("stream %d: the client's request, sent %s ago, has no answer; the server answered the %d earlier ones on this stream within %s at most, and still sends on the session: its handler is blocked or lost the request (a hung call), unless the protocol holds an answer back by design (a long poll)",
		f.Stream, live.FormatAge(f.Evidence.Age), f.Evidence.Count, live.FormatAge(f.Evidence.Slowest))
}

// noReplyJSON is h's NO_REPLY records as the JSON output writes them.
func noReplyJSON(h *replyHost) []map[string]any {
	var out bytes.Buffer
	if err := headless.NewPrinter(h.reg, &out, headless.JSON).Flush(); err != nil {
		h.t.Fatal(err)
	}
	var recs []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			h.t.Fatalf("not JSON: %q: %v", line, err)
		}
		if m["code"] == "NO_REPLY" {
			recs = append(recs, m)
		}
	}
	return recs
}

// TestNoReplyAckAfterPushReal: an MQTT-like subscriber on a stream of
// its own: CONNECT and SUBSCRIBE answered at once (1 ms), then, after
// 7.9 s of quiet on the stream, the server's PUBLISH at 10 s, which the
// client acknowledges 12.5 ms later (its PUBACK, once it has handled the
// message); the next PUBLISH comes at 35 s, its PUBACK 12.5 ms after it,
// within the same evaluation interval. The server writes its log all
// the while (it still sends on the session). NO_REPLY opens for the
// PUBACK as before (12.5 ms is more than 2 times the 1 ms answers, and
// nothing came on the stream for 5 s), at 15.5 s, and resolves at the
// evaluation after the next PUBLISH, 35.5 s. Its text now says that the
// bytes came 12 ms after the server's own message, sent after 7.9 s of
// quiet, and that an acknowledgement wants no answer, and its JSON gives
// after_push and push_quiet; its resolution says the server sent on the
// stream again, its next message or a late answer, which the wire does
// not tell apart. Before, the text was any request's, and it resolved
// "the server answered, 24 s after the request (before, within 1 ms at
// most): a slow answer, not a lost one". The words come from the count
// of the server's payloads after the request, which the PUBACK in the
// same interval does not undo.
func TestNoReplyAckAfterPushReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newReplyHost(t, mux)
			h.at(2)
			st := h.open()
			for _, x := range []struct {
				at        float64
				req, resp string
			}{{2, "CONNECT", "CONNACK"}, {2.1, "SUBSCRIBE t", "SUBACK"}} {
				h.at(x.at)
				send(t, st[0], st[1], x.req)
				h.at(x.at + 0.001)
				send(t, st[1], st[0], x.resp)
			}
			h.logLines(3, 9, nil)
			for _, at := range []float64{10, 35} {
				h.at(at)
				send(t, st[1], st[0], "PUBLISH t 1")
				h.at(at + 0.0125)
				send(t, st[0], st[1], "PUBACK 1")
				if at == 10 {
					h.logLines(11, 34, nil)
				}
			}
			h.logLines(36, 37, nil)
			recs := h.noReplies(38)
			sid := streamID(st[0])
			if len(recs) != 2 || recs[0].Kind != live.FindingOpened || recs[1].Kind != live.FindingResolved {
				t.Fatalf("want NO_REPLY opened and resolved:%s", describeRecords(recs))
			}
			f := recs[0].Finding
			if f.Stream != sid || f.Evidence.Count != 2 || !recs[0].At.Equal(sec(15.5)) || f.Since.Before(sec(10.0125)) || !f.Since.Before(sec(10.013)) ||
				f.Evidence.Limit != live.DefaultUnansweredAfter {
				t.Errorf("NO_REPLY of stream %d, count %d, opened at %v, since %v, limit %v; want stream %d, 2, at 15.5 s (as before), since 10.0125 s, limit 5 s",
					f.Stream, f.Evidence.Count, recs[0].At, f.Since, f.Evidence.Limit, sid)
			}
			t.Logf("opened: %s", f.Text)
			t.Logf("advice: %s", f.Advice)
			t.Logf("resolved: %s", recs[1].Detail)
			want := anyRequest(f) + "; these bytes came 12 ms after the server's latest on the stream, which it had begun to send after 7.9 s of quiet, no request of the client's waiting for an answer (a message of its own, or the rest of an answer): if they acknowledge a message of its own (an MQTT PUBACK, a websocket pong, a consumer's ack) they want no answer, and nothing is wrong"
			if f.Text != want {
				t.Errorf("text\n %q\nwant\n %q", f.Text, want)
			}
			if want := fmt.Sprintf("; first, if the client's protocol acknowledges each message of the server's (MQTT QoS 1, websocket pings, a consumer's acks), these bytes may be such an acknowledgement, owed no answer: then nothing is wrong on stream %d", sid); !strings.HasSuffix(f.Advice, want) {
				t.Errorf("advice %q, want it to end %q", f.Advice, want)
			}
			wantDetail := "the server sent on stream %d again, 24 s after the client's bytes (its answers before came within 1 ms at most): its next message of its own, those bytes having acknowledged its message before (owed no answer), or a late answer to them, which the wire does not tell apart"
			if d := recs[1].Detail; !recs[1].At.Equal(sec(35.5)) || d != fmt.Sprintf(wantDetail, sid) {
				t.Errorf("resolved at %v: %q; want at 35.5 s: %q", recs[1].At, d, fmt.Sprintf(wantDetail, sid))
			}
			js := noReplyJSON(h)
			if len(js) != 2 {
				t.Fatalf("%d NO_REPLY JSON records, want 2", len(js))
			}
			t.Logf("JSON finding-opened: after_push %v push_quiet %v slowest %v", js[0]["after_push"], js[0]["push_quiet"], js[0]["slowest"])
			after, ok := js[0]["after_push"].(float64)
			quiet, _ := js[0]["push_quiet"].(float64)
			if js[0]["type"] != "finding-opened" || !ok || after < 0.0124 || after > 0.0126 || quiet < 7.89 || quiet > 7.9 || js[0]["text"] != f.Text {
				t.Errorf("finding-opened %v; want after_push 0.0125, push_quiet 7.899, its text", js[0])
			}
			if js[1]["type"] != "finding-resolved" || js[1]["detail"] != recs[1].Detail {
				t.Errorf("finding-resolved %v", js[1])
			}
		})
	}
}

// TestNoReplyHungAfterNotificationReal: a go-plugin-like host whose
// calls on the dispensed plugin's stream are answered in microseconds;
// at 5 s the plugin sends a notification on it (after 4 s of quiet),
// and 200 ms later the host makes a call (one the notification prompted)
// whose handler hangs, while the plugin writes its log. NO_REPLY opens
// at 10.5 s, as before, for a hung call the wire cannot tell from an
// acknowledgement: its text says both, the bytes having come 200 ms
// after the plugin's own message, and its JSON after_push says 0.2.
// Before, its text was any request's.
func TestNoReplyHungAfterNotificationReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newReplyHost(t, mux)
			h.logLines(2, 4, nil)
			h.at(5)
			send(t, h.plugin[1], h.plugin[0], "event: config changed")
			h.at(5.2)
			send(t, h.plugin[0], h.plugin[1], "Plugin.Get k9")
			h.logLines(6, 20, nil)
			recs := h.noReplies(21)
			if len(recs) != 1 || recs[0].Kind != live.FindingOpened {
				t.Fatalf("want NO_REPLY opened:%s", describeRecords(recs))
			}
			f := recs[0].Finding
			if f.Stream != streamID(h.plugin[0]) || f.Evidence.Count != 3 || !recs[0].At.Equal(sec(10.5)) {
				t.Errorf("NO_REPLY of stream %d, count %d, opened at %v; want stream %d, 3, at 10.5 s (as before)", f.Stream, f.Evidence.Count, recs[0].At, streamID(h.plugin[0]))
			}
			t.Logf("opened: %s", f.Text)
			// The virtual clock steps 1 µs a frame: the notification's
			// frame at 5 s or a µs or two after, the call's at 5.2 s or
			// so, 4.0 s after the answer at 1 s.
			want := anyRequest(f) + "; these bytes came 200 ms after the server's latest on the stream, which it had begun to send after 4.0 s of quiet, no request of the client's waiting for an answer (a message of its own, or the rest of an answer): if they acknowledge a message of its own (an MQTT PUBACK, a websocket pong, a consumer's ack) they want no answer, and nothing is wrong"
			if f.Text != want && f.Text != strings.Replace(want, "200 ms", "199 ms", 1) {
				t.Errorf("text\n %q\nwant\n %q", f.Text, want)
			}
			js := noReplyJSON(h)
			after, ok := js[0]["after_push"].(float64)
			if len(js) != 1 || !ok || after < 0.1999 || after > 0.2 {
				t.Errorf("JSON %v; want after_push 0.2", js)
			}
		})
	}
}

// TestNoReplyNoPushWordsReal: a hung call that followed no push keeps
// any request's text, exactly, and its JSON has no after_push nor
// push_quiet: the classic hung call (TestNoReplyHungCallReal's); one
// after an answer paced out in three frames 100 ms apart (frames of an
// answer, closer than 250 ms, are no push); one after a banner of two
// frames 400 ms apart, the server's first turn on its stream (a banner,
// before it has answered anything, is no push), then two calls answered
// at once.
func TestNoReplyNoPushWordsReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	cases := []struct {
		name string
		run  func(h *replyHost) [2]int
	}{
		{"hung call", func(h *replyHost) [2]int {
			h.at(2)
			send(h.t, h.plugin[0], h.plugin[1], "Plugin.Get k9")
			return [2]int{int(streamID(h.plugin[0])), 3}
		}},
		{"after a paced answer", func(h *replyHost) [2]int {
			h.at(2)
			st := h.open()
			for _, at := range []float64{2, 2.1} {
				h.at(at)
				h.call(st, "Plugin.Put", "true")
			}
			h.at(2.5)
			send(h.t, st[0], st[1], "Plugin.List")
			for _, at := range []float64{2.501, 2.601, 2.701} {
				h.at(at)
				send(h.t, st[1], st[0], "items…")
			}
			h.at(3.2)
			send(h.t, st[0], st[1], "Plugin.Get k9")
			return [2]int{int(streamID(st[0])), 3}
		}},
		{"after a banner", func(h *replyHost) [2]int {
			h.at(2)
			st := h.open()
			for _, at := range []float64{2, 2.4} {
				h.at(at)
				send(h.t, st[1], st[0], "220 banner line")
			}
			for _, at := range []float64{2.5, 2.6} {
				h.at(at)
				h.call(st, "HELO", "250 ok")
			}
			h.at(2.9)
			send(h.t, st[0], st[1], "DATA")
			return [2]int{int(streamID(st[0])), 2}
		}},
	}
	for _, m := range realMuxes() {
		for _, tc := range cases {
			mux := m.mux
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				h := newReplyHost(t, mux)
				want := tc.run(h)
				h.logLines(4, 20, nil)
				recs := h.noReplies(21)
				if len(recs) != 1 || recs[0].Kind != live.FindingOpened {
					t.Fatalf("want NO_REPLY opened:%s", describeRecords(recs))
				}
				f := recs[0].Finding
				if int(f.Stream) != want[0] || int(f.Evidence.Count) != want[1] || f.Text != anyRequest(f) {
					t.Errorf("NO_REPLY of stream %d, count %d, text\n %q\nwant stream %d, %d, text\n %q", f.Stream, f.Evidence.Count, f.Text, want[0], want[1], anyRequest(f))
				}
				js := noReplyJSON(h)
				if _, ok := js[0]["after_push"]; ok || js[0]["push_quiet"] != nil {
					t.Errorf("JSON %v; want no after_push nor push_quiet", js[0])
				}
			})
		}
	}
}

// TestNoReplyAfterPushPartsReal: the after-push words say what the wire
// shows when the server's latest bytes are one part of a message, or the
// tail of an answer, on real smux v1, v2 and yamux sessions (virtual
// clock):
//   - a PUBLISH written in two parts 300 ms apart after 7.9 s of quiet,
//     its PUBACK 10 ms after the second: the quiet said is the 7.9 s
//     before the message began. Before, "after 300 ms of quiet", the gap
//     inside the message.
//   - an answer whose body came 399 ms after its headers, and a call 100
//     ms after the body that hangs: the words say those bytes may be the
//     rest of an answer. Before, "the server's own message (sent with no
//     request of the client's waiting …)", of the client's own answer.
func TestNoReplyAfterPushPartsReal(t *testing.T) {
	t.Parallel()
	for _, m := range realMuxes() {
		t.Run(m.name+"/two-part push", func(t *testing.T) {
			h := newReplyHost(t, m.mux)
			h.at(2)
			st := h.open()
			for _, at := range []float64{2, 2.1} {
				h.at(at)
				h.call(st, "SUB", "SUBACK")
			}
			h.logLines(3, 9, nil)
			h.at(10)
			send(t, st[1], st[0], "PUBLISH head")
			h.at(10.3)
			send(t, st[1], st[0], "PUBLISH tail")
			h.at(10.31)
			send(t, st[0], st[1], "PUBACK 1")
			h.logLines(11, 16, nil)
			f := openedNoReply(t, h.noReplies(17))
			if want := "; these bytes came 10 ms after the server's latest on the stream, which it had begun to send after 7.9 s of quiet, no request of the client's waiting for an answer (a message of its own, or the rest of an answer)"; !strings.Contains(f.Text, want) {
				t.Errorf("text %q; want %q", f.Text, want)
			}
		})
		t.Run(m.name+"/answer tail", func(t *testing.T) {
			h := newReplyHost(t, m.mux)
			h.at(2)
			st := h.open()
			for _, at := range []float64{2, 2.1} {
				h.at(at)
				h.call(st, "GET /a", "200 a")
			}
			h.at(2.5)
			send(t, st[0], st[1], "GET /report")
			h.at(2.501)
			send(t, st[1], st[0], "HTTP/1.1 200 OK headers")
			h.at(2.9)
			send(t, st[1], st[0], "body after the query")
			h.at(3.0)
			send(t, st[0], st[1], "GET /next")
			h.logLines(4, 20, nil)
			f := openedNoReply(t, h.noReplies(21))
			if want := "; these bytes came 100 ms after the server's latest on the stream, which it had begun to send after 399 ms of quiet, no request of the client's waiting for an answer (a message of its own, or the rest of an answer): if they acknowledge a message of its own"; !strings.Contains(f.Text, want) {
				t.Errorf("text %q; want %q", f.Text, want)
			}
		})
	}
}

// openedNoReply returns the one NO_REPLY finding recs open.
func openedNoReply(t *testing.T, recs []live.Record) *live.Finding {
	t.Helper()
	var fs []*live.Finding
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			fs = append(fs, r.Finding)
		}
	}
	if len(fs) != 1 {
		t.Fatalf("%d NO_REPLY opened, want 1", len(fs))
	}
	return fs[0]
}
