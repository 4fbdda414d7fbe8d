package pcapout_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// rawView is a viewer of a Live that only keeps the stream's bytes.
type rawView struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// viewRaw GETs the Live's capture from srv and keeps its bytes until the
// test ends.
func viewRaw(t *testing.T, srv *httptest.Server) *rawView {
	t.Helper()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	v := &rawView{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(b)
			v.mu.Lock()
			v.buf.Write(b[:n])
			v.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	return v
}

// zeroFrom reports whether the stream so far holds a packet from port
// advertising a zero window.
func (v *rawView) zeroFrom(port uint16) bool {
	v.mu.Lock()
	b := bytes.Clone(v.buf.Bytes())
	v.mu.Unlock()
	src, err := capture.Open(bytes.NewReader(b))
	if err != nil {
		return false
	}
	for {
		data, _, err := src.ReadPacketData()
		if err != nil {
			return false // its end, or a block not all come yet
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && uint16(tcp.SrcPort) == port && tcp.ACK && tcp.Window == 0 {
			return true
		}
	}
}

// stalled is a server conn whose Reads stop once stop is closed.
type stalled struct {
	net.Conn
	stop, end chan struct{}
}

func (c *stalled) Read(b []byte) (int, error) {
	select {
	case <-c.stop:
		<-c.end
		return 0, io.EOF
	default:
	}
	return c.Conn.Read(b)
}

// TestLiveHeldWrite: a program taps its real smux client, served live
// (pcapout.Live), whose server stops reading: the tapped end's write
// waits, and every viewer's capture shows the server's window closed,
// the viewer that came before the block and the one that joined while
// the write waited alike (their Writers sample the tap's one count of
// writes). Before, every packet of a live capture said 65535.
func TestLiveHeldWrite(t *testing.T) {
	l := pcapout.NewLive()
	srv := httptest.NewServer(l)
	defer srv.Close()
	defer l.Close()
	first := viewRaw(t, srv)
	smuxtest.Eventually(t, "the first viewer", func() bool { return l.Viewers() == 1 })
	sc := &stalled{stop: make(chan struct{}), end: make(chan struct{})}
	defer close(sc.end)
	reg := live.New(live.Config{})
	p := livecaptest.RealPair(t, "smux-v1", reg, livecaptest.PairConfig{
		WrapServer: func(c net.Conn) net.Conn { sc.Conn = c; return sc },
		Tap:        []tap.Option{tap.Record(l)},
	})
	st, err := p.Cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	close(sc.stop) // the server's next Read waits
	go func() {    // until the session closes
		buf := make([]byte, 64<<10)
		for {
			if _, err := st.Write(buf); err != nil {
				return
			}
		}
	}()
	defer p.Close()
	port := p.Port()
	smuxtest.Eventually(t, "the server's zero window in the first viewer's capture", func() bool { return first.zeroFrom(port) })
	second := viewRaw(t, srv)
	smuxtest.Eventually(t, "the server's zero window in the capture of the viewer that joined while the write waited", func() bool { return second.zeroFrom(port) })
}
