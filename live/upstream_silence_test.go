package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestKeepaliveCountsFromUpstreamConnect: a session a proxy accepted at
// 0 s whose dial of the server went through only at 5 s (SYN retries at
// the server's full backlog, under a burst of clients): the server, which
// could send nothing before, has sent nothing by 5.5 s, while the
// client's NOPs come every second. Its silence counts from 5 s, and no
// KEEPALIVE opens at 5.5 s; one opens at 6.5 s, the server still silent
// 1.5 s after it was connected. Before, the server was "silent" from the
// accept: KEEPALIVE at 5.5 s, resolved by its first NOP a moment later
// (the scale review: hundreds of such warnings through attach when
// thousands of clients dialed at once). A session not told of its
// upstream keeps counting from its start.
func TestKeepaliveCountsFromUpstreamConnect(t *testing.T) {
	for _, told := range []bool{true, false} {
		name := "told the upstream connected at 5 s"
		if !told {
			name = "not told"
		}
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Server, Proxied: true}, t0)
			sc := &script{s: s, ver: 1}
			for i := range 7 {
				sc.feedAt(sec(float64(i)), nop(c2s))
			}
			if told {
				s.UpstreamConnected(sec(5))
			}
			cfg := live.FindingsConfig{SilentAfter: time.Second, Churn: -1}
			reg.Evaluate(sec(5.5), cfg)
			if told {
				expect(t, reg)
			} else {
				expect(t, reg, "+KEEPALIVE")
			}
			reg.Evaluate(sec(6.5), cfg)
			expect(t, reg, "+KEEPALIVE")
		})
	}
}

// TestYamuxFirstPingFromUpstreamConnect: through a proxy whose dial went
// through at 3 s, a yamux client's first ping read at 3.1 s, after the
// proxy began reading, was sent 3.1 s into the client's session, which
// began at its connect: the server, silent, its ping unanswered, is
// KEEPALIVE's with the client's time to its first ping 3.1 s, and its
// silence counts from the dial, as its words say. (A first cut counted
// the client's time from the dial too: 100 ms.)
func TestYamuxFirstPingFromUpstreamConnect(t *testing.T) {
	reg := live.New(live.Config{})
	y := &yamuxFrames{s: reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Server, Proxied: true, Proto: live.Yamux}, t0)}
	y.s.UpstreamConnected(sec(3))
	y.recAt(sec(3.1), c2s, yamux.Ping, yamux.SYN, 0, 1)
	reg.Evaluate(sec(3.1).Add(live.PingAnswerLimit+100*time.Millisecond), live.FindingsConfig{Churn: -1})
	var ka *live.Finding
	recs, _ := reg.Frames(live.Query{From: 0}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == s2c {
			ka = r.Finding
		}
	}
	if ka == nil {
		t.Fatalf("no KEEPALIVE of the server, its ping unanswered %s: %s", live.PingAnswerLimit+100*time.Millisecond, describeRecords(findingRecords(reg)))
	}
	if ka.Evidence.Every != 3100*time.Millisecond {
		t.Errorf("KEEPALIVE on the client's first ping %s in, want 3.1s: %s", ka.Evidence.Every, ka.Text)
	}
	// Its silence is counted from the dial (5.2 s by 8.2 s), and the
	// words say from what: before, "since the session began, 5.2 s ago"
	// of a session accepted 8.2 s before.
	if want := "has sent nothing since attach connected the session to the server, 5.2 s ago"; !strings.Contains(ka.Text, want) {
		t.Errorf("KEEPALIVE's text does not say %q: %s", want, ka.Text)
	}
}

// TestUnheardClientSilentFromConnect: a client sends from its connect,
// though the proxy reads nothing of it before its dial of the server goes
// through (what it sent meanwhile waits in the socket, read at once then):
// a client still unheard at 5.5 s, connected at 0 s, dialed through at 5 s,
// has sent nothing for 5.5 s, and KEEPALIVE says so beside the server's
// NOPs. (A first cut of Session.audibleFrom counted the client's silence
// from the dial too: nothing at 5.5 s, a frozen client's KEEPALIVE late by
// the dial, and its age short by it.)
func TestUnheardClientSilentFromConnect(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Server, Proxied: true}, t0)
	s.UpstreamConnected(sec(5))
	sc := &script{s: s, ver: 1}
	sc.feedAt(sec(5.2), nop(s2c))
	reg.Evaluate(sec(5.5), live.FindingsConfig{SilentAfter: time.Second, Churn: -1})
	expect(t, reg, "+KEEPALIVE")
	recs, _ := reg.Frames(live.Query{From: 0}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Dir != c2s {
			t.Errorf("KEEPALIVE of the %s, want the client's: %s", r.Finding.Dir.Sender(), r.Finding.Text)
		}
	}
}
