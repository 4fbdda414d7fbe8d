package capture_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestSnaplenCut: a capture whose snapshot length cut its packets (tcpdump
// -s 96) loses the frames in the bytes cut off; the Reader counts the cut
// packets and says why once, in a notice naming the snapshot length and
// -s 0, rather than leaving the user with a session that shows no data
// and no reason. A whole capture gives neither.
func TestSnaplenCut(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	big := strings.Repeat("x", 4000)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40007", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, []byte(v1("\x00", 3, "")+v1("\x02", 3, "BULK")))
		for i := range 4 {
			c.Write(live.ServerToClient, t0.Add(time.Duration(i+1)*time.Millisecond), []byte(v1("\x02", 3, big)))
		}
	})
	ps := readPackets(t, path)
	for _, cut := range []bool{false, true} {
		reg := live.New(live.Config{})
		rd := capture.NewReader(capture.Config{Registry: reg})
		n := 0
		for _, p := range ps {
			data, ci := p.Data, p.CI
			if cut && len(data) > 96 {
				data, ci.CaptureLength = data[:96], 96
				n++
			}
			rd.Packet(data, ci, layers.LinkTypeEthernet)
		}
		rd.Close()
		if got := rd.Stats().Cut; got != uint64(n) {
			t.Errorf("cut %v: Stats().Cut = %d, want %d", cut, got, n)
		}
		recs, _ := reg.Frames(live.Query{From: 1}, nil)
		var notices []string
		for _, r := range recs {
			if r.Kind == live.NoticeRecord {
				notices = append(notices, r.Detail)
			}
		}
		switch {
		case !cut && len(notices) != 0:
			t.Errorf("a whole capture gave notices %q", notices)
		case cut && (len(notices) != 1 || !strings.Contains(notices[0], "kept only 96 of a packet's") ||
			!strings.Contains(notices[0], "snapshot length (tcpdump -s)") || !strings.Contains(notices[0], "-s 0")):
			t.Errorf("a cut capture gave notices %q, want one naming the snapshot length and -s 0", notices)
		}
	}
}

// TestSnaplenCutHeaders: a capture whose snapshot length cut the TCP
// headers themselves (tcpdump -s 60 over loopback, whose SYNs' headers
// take 74 bytes and the others' 66) holds no TCP segment read can use: it
// shows no connection at all. The notice says so, once, and the snapshot
// length that keeps the headers and a mux header. Before, the only
// notice spoke of frames lost in the bytes cut off, under "sessions 0"
// and "tcp conns 0": a real connection reported as none, with no word of
// why. Here a real smux session's packets, recorded by pcapout (54 bytes
// of headers each), are cut to 48.
func TestSnaplenCutHeaders(t *testing.T) {
	path := writeCapture(t, func(w *pcapout.Writer) {
		cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn {
			return tap.Wrap(c, live.Client, live.New(live.Config{}), "test", tap.Record(untold{w}))
		}, nil)
		go func() {
			st, err := srv.AcceptStream()
			if err == nil {
				io.Copy(st, st)
				st.Close()
			}
		}()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("hello"))
		io.ReadFull(st, make([]byte, 5))
		st.Close()
		cli.Close()
	})
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg})
	for _, p := range readPackets(t, path) {
		data, ci := p.Data, p.CI
		data, ci.CaptureLength = data[:48], 48
		rd.Packet(data, ci, layers.LinkTypeEthernet)
	}
	rd.Close()
	if st := rd.Stats(); st.Connections != 0 || st.Cut == 0 {
		t.Fatalf("stats %+v: want every packet cut, and no connection read", st)
	}
	ns := notices(reg)
	if len(ns) != 1 {
		t.Fatalf("notices %q, want one", ns)
	}
	for _, want := range []string{"snapshot length (tcpdump -s) cut the TCP headers", "kept 48 of a packet's", "take 54", "tcpdump -s 0", "at least -s 66"} {
		if !strings.Contains(ns[0], want) {
			t.Errorf("notice %q does not say %q", ns[0], want)
		}
	}
}
