package capture_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// smuxInTLS records, into w, what a capture of the TCP connection shows
// of a real smux v2 session run inside TLS over loopback TCP: the TLS
// records, ciphertext. One stream is echoed and closed. It returns the
// server's port.
func smuxInTLS(t *testing.T, w *pcapout.Writer) uint16 {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	wire := tap.Wrap(cc, live.Client, live.New(live.Config{}), "test", tap.Record(untold{w}))
	tc, ts := smuxtest.TLSOver(t, wire, sc)
	smuxtest.Mux{Smux: smuxtest.Config(2)}.EchoRoundTrip(t, tc, ts)
	tc.Close()
	_, port, _ := net.SplitHostPort(cc.RemoteAddr().String())
	p, _ := strconv.Atoi(port)
	return uint16(p)
}

// TestSmuxInsideTLSWords: a capture of a real smux session inside TLS.
// Its bytes are encrypted: no capture, --port or filter shows the mux,
// and the words say so and point at what can, a tap of the *tls.Conn
// (pcapout.Live, read URL). Before, the skip notice said "if a mux
// should be there, --port 9344 decodes the connection", and with --port
// PROTOCOL's advice said "give the smux server's port": both wrong for a
// mux inside TLS.
func TestSmuxInsideTLSWords(t *testing.T) {
	var port uint16
	path := writeCapture(t, func(w *pcapout.Writer) { port = smuxInTLS(t, w) })
	t.Run("skipped", func(t *testing.T) {
		reg, st := readFileInto(t, path, capture.Filter{})
		if st.Skipped != 1 {
			t.Fatalf("skipped %d, want the TLS connection skipped", st.Skipped)
		}
		ns := notices(reg)
		if len(ns) != 1 {
			t.Fatalf("notices %q, want one", ns)
		}
		for _, want := range []string{"the client sent TLS", "encrypted", "no capture", "*tls.Conn", "pcapout.Live"} {
			if !strings.Contains(ns[0], want) {
				t.Errorf("notice %q does not say %q", ns[0], want)
			}
		}
		if strings.Contains(ns[0], "if a mux should be there") {
			t.Errorf("notice %q: --port shows no mux inside TLS", ns[0])
		}
	})
	t.Run("--port", func(t *testing.T) {
		reg := readEvaluated(readPackets(t, path), capture.Config{Filter: capture.Port(port)}, live.FindingsConfig{})
		var f *live.Finding
		snap := reg.Snapshot()
		for _, g := range append(snap.Findings, snap.Resolved...) {
			if g.Code.String() == "PROTOCOL" {
				f = g
			}
		}
		if f == nil {
			t.Fatalf("no PROTOCOL finding")
		}
		for _, want := range []string{"both ends speak TLS", "encrypted"} {
			if !strings.Contains(f.Text, want) {
				t.Errorf("text %q does not say %q", f.Text, want)
			}
		}
		for _, want := range []string{"no capture, --port or filter shows a mux inside TLS", "the *tls.Conn", "pcapout.Live"} {
			if !strings.Contains(f.Advice, want) {
				t.Errorf("advice %q does not say %q", f.Advice, want)
			}
		}
	})
}
