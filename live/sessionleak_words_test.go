package live_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// SESSION_LEAK's words, on sessions with no stream opened from one host
// 10 s apart (T is 5 s at the defaults), each but the first piled.

// pileOpenAt opens n sessions from 10.0.0.7 to 10.0.0.1:9000 in reg, at
// base plus at(i) each, speaking proto where it is yamux.
func pileOpenAt(reg *live.Registry, base time.Time, n int, proto live.Protocol, at func(i int) time.Duration) []*live.Session {
	var ss []*live.Session
	for i := range n {
		s := reg.Open(live.SessionInfo{Client: "10.0.0.7:" + strconv.Itoa(40000+i), Server: "10.0.0.1:9000"}, base.Add(at(i)))
		if proto == live.Yamux {
			s.SetProtocol(live.Yamux)
		}
		ss = append(ss, s)
	}
	return ss
}

// TestSessionLeakAdviceKeepalive: the advice says how long each mux
// keeps an abandoned session, as smux v1.5.58 and yamux v0.1.2 do: an
// smux NOP is not echoed (recvLoop ignores it), so an end with keepalive
// on closes a session whose peer sends nothing after KeepAliveTimeout,
// and with keepalive at both ends, or at neither, nothing ends it; a
// yamux peer answers pings (handlePing) whatever its config. Before:
// "for as long as keepalive runs at both ends (a client with keepalive
// off is never told its peer left)", false of both.
func TestSessionLeakAdviceKeepalive(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		proto live.Protocol
		want  string
	}{
		{live.Smux, "until Close(): keepalive ends it only where one end runs keepalive and the other sends nothing (smux does not echo a NOP, so that end closes the session after KeepAliveTimeout), and with keepalive at both ends (each one's NOPs keep the other's alive) or at neither nothing ends it while both processes live"},
		{live.Yamux, "until Close() or until its connection ends: a live peer answers keepalive's pings whatever its own config, so keepalive ends only a session whose peer vanished without a word"},
	} {
		reg := live.New(live.Config{})
		pileOpenAt(reg, base, 12, c.proto, func(i int) time.Duration { return time.Duration(i) * 10 * time.Second })
		at := base.Add(2 * time.Minute)
		reg.Evaluate(at, live.FindingsConfig{})
		reg.Evaluate(at.Add(time.Minute), live.FindingsConfig{})
		recs := pileRecords(reg)
		if len(recs) == 0 {
			t.Fatalf("%s: 11 piled through the hold opened nothing", c.proto)
		}
		adv := recs[0].Finding.Advice
		if !strings.Contains(adv, c.want) || strings.Contains(adv, "keepalive runs at both ends") || strings.Contains(adv, "never told its peer left") {
			t.Errorf("%s advice: %q\nwant it to say %q", c.proto, adv, c.want)
		}
	}
}

// TestSessionLeakSmallThresholdHolds: at --session-leak 3 an open
// SESSION_LEAK holds at 2 piled sessions, one below the threshold, and
// resolves at 1, saying so. Before, it held down to 80 % of 3 rounded up,
// 3, the threshold itself (no hysteresis), and its words said "fewer
// than 3 (80% of the threshold, 3)".
func TestSessionLeakSmallThresholdHolds(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cfg := live.FindingsConfig{SessionLeak: 3}
	reg := live.New(live.Config{})
	ss := pileOpenAt(reg, base, 4, live.Smux, func(i int) time.Duration { return time.Duration(i) * 10 * time.Second })
	at := base.Add(time.Minute)
	reg.Evaluate(at, cfg)
	reg.Evaluate(at.Add(time.Minute), cfg)
	if recs := pileRecords(reg); len(recs) != 1 || recs[0].Kind != live.FindingOpened {
		t.Fatalf("3 piled through the hold, threshold 3: want it opened:%s", describeRecords(recs))
	}
	at = at.Add(2 * time.Minute)
	ss[3].End(at, live.LocalClose, nil)
	reg.Evaluate(at.Add(time.Second), cfg)
	if recs := pileRecords(reg); recs[len(recs)-1].Kind == live.FindingResolved {
		t.Errorf("2 piled, one below the threshold 3, resolved it: %q", recs[len(recs)-1].Detail)
	}
	ss[2].End(at.Add(time.Second), live.LocalClose, nil)
	reg.Evaluate(at.Add(2*time.Second), cfg)
	recs := pileRecords(reg)
	last := recs[len(recs)-1]
	want := "the piled-up sessions from 10.0.0.7 to 10.0.0.1:9000 ended, closed or are in use again: 2 ended, 0 closed at one end, 0 used again; 1 separate dial still piled, fewer than 2, the least it holds at (the threshold is 3), 2 sessions idle"
	if last.Kind != live.FindingResolved || last.Detail != want {
		t.Errorf("1 piled: %v %q\nwant resolved, %q", last.Kind, last.Detail, want)
	}
}

// TestSessionLeakWordsDials: SESSION_LEAK counts the separate dials its
// piled sessions came from (those dialed less than T/10 after the latest
// counted one count as one), and its words say both numbers: 15
// sessions piled, dialed 3 at a time (1 ms apart), 10 s apart, are 5
// dials. Before, the text said "5 of them piled up" of 15 sessions piled
// (a review saw "2000 sessions idle … 52 of them piled up").
func TestSessionLeakWordsDials(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cfg := live.FindingsConfig{SessionLeak: 5}
	reg := live.New(live.Config{})
	pileOpenAt(reg, base, 16, live.Smux, func(i int) time.Duration {
		if i == 0 {
			return 0
		}
		return time.Duration((i-1)/3+1)*10*time.Second + time.Duration((i-1)%3)*time.Millisecond
	})
	at := base.Add(time.Minute)
	reg.Evaluate(at, cfg)
	reg.Evaluate(at.Add(time.Minute), cfg)
	recs := pileRecords(reg)
	if len(recs) == 0 {
		t.Fatalf("5 dials of 3 piled sessions, threshold 5, through the hold: nothing opened")
	}
	f := recs[0].Finding
	want := "16 sessions idle from 10.0.0.7 to 10.0.0.1:9000, the oldest for 120 s; 15 of them piled up, from 5 separate dials made while an older one sat idle"
	if !strings.HasPrefix(f.Text, want) || f.Evidence.Piled != 5 || f.Evidence.PiledSessions != 15 {
		t.Errorf("text %q, piled %d, piled sessions %d\nwant it to begin %q, 5 dials of 15 sessions", f.Text, f.Evidence.Piled, f.Evidence.PiledSessions, want)
	}
}

// TestSessionLeakResolvedWords: a resolved SESSION_LEAK's record states
// the counts at its resolution and asserts no leak. 12 sessions, 11 of
// them piled, open it; 4 ended leave 7 piled and resolve it (the record:
// 8 idle, 7 still piled); all ended resolve another with none. Before,
// the record was worded as an open one: "0 sessions idle from 10.0.0.7
// to 10.0.0.1:9000, the oldest for 0 µs; 0 of them piled up: dialed one
// by one while an older one sat idle, … a client dials new sessions and
// leaves the old ones open" (the review saw it from muxtop read of a
// demo --fault session-leak capture).
func TestSessionLeakResolvedWords(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		end  int // how many of the newest sessions end
		want string
	}{
		{"some", 4, "8 sessions idle from 10.0.0.7 to 10.0.0.1:9000, the oldest for 241 s; 7 of them still piled up"},
		{"all", 12, "no session idle from 10.0.0.7 to 10.0.0.1:9000, none piled up"},
	} {
		reg := live.New(live.Config{})
		ss := pileOpenAt(reg, base, 12, live.Smux, func(i int) time.Duration { return time.Duration(i) * 10 * time.Second })
		at := base.Add(2 * time.Minute)
		reg.Evaluate(at, live.FindingsConfig{})
		reg.Evaluate(at.Add(time.Minute), live.FindingsConfig{})
		for _, s := range ss[12-c.end:] {
			s.End(at.Add(2*time.Minute), live.LocalClose, nil)
		}
		reg.Evaluate(at.Add(2*time.Minute+time.Second), live.FindingsConfig{})
		recs := pileRecords(reg)
		last := recs[len(recs)-1]
		if last.Kind != live.FindingResolved || last.Finding.Text != c.want {
			t.Errorf("%s: %v %q\nwant resolved, %q", c.name, last.Kind, last.Finding.Text, c.want)
		}
	}
}
