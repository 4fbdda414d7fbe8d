package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// yamuxCapture is a capture with one yamux session: a RAND exchange on
// stream 1, a ping answered, a GoAway from the server.
func yamuxCapture() *capture {
	c := newCapture(live.Config{})
	s := c.reg.Open(live.SessionInfo{Client: "127.0.0.1:51300", Server: "127.0.0.1:8300", Tap: live.Server, Label: "attach", Proto: live.Yamux}, base)
	var off [2]int64
	at := base
	rec := func(dir live.Dir, t yamux.Type, flags yamux.Flags, sid, length uint32, payload string) {
		at = at.Add(time.Millisecond)
		f := &yamux.Frame{Offset: off[dir], Header: yamux.MakeHeader(t, flags, sid, length), Payload: []byte(payload)}
		off[dir] += f.Size()
		s.RecordYamux(dir, at, f)
	}
	rec(live.ClientToServer, yamux.WindowUpdate, yamux.SYN, 1, 0, "")
	rec(live.ClientToServer, yamux.Data, 0, 1, 4, "RAND")
	rec(live.ServerToClient, yamux.Data, yamux.ACK, 1, 8, "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa")
	rec(live.ServerToClient, yamux.WindowUpdate, yamux.FIN, 1, 0, "")
	rec(live.ClientToServer, yamux.WindowUpdate, yamux.SYN, 3, 0, "")
	rec(live.ClientToServer, yamux.Ping, yamux.SYN, 0, 7, "")
	rec(live.ServerToClient, yamux.Ping, yamux.ACK, 0, 7, "")
	rec(live.ServerToClient, yamux.GoAway, 0, 0, yamux.GoAwayNormal, "")
	c.now = at.Add(time.Second)
	return c
}

// TestYamuxScreen shows a yamux session: its protocol in the sessions
// pane, its streams (one still waiting for its ACK) with their windows,
// its ping and GoAway in the streams pane's title, and its frames by type
// and flags.
func TestYamuxScreen(t *testing.T) {
	m := yamuxCapture().model(t, 200, 60)
	screen := screenOf(m)
	// The selected row of the sessions pane, up to its right border.
	row, _, _ := strings.Cut(strings.TrimPrefix(cursorRow(paneBox(screen, "Sessions")), "┃"), "┃")
	if !strings.Contains(row, " yamux ") {
		t.Errorf("the sessions pane's row does not name the protocol: %q\n%s", row, screen)
	}
	for _, w := range []string{"DATA 2", "WND 3", "PING 2", "GOAWAY 1"} {
		if !strings.Contains(screen, w) {
			t.Errorf("the counts bar lacks %q:\n%s", w, screen)
		}
	}
	m = press(m, "enter") // the session's streams
	screen = screenOf(m)
	for _, want := range []string{"· yamux · client ping 1ms · GoAway by server: normal", "syn-sent", "in-flight/window", "0B/256KiB"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the streams screen lacks %q:\n%s", want, screen)
		}
	}
	m = press(m, "enter") // stream 1's frames
	screen = screenOf(m)
	for _, want := range []string{"→ WINDOW_UPDATE SYN delta 0", "→ DATA len 4", "← DATA ACK len 8", "52 41 4e 44", "RAND", "← WINDOW_UPDATE FIN delta 0"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the frames lack %q:\n%s", want, screen)
		}
	}
}

// TestYamuxFilter checks the filter's yamux terms against yamux and smux
// records.
func TestYamuxFilter(t *testing.T) {
	y := func(typ yamux.Type, flags yamux.Flags, sid, length uint32) *live.Record {
		return &live.Record{Kind: live.FrameRecord, Proto: live.Yamux, YamuxHeader: yamux.MakeHeader(typ, flags, sid, length)}
	}
	smuxSYN := &live.Record{Kind: live.FrameRecord}
	tests := []struct {
		filter string
		yes    []*live.Record
		no     []*live.Record
	}{
		{"proto:yamux", []*live.Record{y(yamux.Ping, 0, 0, 1)}, []*live.Record{smuxSYN}},
		{"proto:smux", []*live.Record{smuxSYN}, []*live.Record{y(yamux.Data, 0, 1, 1)}},
		{"type:data", []*live.Record{y(yamux.Data, yamux.SYN, 1, 4)}, []*live.Record{y(yamux.WindowUpdate, 0, 1, 0), smuxSYN}},
		{"cmd:window_update", []*live.Record{y(yamux.WindowUpdate, 0, 1, 0)}, []*live.Record{y(yamux.Data, 0, 1, 0)}},
		{"type:wnd", []*live.Record{y(yamux.WindowUpdate, 0, 1, 0)}, nil},
		{"cmd:syn", []*live.Record{smuxSYN}, []*live.Record{y(yamux.Data, 0, 1, 1)}},
		{"flags:syn", []*live.Record{y(yamux.Data, yamux.SYN, 1, 4), y(yamux.WindowUpdate, yamux.SYN|yamux.ACK, 2, 0)}, []*live.Record{y(yamux.Data, yamux.ACK, 1, 4), smuxSYN}},
		{"flags:syn|ack", []*live.Record{y(yamux.WindowUpdate, yamux.SYN|yamux.ACK, 2, 0)}, []*live.Record{y(yamux.Data, yamux.SYN, 1, 4)}},
		{"sid:3 len>100", []*live.Record{y(yamux.Data, 0, 3, 101)}, []*live.Record{y(yamux.Data, 0, 3, 100), y(yamux.Data, 0, 1, 101)}},
	}
	for _, tc := range tests {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		for _, r := range tc.yes {
			if !f.match(r) {
				t.Errorf("%s does not match %v", tc.filter, r.YamuxHeader)
			}
		}
		for _, r := range tc.no {
			if f.match(r) {
				t.Errorf("%s matches %v (proto %v)", tc.filter, r.YamuxHeader, r.Proto)
			}
		}
	}
	for _, bad := range []string{"proto:http", "type:psh", "flags:urg"} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

// TestYamuxFrameLines draws the yamux frames that name no stream.
func TestYamuxFrameLines(t *testing.T) {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	for _, tc := range []struct {
		h    yamux.Header
		want string
	}{
		{yamux.MakeHeader(yamux.Ping, yamux.SYN, 0, 7), "→ PING SYN value 7"},
		{yamux.MakeHeader(yamux.GoAway, 0, 0, 1), "→ GO_AWAY code 1 (protocol error)"},
		// libp2p's go-yamux sends ResetWithError's code in an RST's length
		// (v5.1.0 stream.go:257): no window delta.
		{yamux.MakeHeader(yamux.WindowUpdate, yamux.RST, 5, 42), "→ WINDOW_UPDATE RST sid 5      code 42"},
	} {
		r := &live.Record{Kind: live.FrameRecord, Proto: live.Yamux, YamuxHeader: tc.h, At: base}
		got := frameLine(th, r, 120, false, false, newFrameCols(120, true), nil)
		if !strings.Contains(got, tc.want) {
			t.Errorf("got %q, want it to contain %q", got, tc.want)
		}
	}
}

// TestYamuxTitlePings: the streams pane's title says each side's latest
// ping round trip, how many pings wait for their answer, and never
// "unanswered (1 unanswered)".
func TestYamuxTitlePings(t *testing.T) {
	for _, tc := range []struct {
		ping live.PingStats
		want string
	}{
		{live.PingStats{Sent: 1}, " · yamux · server ping 1 unanswered"},
		{live.PingStats{Sent: 3, Answered: 2, LastRTT: 1500 * time.Microsecond}, " · yamux · server ping 1.5ms (1 unanswered)"},
		{live.PingStats{Sent: 2, Answered: 2, LastRTT: 42 * time.Microsecond}, " · yamux · server ping 42µs"},
	} {
		var ss live.SessionSnap
		ss.Pings[live.Server] = tc.ping
		if got := yamuxTitle(&ss); got != tc.want {
			t.Errorf("%+v: title %q, want %q", tc.ping, got, tc.want)
		}
	}
}

// TestYamuxCountsBarAt80: a capture of yamux alone counts no smux command;
// its counts bar at 80 columns shows yamux's types and the bytes, not
// "SYN 0 FIN 0 PSH 0", which read as no stream opened, and crowded out
// the bytes each way.
func TestYamuxCountsBarAt80(t *testing.T) {
	m := yamuxCapture().model(t, 80, 24)
	bar := strings.Split(screenOf(m), "\n")[1]
	for _, no := range []string{"SYN 0", "FIN 0", "PSH 0"} {
		if strings.Contains(bar, no) {
			t.Errorf("the counts bar of a yamux capture counts smux's %q: %q", no, bar)
		}
	}
	for _, w := range []string{"DATA 2", "WND 3", "→", "←"} {
		if !strings.Contains(bar, w) {
			t.Errorf("the counts bar lacks %q: %q", w, bar)
		}
	}
}

// TestYamuxDetail: a yamux frame's detail has, after its header, where and
// when and its payload; a violation's, its code and what yamux does. They
// were drawn onto a copy of the lines and lost: only the header showed.
func TestYamuxDetail(t *testing.T) {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	for _, tc := range []struct {
		r    *live.Record
		want []string
	}{
		{&live.Record{Kind: live.FrameRecord, Session: 1, Proto: live.Yamux, YamuxHeader: yamux.MakeHeader(yamux.Data, 0, 3, 4), Payload: []byte("RAND")},
			[]string{"header  00 00 00 00", "session 1 · →", "payload 4 bytes"}},
		{&live.Record{Kind: live.FramingViolation, Session: 1, Proto: live.Yamux, YamuxHeader: yamux.MakeHeader(7, 0, 3, 4), YamuxCode: yamux.UnknownType, Detail: "unknown type 7"},
			[]string{"VIOLATION UNKNOWN_TYPE · session 1", "unknown type 7", "as text"}},
	} {
		info := strings.Join(detailInfo(th, tc.r, 120), "\n")
		for _, w := range tc.want {
			if !strings.Contains(info, w) {
				t.Errorf("detail lacks %q:\n%s", w, info)
			}
		}
	}
}

// TestDetailLost: the detail of a frame whose payload the capture lost
// bytes of says how many, smux and yamux alike.
func TestDetailLost(t *testing.T) {
	th := &theme{styles: newStyles(true), loc: time.UTC}
	for _, r := range []*live.Record{
		{Kind: live.FrameRecord, Session: 1, Header: decoder.MakeHeader(1, decoder.PSH, 3000, 3), Payload: []byte("ab"), Truncated: true, Lost: 1448},
		{Kind: live.FrameRecord, Session: 1, Proto: live.Yamux, YamuxHeader: yamux.MakeHeader(yamux.Data, 0, 3, 3000), Payload: []byte("ab"), Truncated: true, Lost: 1448},
	} {
		info := strings.Join(detailInfo(th, r, 120), "\n")
		if want := "payload 3000 bytes: the capture lost 1448 of them; 2 kept, those before the loss"; !strings.Contains(info, want) {
			t.Errorf("%v detail lacks %q:\n%s", r.Proto, want, info)
		}
	}
}

// TestYamuxWordsNotSmux: what the panes say of a yamux session names
// yamux, not smux: the violations pane with nothing to list said "every
// frame so far is one smux accepts as is", and the sessions pane's state
// after a framing violation "smux stops reading".
func TestYamuxWordsNotSmux(t *testing.T) {
	c := yamuxCapture()
	m := press(c.model(t, 160, 45), "v")
	screen := screenOf(m)
	if !strings.Contains(screen, "every frame so far is one yamux accepts as is") {
		t.Errorf("the violations pane of a yamux session does not say yamux accepts its frames:\n%s", screen)
	}

	c = yamuxCapture()
	s := c.reg.Snapshot().Sessions[0]
	sess := c.reg.Session(s.ID)
	sess.ViolationYamux(live.ClientToServer, c.now, &yamux.Violation{Code: yamux.BadVersion, Offset: 100, Header: yamux.MakeHeader(yamux.Data, 0, 5, 3)})
	screen = screenOf(c.model(t, 300, 45))
	if !strings.Contains(screen, "violation: yamux ends the session") || strings.Contains(screen, "smux stops reading") {
		t.Errorf("the sessions pane's state of a yamux session after a violation does not say what yamux does:\n%s", screen)
	}
}

// TestSessionLibs: the violations pane's words for the libraries its
// sessions speak.
func TestSessionLibs(t *testing.T) {
	y, s := &live.SessionSnap{Proto: live.Yamux}, &live.SessionSnap{Proto: live.Smux}
	for _, tc := range []struct {
		in   []*live.SessionSnap
		want string
	}{
		{nil, "smux"},
		{[]*live.SessionSnap{s}, "smux"},
		{[]*live.SessionSnap{y, y}, "yamux"},
		{[]*live.SessionSnap{y, s}, "smux or yamux, each its own session's,"},
	} {
		if got := sessionLibs(tc.in); got != tc.want {
			t.Errorf("sessionLibs(%d sessions) = %q, want %q", len(tc.in), got, tc.want)
		}
	}
}
