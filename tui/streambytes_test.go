package tui

import (
	"encoding/binary"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// rawWire counts the wire bytes of each stream id in raw, the bytes one
// end wrote, with nothing but encoding/binary: every frame whole, header
// (hdr bytes) and payload. length returns a header's payload length.
func rawWire(t *testing.T, raw []byte, hdr int, sid func(h []byte) uint32, length func(h []byte) int) map[uint32]uint64 {
	t.Helper()
	out := map[uint32]uint64{}
	for len(raw) > 0 {
		if len(raw) < hdr {
			t.Fatalf("%d bytes of a header left", len(raw))
		}
		n := hdr + length(raw[:hdr])
		if n > len(raw) {
			t.Fatalf("a frame of %d bytes, %d left", n, len(raw))
		}
		out[sid(raw[:hdr])] += uint64(n)
		raw = raw[n:]
	}
	return out
}

// checkStreamWire checks the one session's streams against the raw
// counts of what each end wrote: each stream's wire bytes, the frames of
// no stream, and the sum of them all and the unparsed bytes, which is the
// session's; then the streams pane's rows, which show each stream's wire
// bytes, as its all row shows the session's.
func checkStreamWire(t *testing.T, reg *live.Registry, raw [2]map[uint32]uint64) {
	t.Helper()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	ss := snap.Sessions[0]
	for d := range 2 {
		sum := ss.Untracked.Wire[d] + ss.Closed.Wire[d] + uint64(ss.Unparsed[d])
		if ss.Untracked.Wire[d] != raw[d][0] {
			t.Errorf("%v: frames of no stream %d wire bytes, the raw count %d", live.Dir(d), ss.Untracked.Wire[d], raw[d][0])
		}
		for _, st := range ss.Streams {
			sum += st.Wire[d]
			if st.Wire[d] != raw[d][st.ID] {
				t.Errorf("%v: stream %d has %d wire bytes, the raw count %d", live.Dir(d), st.ID, st.Wire[d], raw[d][st.ID])
			}
		}
		if sum != ss.WireBytes(live.Dir(d)) {
			t.Errorf("%v: streams + no stream + unparsed = %d, the session's wire bytes %d", live.Dir(d), sum, ss.WireBytes(live.Dir(d)))
		}
	}
	m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 160, 45)
	m = press(m, "enter")
	streams := strings.Join(paneBox(screenOf(m), "Streams"), "\n")
	all := regexp.MustCompile(`(?m)^.. +all +session 1 .* ` + regexp.QuoteMeta(size(ss.WireBytes(0))) + ` +` + regexp.QuoteMeta(size(ss.WireBytes(1))) + ` `)
	if !all.MatchString(streams) {
		t.Errorf("the all row should show the session's wire bytes %s %s:\n%s", size(ss.WireBytes(0)), size(ss.WireBytes(1)), streams)
	}
	for _, st := range ss.Streams {
		c2s, s2c := size(raw[0][st.ID]), size(raw[1][st.ID])
		row := regexp.MustCompile(`(?m)^.. *` + strconv.Itoa(int(st.ID)) + ` c +closed .* ` + regexp.QuoteMeta(c2s) + ` +` + regexp.QuoteMeta(s2c) + ` `)
		if !row.MatchString(streams) {
			t.Errorf("stream %d should show its wire bytes %s %s (payload %d %d):\n%s", st.ID, c2s, s2c, st.Bytes[0], st.Bytes[1], streams)
		}
	}
}

// echoStreams opens a stream with open for each of sizes, writes that
// many bytes on it, reads the echo and closes it: the server echoes and
// closes in turn.
func echoStreams(t *testing.T, sizes []int, open func() (io.ReadWriteCloser, error)) {
	t.Helper()
	for _, size := range sizes {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		go st.Write(make([]byte, size)) // ends as the echo is read: windows would hold it otherwise
		if _, err := io.ReadFull(st, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
}

// waitRaw waits until the session's wire bytes are what each end wrote.
func waitRaw(t *testing.T, reg *live.Registry, cli, srv *smuxtest.RecordingConn) [2][]byte {
	t.Helper()
	var raw [2][]byte
	smuxtest.Eventually(t, "every byte counted", func() bool {
		raw = [2][]byte{cli.Bytes(), srv.Bytes()}
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].Open == 0 && ss[0].WireBytes(0) == uint64(len(raw[0])) && ss[0].WireBytes(1) == uint64(len(raw[1]))
	})
	return raw
}

// TestStreamBytesAreWireBytesSmux: real smux v2 streams carrying 5 B,
// 100 kB (which makes the readers send UPDs) and 600 B each way. Each stream's row shows
// its wire bytes, header and payload of each of its frames, UPDs
// included, and with the frames of no stream and the unparsed bytes they
// make the all row. Before, the rows showed payload bytes beside the
// all row's wire bytes: 100 streams of →5B beside an all row of 4.5kB.
func TestStreamBytesAreWireBytesSmux(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	crec, srec := &smuxtest.RecordingConn{Conn: cc}, &smuxtest.RecordingConn{Conn: sc}
	cfg := smuxtest.Config(2)
	cfg.KeepAliveInterval, cfg.KeepAliveTimeout = time.Hour, 2*time.Hour // no NOP while the test counts
	cli, err := smux.Client(crec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(tap.Wrap(srec, live.Server, reg, "wire"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	smuxtest.EchoSmux(srv) // ends when the session closes
	echoStreams(t, []int{5, 100_000, 600}, func() (io.ReadWriteCloser, error) { return cli.OpenStream() })
	raw := waitRaw(t, reg, crec, srec)
	if ss := reg.Snapshot().Sessions[0]; ss.Counts.Cmd(decoder.UPD) == 0 {
		t.Fatal("no UPD: the test counts no UPD's payload")
	}
	var counts [2]map[uint32]uint64
	for d := range 2 {
		counts[d] = rawWire(t, raw[d], 8,
			func(h []byte) uint32 { return binary.LittleEndian.Uint32(h[4:]) },
			func(h []byte) int { return int(binary.LittleEndian.Uint16(h[2:])) })
	}
	checkStreamWire(t, reg, counts)
}

// TestStreamBytesAreWireBytesYamux is TestStreamBytesAreWireBytesSmux
// over hashicorp/yamux: 300 kB makes WINDOW_UPDATEs, whose
// length field is a delta, not a payload.
func TestStreamBytesAreWireBytesYamux(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	crec, srec := &smuxtest.RecordingConn{Conn: cc}, &smuxtest.RecordingConn{Conn: sc}
	cli, srv := smuxtest.YamuxPair(t, crec, tap.Wrap(srec, live.Server, reg, "wire"), smuxtest.YamuxConfig(), smuxtest.YamuxConfig())
	echoed := smuxtest.EchoYamux(srv)
	echoStreams(t, []int{5, 300_000, 600}, func() (io.ReadWriteCloser, error) { return cli.OpenStream() })
	raw := waitRaw(t, reg, crec, srec)
	var counts [2]map[uint32]uint64
	for d := range 2 {
		counts[d] = rawWire(t, raw[d], 12,
			func(h []byte) uint32 { return binary.BigEndian.Uint32(h[4:]) },
			func(h []byte) int {
				if h[1] != 0 { // only DATA carries a payload
					return 0
				}
				return int(binary.BigEndian.Uint32(h[8:]))
			})
	}
	checkStreamWire(t, reg, counts)
	cli.Close()
	<-echoed
}
