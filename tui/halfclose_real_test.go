package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	pcapread "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestHalfClosedRealCapture: real smux v2 and hashicorp/yamux sessions
// recorded with pcapout as --write does, where one side exits (its FIN)
// and the other closes only after it read the EOF (its FIN after), read
// back packet by packet by the capture reader. Up to the second FIN, the
// session is live with the first side's direction ended at its FIN's
// time, and the sessions pane says "client closed" (or "server closed");
// after it, the session ended at the second FIN, both directions ended at
// their FINs' times, and the pane says "ended: EOF" and no more that a
// side closed. yamux closes its session at once on EOF, so there the
// state lasts only from the client's FIN to the server's, a moment on the
// wire; a capture read up to it says so all the same.
func TestHalfClosedRealCapture(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yam   bool
		first live.Side // the side that exits
		state string
	}{
		{"smux v2, the client exits", false, live.Client, "client closed"},
		{"smux v2, the server exits", false, live.Server, "server closed"},
		{"yamux, the client exits", true, live.Client, "client closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			crossed := func() {
				smuxtest.Eventually(t, "the stream closed both ways", func() bool {
					s := reg.Snapshot()
					return s.StreamsTotal == 1 && s.OpenStreams == 0
				})
			}
			ping := smuxtest.Exchange{Request: []byte("ping"), Answer: []byte("pong"), ServerFirst: tc.first == live.Server, Crossed: crossed}
			client, server := ping.Peers(t, smuxtest.MuxOf(tc.yam))
			// The side that stays is tapped: it reads the first FIN, then
			// makes its own.
			stays := live.Server
			if tc.first == live.Server {
				stays = live.Client
			}
			ps, placed, _ := recordReal(t, tc.yam, stays, reg, client, server)
			d := tc.first.Sends()
			firstFIN, secondFIN := -1, -1
			for i, p := range placed {
				switch fin := ps[i].TCP.FIN; {
				case fin && p.Dir == d && firstFIN < 0:
					firstFIN = i
				case fin && p.Dir == d.Reverse() && secondFIN < 0:
					secondFIN = i
				}
			}
			if firstFIN < 0 || secondFIN < firstFIN {
				t.Fatalf("FINs at packets %d and %d of %d; want the %v's first", firstFIN, secondFIN, len(ps), tc.first)
			}

			clock := new(pcapread.Clock)
			clock.Set(ps[0].CI.Timestamp) // as read does: the capture's start
			read := live.New(live.Config{Clock: clock.Now})
			rd := pcapread.NewReader(pcapread.Config{Registry: read, Clock: clock})
			sessionRow := func() (live.SessionSnap, string) {
				t.Helper()
				snap := read.Snapshot()
				if len(snap.Sessions) != 1 {
					t.Fatalf("%d sessions read, want 1", len(snap.Sessions))
				}
				m := resize(newModel(read, Options{Title: "read", NoColor: true}, read.SnapshotWith, time.UTC, 0), 160, 45)
				screen := screenOf(m)
				return *snap.Sessions[0], cursorRow(paneBox(screen, "Sessions")) + "\n" + screen
			}
			for _, p := range ps[:secondFIN] {
				rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
			}
			ss, row := sessionRow()
			if ss.Ended || !ss.DirEnded[d].Equal(ps[firstFIN].CI.Timestamp) || !ss.DirEnded[d.Reverse()].IsZero() {
				t.Errorf("before the %v's FIN: ended %v, directions ended %v; want live, %v ended at its FIN, %v",
					d.Reverse().Sender(), ss.Ended, ss.DirEnded, d, ps[firstFIN].CI.Timestamp)
			}
			if state, _, _ := strings.Cut(row, "\n"); !strings.Contains(state, " "+tc.state+" ") {
				t.Errorf("before the %v's FIN the session's row does not say %q:\n%s", d.Reverse().Sender(), tc.state, row)
			}

			for _, p := range ps[secondFIN:] {
				rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
			}
			rd.Close()
			ss, row = sessionRow()
			end := ps[secondFIN].CI.Timestamp
			if !ss.Ended || ss.Reason != live.EOF || !ss.End.Equal(end) || !ss.DirEnded[d].Equal(ps[firstFIN].CI.Timestamp) || !ss.DirEnded[d.Reverse()].Equal(end) {
				t.Errorf("after both FINs: ended %v (%v at %v), directions ended %v; want ended by EOF at %v, the directions at their FINs, %v and %v",
					ss.Ended, ss.Reason, ss.End, ss.DirEnded, end, ps[firstFIN].CI.Timestamp, end)
			}
			if state, _, _ := strings.Cut(row, "\n"); !strings.Contains(state, "ended: EOF") || strings.Contains(state, "closed") {
				t.Errorf("after both FINs the session's row does not say ended: EOF alone:\n%s", row)
			}
		})
	}
}
