package capture_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestVersionRefusedFromTheFirstFrameCaptureReal: the reviewer's vmis2
// capture, written from a real session: a v2 client sends a request and
// half-closes its stream to a v1 server, which refuses the first header
// and sends nothing until it opens a stream of its own (a v1 SYN, as
// its keepalive NOP would be); the client then writes on. Read back, the
// client's direction is refused at offset 0, since its first frame, as
// the server's recvLoop refused it, not at the client's next frame after
// the server's (offset 38); the finding names the client's direction,
// and no LEAK opens for the request the server never read.
func TestVersionRefusedFromTheFirstFrameCaptureReal(t *testing.T) {
	var port uint16
	path := writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		cc, sc := smuxtest.Conns(t)
		port = uint16(sc.LocalAddr().(*net.TCPAddr).Port)
		ccfg, scfg := smuxtest.Config(2), smuxtest.Config(1)
		ccfg.KeepAliveDisabled, scfg.KeepAliveDisabled = true, true
		cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "v2", tap.Record(w)), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := smux.Server(sc, scfg)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		defer cli.Close()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(st, "REQ 1\n")
		st.CloseWrite()
		st2, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the request recorded", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && len(ss[0].Streams) == 2
		})
		if _, err := srv.OpenStream(); err != nil {
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the server's frame refused", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && len(ss[0].Framing) > 0
		})
		io.WriteString(st2, "more")
		smuxtest.Eventually(t, "the client's next frame", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && len(ss[0].Framing) == 2
		})
	})
	// The capture lasts milliseconds: a LEAK of the request would open.
	cfg := live.FindingsConfig{LeakAfter: time.Millisecond, Churn: -1}
	reg := readEvaluated(readPackets(t, path), capture.Config{Filter: capture.Port(port)}, cfg)
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	var first = snap.Sessions[0].Start
	for _, st := range snap.Sessions[0].Streams {
		if st.ID == 3 {
			first = st.First
		}
	}
	var refused *live.FramingInfo
	for i, f := range snap.Sessions[0].Framing {
		if f.Dir == live.ClientToServer {
			refused = &snap.Sessions[0].Framing[i]
		}
	}
	if refused == nil || refused.Code != decoder.VersionMismatch || refused.Offset != 0 || !refused.At.Equal(first) {
		t.Fatalf("the client's direction refused: %+v; want VERSION_MISMATCH at offset 0, at its first frame (%v)", refused, first.Format("15:04:05.000000"))
	}
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var vm int
	for _, r := range recs {
		if r.Kind != live.FindingOpened {
			continue
		}
		switch f := r.Finding; f.Code {
		case live.CodeVersionMismatch:
			vm++
			if f.Dir != live.ClientToServer || !f.Since.Equal(first) {
				t.Errorf("VERSION_MISMATCH of %v since %v; want the client's direction, since its first frame", f.Dir, f.Since)
			}
		default:
			t.Errorf("%s opened: %s", f.Code, f.Text)
		}
	}
	if vm != 1 {
		t.Errorf("%d VERSION_MISMATCH opened, want 1", vm)
	}
}
