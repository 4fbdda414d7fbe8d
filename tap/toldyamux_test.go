package tap

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// protocolFindings evaluates reg now and returns its open PROTOCOL
// findings by direction.
func protocolFindings(reg *live.Registry) map[live.Dir]*live.Finding {
	reg.Evaluate(time.Now(), live.FindingsConfig{Churn: -1})
	fs := map[live.Dir]*live.Finding{}
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeProtocol {
			fs[f.Dir] = f
		}
	}
	return fs
}

// TestProxyToldYamuxBothSmux: attach --protocol yamux in front of an smux
// service whose clients speak smux: both ends work, and each direction's
// first header is smux's. The findings say that both ends speak smux and
// that muxtop's --protocol yamux is what is wrong; before, each said "the
// two ends use different multiplexers" and "fix the client's address or
// protocol". While only the client has sent, the advice says both
// readings; the server's answer words it again.
func TestProxyToldYamuxBothSmux(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, "", serveSmux(1, func(st *smux.Stream) {
		buf := make([]byte, 4)
		if _, err := io.ReadFull(st, buf); err != nil {
			return
		}
		<-release // the server answers once the client's header is judged alone
		st.Write(buf)
	}))
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Protocol: Yamux})
	cli, err := smux.Client(dialProxy(t, p), smuxConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := openStream(t, cli, "RAND")
	smuxtest.Eventually(t, "the client's smux header to break yamux's framing", func() bool {
		snap := reg.Snapshot()
		return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) > 0
	})
	fs := protocolFindings(reg)
	first := fs[live.ClientToServer]
	if len(fs) != 1 || first == nil || first.Proto != live.Yamux || first.Evidence.Guess != wirekind.SmuxV1 {
		t.Fatalf("PROTOCOL findings after the client's header: %v", fs)
	}
	if !strings.Contains(first.Advice, "if both ends speak smux, they are fine and muxtop decoded the connection as yamux: drop --protocol yamux") ||
		!strings.Contains(first.Advice, "otherwise fix the client's address or protocol") {
		t.Errorf("advice with the server unheard: %q", first.Advice)
	}

	close(release)
	got := make([]byte, 4)
	if _, err := io.ReadFull(st, got); err != nil || string(got) != "RAND" {
		t.Fatalf("the smux echo through the proxy: %q, %v: the two ends do not work", got, err)
	}
	smuxtest.Eventually(t, "the server's smux header to break yamux's framing", func() bool {
		return len(reg.Snapshot().Sessions[0].Framing) == 2
	})
	// One finding, the client's, says it for both ends: a warning, as
	// the two ends work and only muxtop's decoding is wrong.
	fs = protocolFindings(reg)
	f := fs[live.ClientToServer]
	if len(fs) != 1 || f == nil {
		t.Fatalf("PROTOCOL findings after the server's answer: %v; want the client's alone", fs)
	}
	if f.ID != first.ID {
		t.Errorf("the client's finding is %d, was %d: it should be worded again, not opened again", f.ID, first.ID)
	}
	want := "the client sent an smux v1 header, not yamux (BAD_VERSION at offset 0), and the server sent an smux v1 header: both ends speak smux, and muxtop, told --protocol yamux, decoded their connection as yamux"
	if !strings.HasPrefix(f.Text, want) || strings.Contains(f.Text, "different multiplexers") {
		t.Errorf("text %q, want it to start %q", f.Text, want)
	}
	if !strings.HasPrefix(f.Advice, "nothing is wrong with the two ends: muxtop's --protocol yamux is; drop it") || strings.Contains(f.Advice, "address") {
		t.Errorf("advice %q", f.Advice)
	}
	if f.Severity != live.Warning {
		t.Errorf("severity %v, want warning: the two ends work", f.Severity)
	}
}

// TestProxyToldSmuxBothYamux is TestProxyToldYamuxBothSmux's mirror:
// attach --protocol smux in front of a yamux service whose clients speak
// yamux. Both ends work; the findings say both ends speak yamux and that
// muxtop's decoding is what is wrong. Before, each said "the two ends use
// different multiplexers …, or both speak yamux" and "otherwise fix the
// client's address or protocol". With the client's Consul-style prefix
// byte and no --skip, the advice is --protocol yamux --skip 1.
func TestProxyToldSmuxBothYamux(t *testing.T) {
	for _, prefix := range []int{0, 1} {
		t.Run(map[int]string{0: "plain", 1: "prefixed"}[prefix], func(t *testing.T) {
			raw := make(chan *smuxtest.RecordingConn, 1)
			up := startUpstream(t, "", serveYamux(prefix, raw))
			reg := live.New(live.Config{})
			proto := Smux
			if prefix > 0 {
				proto = Detect // the prefix byte, 0x04, is no yamux version: taken for smux
			}
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Protocol: proto})
			c := dialProxy(t, p)
			if prefix > 0 {
				if _, err := c.Write([]byte{0x04}); err != nil {
					t.Fatal(err)
				}
			}
			yamuxClientWork(t, c, 3, 0, 1) // the two ends work through the proxy
			smuxtest.Eventually(t, "both directions' yamux headers to break smux's framing", func() bool {
				snap := reg.Snapshot()
				return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) == 2
			})
			fs := protocolFindings(reg)
			f := fs[live.ClientToServer]
			if len(fs) != 1 || f == nil {
				t.Fatalf("PROTOCOL findings: %v; want the client's alone, for both ends", fs)
			}
			client := "a yamux header"
			advice := "nothing is wrong with the two ends: muxtop's decoding is; drop --protocol smux"
			if prefix > 0 {
				client = "a byte and then a yamux header"
				advice = "nothing is wrong with the two ends: muxtop's decoding is; give --protocol yamux --skip 1"
			}
			want := "the client sent " + client + ", not smux (BAD_VERSION at offset 0), and the server sent a yamux header: both ends speak yamux, and muxtop decoded their connection as smux"
			if f.Proto == live.Yamux || !strings.HasPrefix(f.Text, want) || strings.Contains(f.Text, "different multiplexers") {
				t.Errorf("text %q, want it to start %q", f.Text, want)
			}
			if !strings.HasPrefix(f.Advice, advice) || strings.Contains(f.Advice, "address") {
				t.Errorf("advice %q, want it to start %q", f.Advice, advice)
			}
			if f.Severity != live.Warning {
				t.Errorf("severity %v, want warning: the two ends work", f.Severity)
			}
		})
	}
}
