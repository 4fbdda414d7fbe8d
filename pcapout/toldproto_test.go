package pcapout_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// decoded says how reg's one session was decoded: its protocol, each
// direction's prefix, frames and framing violations, and the codes of
// the findings open once evaluated at at.
func decoded(t *testing.T, what string, reg *live.Registry, at time.Time) string {
	t.Helper()
	reg.Evaluate(at, live.FindingsConfig{Churn: -1})
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%s: %d sessions, want 1", what, len(snap.Sessions))
	}
	s := snap.Sessions[0]
	var framing, findings []string
	for _, f := range s.Framing {
		framing = append(framing, fmt.Sprintf("%v %v", f.Dir, f.Code))
	}
	for _, f := range snap.Findings {
		findings = append(findings, f.Code.String())
	}
	slices.Sort(findings)
	return fmt.Sprintf("%v prefix %v frames %d/%d framing %q findings %q",
		s.Info.Proto, s.Prefix, s.Counts.FramesDir(live.ClientToServer), s.Counts.FramesDir(live.ServerToClient), framing, findings)
}

// TestToldProtocolReadAsTapped: a tap told what its connection speaks
// (tap.WithProtocol) decodes it as that from its first byte past the
// client's prefix (tap.Skip); read of its capture decodes it so too, the
// capture carrying what the tap was told. A yamux server whose client
// speaks smux v1 instead: the tap names a PROTOCOL violation where
// read, before, decoded a healthy smux session. A Consul-like server
// (a yamux session after the client's one-byte RPC type, tapped with
// tap.Skip(1)): read counts that byte as the tap does.
func TestToldProtocolReadAsTapped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix []byte
		opts   []tap.Option
		client func(net.Conn) error
		server func(net.Conn) error
	}{
		{
			name: "yamux server, smux client",
			opts: []tap.Option{tap.WithProtocol(tap.Yamux)},
			client: func(c net.Conn) error {
				cli, err := smux.Client(c, smuxtest.Config(1))
				if err != nil {
					return err
				}
				st, err := cli.OpenStream()
				if err != nil {
					return err
				}
				_, err = st.Write([]byte("hello"))
				return err
			},
			server: func(c net.Conn) error {
				srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
				if err != nil {
					return err
				}
				go srv.Accept() // fails at the smux frame
				return nil
			},
		},
		{
			name:   "consul",
			prefix: []byte{0x04},
			opts:   []tap.Option{tap.WithProtocol(tap.Yamux), tap.Skip(1)},
			client: func(c net.Conn) error {
				if _, err := c.Write([]byte{0x04}); err != nil {
					return err
				}
				cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
				if err != nil {
					return err
				}
				for range 2 {
					st, err := cli.OpenStream()
					if err != nil {
						return err
					}
					st.Write([]byte("ping"))
					if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
						return err
					}
					st.Close()
				}
				return nil
			},
			server: func(c net.Conn) error {
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					return err
				}
				srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
				if err != nil {
					return err
				}
				go func() {
					for {
						st, err := srv.Accept()
						if err != nil {
							return
						}
						go func() { io.Copy(st, st); st.Close() }()
					}
				}()
				return nil
			},
		},
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
			errs := make(chan error, 1)
			go func() { errs <- tc.server(tapped) }()
			if err := tc.client(cc); err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			countsSettle(t, reg)
			cc.Close()
			tapped.Close()
			smuxtest.Eventually(t, "the tap's session to end", func() bool { return reg.Snapshot().Sessions[0].Ended })
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			read, clock := readCapture(t, file.Bytes())
			tw, rw := decoded(t, "the tap", reg, time.Now()), decoded(t, "read", read, clock.Now())
			if rw != tw {
				t.Errorf("read decoded\n\t%s\nthe tap\n\t%s", rw, tw)
			}
		})
	}
}

// countsSettle waits until the frames and violations reg's first session
// counts stop changing across 50 ms: the tap has decoded all it will.
func countsSettle(t *testing.T, reg *live.Registry) {
	t.Helper()
	var last string
	smuxtest.Eventually(t, "the tap's counts to settle", func() bool {
		s := reg.Snapshot().Sessions[0]
		now := fmt.Sprint(s.Counts, len(s.Framing))
		same := now == last
		last = now
		time.Sleep(50 * time.Millisecond)
		return same
	})
}
