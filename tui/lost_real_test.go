package tui

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	pcapread "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// recordReal records, with pcapout as --write does, the real traffic
// that client and server drive over the two ends of a loopback TCP
// connection, side's tapped (as yamux if yam), and returns the capture's
// packets, each placed, and each direction's byte stream. The tap
// records into reg, or, if it is nil, a registry of its own.
func recordReal(t *testing.T, yam bool, side live.Side, reg *live.Registry, client, server func(c net.Conn)) ([]pcaptest.Packet, []pcaptest.Placed, [2][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if reg == nil {
		reg = live.New(live.Config{})
	}
	proto := map[bool]tap.Protocol{false: tap.Smux, true: tap.Yamux}[yam]
	cc, sc := smuxtest.Conns(t)
	if side == live.Client {
		cc = tap.Wrap(cc, side, reg, "test", tap.WithProtocol(proto), tap.Record(w))
	} else {
		sc = tap.Wrap(sc, side, reg, "test", tap.WithProtocol(proto), tap.Record(w))
	}
	done := make(chan struct{})
	go func() { // ends with the server's session
		defer close(done)
		server(sc)
	}()
	client(cc)
	<-done
	smuxtest.Eventually(t, "the session ended", func() bool { return reg.Snapshot().LiveSessions == 0 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ps := pcaptest.Read(t, &buf)
	placed, stream := pcaptest.Place(ps)
	return ps, placed, stream
}

// frameAt is a frame of a whole byte stream: its offset, header size and
// payload length.
type frameAt struct{ off, hs, n int64 }

// framesOf splits a whole, valid byte stream of smux, or of yamux if yam,
// into its frames with nothing but encoding/binary, apart from muxtop's
// decoders: smux's header is ver, cmd, length (2 bytes, little-endian),
// sid; yamux's ver, type, flags (2), sid (4) and length (4, big-endian),
// which only a DATA frame (type 0) has a payload of.
func framesOf(b []byte, yam bool) []frameAt {
	var fs []frameAt
	for off := int64(0); off < int64(len(b)); {
		f := frameAt{off: off, hs: 8}
		if yam {
			f.hs = 12
			if b[off+1] == 0 {
				f.n = int64(binary.BigEndian.Uint32(b[off+8:]))
			}
		} else {
			f.n = int64(binary.LittleEndian.Uint16(b[off+2:]))
		}
		fs = append(fs, f)
		off += f.hs + f.n
	}
	return fs
}

// readWithout reads the packets ps but drop as read does, from a pcapng
// file, into a registry in capture time, and returns it.
func readWithout(t *testing.T, ps []pcaptest.Packet, drop pcaptest.Placed) *live.Registry {
	t.Helper()
	var buf bytes.Buffer
	pcaptest.Write(t, &buf, pcaptest.Without(ps, drop))
	reg, _ := pcaptest.ReadAll(t, &buf, pcapread.Config{})
	return reg
}

// bigPayload is the large write of TestLostMarkedRealCapture: digits,
// so that a copy of its bytes shows where they came from.
var bigPayload = bytes.Repeat([]byte("0123456789"), 15_000)

// bigFrames is smux v2 with frames of up to 65535 bytes.
var bigFrames = func() *smux.Config {
	cfg := smuxtest.Config(2)
	cfg.MaxFrameSize = 65535
	return cfg
}()

// TestLostMarkedRealCapture: real smux v2 and hashicorp/yamux traffic,
// recorded with pcapout as --write does, each with a large frame (smux:
// the first 65535-byte PSH of the client's upload; yamux: the server's
// 150000-byte answer, one Data frame), read back by the capture reader
// with one TCP segment that lies inside that frame's payload removed. In
// the frames list of the session, that frame, and no other, says LOST and
// the removed segment's byte count after its length; the detail pane
// says how many bytes of how many the capture lost, and how many it kept;
// y copies the kept bytes, those the wire carried just before the loss,
// and says so.
func TestLostMarkedRealCapture(t *testing.T) {
	for _, tc := range []struct {
		name            string
		mux             smuxtest.Mux
		dir             live.Dir // the big frame's
		request, answer []byte
	}{
		// The client uploads bigPayload in frames of up to 65535 bytes.
		{"smux v2", smuxtest.Mux{Smux: bigFrames}, live.ClientToServer, bigPayload, []byte("ok")},
		// The server answers with bigPayload, one Data frame as its
		// window allows.
		{"yamux", smuxtest.Mux{}, live.ServerToClient, []byte("GET"), bigPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := smuxtest.Exchange{Request: tc.request, Answer: tc.answer}.Peers(t, tc.mux)
			ps, placed, stream := recordReal(t, tc.mux.Yamux(), live.Client, nil, client, server)
			d := tc.dir
			// The first big frame, and the first segment inside its payload.
			var big frameAt
			for _, f := range framesOf(stream[d], tc.mux.Yamux()) {
				if f.n >= 65535 {
					big = f
					break
				}
			}
			start, end := big.off+big.hs, big.off+big.hs+big.n // the payload's
			drop := pcaptest.Placed{I: -1}
			for _, p := range placed {
				if p.Dir == d && p.N > 0 && p.Off > start && p.Off+p.N < end {
					drop = p
					break
				}
			}
			if big.n == 0 || drop.I < 0 {
				t.Fatalf("no segment inside a large frame's payload to drop: %+v", big)
			}
			lost, before := drop.N, drop.Off-start
			t.Logf("dropped %d bytes at offset %d, %d into the payload of the frame of %d bytes at offset %d", lost, drop.Off, before, big.n, big.off)

			reg := readWithout(t, ps, drop)
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 || snap.Sessions[0].Lost[d] != lost || snap.Sessions[0].Lost[d.Reverse()] != 0 {
				t.Fatalf("read %d sessions; want one that lost %d bytes %v: %+v", len(snap.Sessions), lost, d, snap.Sessions)
			}
			kept := min(before, int64(reg.Config().Snaplen))
			wantRow := regexp.MustCompile(fmt.Sprintf(`len %d +LOST %d `, big.n, lost))
			wantDetail := fmt.Sprintf("payload %d bytes: the capture lost %d of them; %d kept, those before the loss", big.n, lost, kept)
			wantFlash := fmt.Sprintf("copied %d payload bytes as hex (those before the capture lost %d of %d)", kept, lost, big.n)
			wantClip := hex.EncodeToString(stream[d][start : start+kept])

			m := newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0)
			m = press(resize(m, 200, 60), "tab", "tab", "g") // the session's frames, the first
			rows := m.frames.index.len()
			marked := 0
			for i := range rows {
				r := selectedFrame(m)
				screen := screenOf(m)
				row := cursorRow(paneBox(screen, "Frames of session"))
				if r == nil || row == "" {
					t.Fatalf("row %d of %d: no record or no cursor:\n%s", i, rows, screen)
				}
				if r.Kind != live.FrameRecord || r.Dir != d || r.Offset != big.off {
					if strings.Contains(row, "LOST") {
						t.Errorf("row %d, not the frame that lost bytes, says LOST: %q", i, row)
					}
					m = press(m, "j")
					continue
				}
				marked++
				if !wantRow.MatchString(row) {
					t.Errorf("the frame that lost %d bytes: row %q, want it to match %q", lost, row, wantRow)
				}
				if !strings.Contains(strings.Join(paneBox(screen, "Frame "), "\n"), wantDetail) {
					t.Errorf("the detail pane does not say %q:\n%s", wantDetail, screen)
				}
				next, cmd := m.Update(keyMsg("y"))
				if cmd == nil {
					t.Fatal("y gave no command")
				}
				if got := fmt.Sprint(cmd()); got != wantClip {
					t.Errorf("y copied %q; want the %d bytes before the loss, %q", got, kept, wantClip)
				}
				if got := next.(Model).flash; got != wantFlash {
					t.Errorf("y said %q; want %q", got, wantFlash)
				}
				m = press(m, "j")
			}
			if marked != 1 {
				t.Errorf("the frame that lost bytes was %d of the %d rows; want once", marked, rows)
			}
		})
	}
}
