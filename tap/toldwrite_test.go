package tap_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// decodedAs says how reg's one session was decoded: its protocol and
// framing violations.
func decodedAs(t *testing.T, what string, reg *live.Registry) string {
	t.Helper()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%s: %d sessions, want 1", what, len(snap.Sessions))
	}
	s := snap.Sessions[0]
	var framing []string
	for _, f := range s.Framing {
		framing = append(framing, fmt.Sprint(f.Dir))
	}
	return fmt.Sprintf("%v framing %q", s.Info.Proto, framing)
}

// TestAttachWriteToldProtocol: attach told --protocol yamux, whose client
// speaks smux v1 instead, decodes it as yamux (a PROTOCOL violation);
// read of its --write file decodes it so too, the capture carrying what
// attach was told. Before, read decoded a healthy smux session.
func TestAttachWriteToldProtocol(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go smuxtest.ServeEcho(up, smuxtest.Config(1)) // ends as up closes
	var file bytes.Buffer
	w, err := pcapout.New(&file, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	reg := live.New(live.Config{})
	p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.Addr().String(), Registry: reg, Protocol: tap.Yamux, Recorder: w})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := smux.Client(c, smuxtest.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("hello"))
	st.Read(make([]byte, 5))
	smuxtest.Eventually(t, "attach's PROTOCOL violation", func() bool { return len(reg.Snapshot().Sessions[0].Framing) > 0 })
	cli.Close()
	smuxtest.Eventually(t, "attach's session to end", func() bool { return reg.Snapshot().Sessions[0].Ended })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := capture.Open(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	clock := new(capture.Clock)
	clock.Set(f.Start())
	read := live.New(live.Config{Clock: clock.Now})
	if err := capture.NewReader(capture.Config{Registry: read, Clock: clock}).Run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if a, r := decodedAs(t, "attach", reg), decodedAs(t, "read", read); a != r {
		t.Errorf("read decoded %s, attach %s", r, a)
	}
	// The advice names the flag where it was given: attach's own
	// --protocol, and in read of its file, attach's, not read's.
	for _, x := range []struct {
		what string
		reg  *live.Registry
		want string
	}{{"attach", reg, "muxtop's --protocol yamux is"}, {"read", read, "attach was told --protocol yamux"}} {
		x.reg.Evaluate(clock.Now(), live.FindingsConfig{Churn: -1})
		n := 0
		for _, f := range x.reg.Snapshot().Findings {
			if f.Code != live.CodeProtocol {
				continue
			}
			n++
			if !strings.Contains(f.Advice, x.want) {
				t.Errorf("%s: PROTOCOL advice %q; want it to say %q", x.what, f.Advice, x.want)
			}
		}
		if n == 0 {
			t.Errorf("%s: no PROTOCOL finding", x.what)
		}
	}
}
