package tap

import (
	"net"
	"strconv"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestWindowExceededCutReal: a raw client opens stream 1 on a real
// hashicorp/yamux server (a window update with SYN) and sends a DATA
// frame one byte longer than the 256 KiB initial window. yamux rejects
// it as its header arrives ("recv window exceeded") and ends the
// session, closing the connection, so the frame may never be whole on the wire: the
// write of its rest fails. Through attach's proxy, and tapped at the
// client, the session has its WINDOW_EXCEEDED anomaly, c2s, stream 1,
// whether the frame went out whole or was cut (TRUNCATED). Before, a cut
// one was only TRUNCATED: an exploratory review saw it so 3 times in 3
// through attach, the anomaly's metric and alert silent.
func TestWindowExceededCutReal(t *testing.T) {
	syn := yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0)
	data := yamux.MakeHeader(yamux.Data, 0, 1, yamux.InitialWindow+1)
	frame := append(append(syn[:], data[:]...), make([]byte, yamux.InitialWindow+1)...)
	serve := func(t *testing.T, c net.Conn) {
		srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		go func() {
			if st, err := srv.AcceptStream(); err == nil {
				st.Read(make([]byte, 1))
			}
		}()
	}
	send := func(c net.Conn) {
		c.Write(frame) // fails, or not, as the server resets
		c.Read(make([]byte, 64<<10))
		c.Close()
	}
	check := func(t *testing.T, reg *live.Registry) {
		t.Helper()
		ss := endedSession(t, reg)
		var got []string
		for _, a := range ss.Anomalies {
			got = append(got, a.Anomaly.String()+" "+a.Dir.String()+" "+strconv.FormatUint(uint64(a.YamuxHeader.StreamID()), 10))
		}
		if ss.AnomaliesBy[live.WindowExceeded] != 1 || len(got) != 1 || got[0] != "WINDOW_EXCEEDED → 1" {
			t.Errorf("anomalies %q (WINDOW_EXCEEDED %d), want one WINDOW_EXCEEDED → 1; framing %+v; end %v %q, counts %+v, unsent %v", got, ss.AnomaliesBy[live.WindowExceeded], ss.Framing, ss.Reason, ss.Err, ss.Counts, ss.Unsent)
		}
	}
	t.Run("attach", func(t *testing.T) {
		for range 3 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				if c, err := ln.Accept(); err == nil {
					serve(t, c)
				}
			}()
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: ln.Addr().String(), Registry: reg, Protocol: Yamux})
			send(dialProxy(t, p))
			check(t, reg)
		}
	})
	t.Run("tapped at the client", func(t *testing.T) {
		reg := live.New(live.Config{})
		cc, sc := smuxtest.Conns(t)
		serve(t, sc)
		send(Wrap(cc, live.Client, reg, "cli", WithProtocol(Yamux)))
		check(t, reg)
	})
}
