package pcapout_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// protocolAdvice returns reg's PROTOCOL findings' advice, evaluated at at.
func protocolAdvice(reg *live.Registry, at time.Time) []string {
	reg.Evaluate(at, live.FindingsConfig{Churn: -1})
	var out []string
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeProtocol {
			out = append(out, f.Text+" | "+f.Advice)
		}
	}
	return out
}

// TestToldProtocolAdviceNamesTap: a healthy yamux session, and a healthy
// smux v1 one, whose server's conn the program tapped told the other mux
// (tap.Version(1), which implies smux; tap.WithProtocol(tap.Yamux)): the
// tap decodes it as told, a PROTOCOL finding whose words say both ends
// speak the other mux. Its advice must name what the program told its
// tap, not a muxtop flag the user never gave; and read of the tap's
// capture the same. Before, it said "drop --protocol smux (…) or give
// --protocol yamux".
func TestToldProtocolAdviceNamesTap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []tap.Option
		yamux    bool
		want     string
		wantText string
	}{
		{"yamux told version 1", []tap.Option{tap.Version(1)}, true, "the program's tap was told smux (tap.Version or tap.WithProtocol(tap.Smux))", "and muxtop, its tap told smux, decoded their connection as smux"},
		{"yamux told smux", []tap.Option{tap.WithProtocol(tap.Smux)}, true, "the program's tap was told smux (tap.Version or tap.WithProtocol(tap.Smux))", "and muxtop, its tap told smux, decoded their connection as smux"},
		{"smux told yamux", []tap.Option{tap.WithProtocol(tap.Yamux)}, false, "the program's tap was told yamux (tap.WithProtocol(tap.Yamux))", "muxtop, its tap told yamux, decoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			var file bytes.Buffer
			w, err := pcapout.New(&file, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			cc, sc := smuxtest.Conns(t)
			tapped := tap.Wrap(sc, live.Server, reg, "test", append(tc.opts, tap.Record(w))...)
			var cli interface{ Close() error }
			var open func() (io.ReadWriteCloser, error)
			if tc.yamux {
				srv, err := hyamux.Server(tapped, smuxtest.YamuxConfig())
				if err != nil {
					t.Fatal(err)
				}
				smuxtest.EchoYamux(srv)
				c, err := hyamux.Client(cc, smuxtest.YamuxConfig())
				if err != nil {
					t.Fatal(err)
				}
				cli, open = c, func() (io.ReadWriteCloser, error) { return c.OpenStream() }
			} else {
				srv, err := smux.Server(tapped, smuxtest.Config(1))
				if err != nil {
					t.Fatal(err)
				}
				smuxtest.EchoSmux(srv)
				c, err := smux.Client(cc, smuxtest.Config(1))
				if err != nil {
					t.Fatal(err)
				}
				cli, open = c, func() (io.ReadWriteCloser, error) { return c.OpenStream() }
			}
			for range 2 {
				st, err := open()
				if err != nil {
					t.Fatal(err)
				}
				st.Write([]byte("ping"))
				if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
					t.Fatal(err) // healthy: the ends speak one mux
				}
				st.Close()
			}
			countsSettle(t, reg)
			cli.Close()
			tapped.Close()
			smuxtest.Eventually(t, "the tap's session to end", func() bool { return reg.Snapshot().Sessions[0].Ended })
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			read, clock := readCapture(t, file.Bytes())
			for _, x := range []struct {
				what string
				reg  *live.Registry
				at   time.Time
			}{{"the tap", reg, time.Now()}, {"read of its capture", read, clock.Now()}} {
				advice := protocolAdvice(x.reg, x.at)
				if len(advice) == 0 {
					t.Fatalf("%s: no PROTOCOL finding", x.what)
				}
				for _, a := range advice {
					if !strings.Contains(a, tc.want) || !strings.Contains(a, tc.wantText) || strings.Contains(a, "--protocol") {
						t.Errorf("%s: PROTOCOL %q; want it to say %q and %q, and no --protocol", x.what, a, tc.wantText, tc.want)
					}
				}
			}
		})
	}
}
