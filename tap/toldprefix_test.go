package tap_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// verdict is what reg says of its connections: its sessions' framing
// violations and findings, and whether a notice says one is another
// protocol, not behind the prefix.
func verdict(reg *live.Registry) (violations, findings int, other bool) {
	snap := reg.Snapshot()
	for _, s := range snap.Sessions {
		violations += len(s.Framing)
	}
	findings = len(snap.Findings)
	for _, n := range snap.Notices {
		other = other || strings.Contains(n.Text, "another protocol")
	}
	return violations, findings, other
}

// TestAttachWriteToldPrefix: attach --protocol yamux --prefix 04 before a
// client that began with 01 (another protocol on the port) forwards it,
// not decoded, with a notice saying so; read of its --write file must say
// what attach said of the connection: skipped, another protocol, no
// violation and no finding. Before, the capture carried the prefix's
// length alone, and read decoded the connection as yamux from its second
// byte: a BAD_VERSION violation each way and a critical PROTOCOL finding.
func TestAttachWriteToldPrefix(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() { // echoes its one connection
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var file bytes.Buffer
	w, err := pcapout.New(&file, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	reg := live.New(live.Config{})
	p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.Addr().String(), Registry: reg,
		Protocol: tap.Yamux, Prefix: []byte{4}, Recorder: w})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte{1}, "hello, this is not yamux at all"...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		t.Fatal(err)
	}
	c.Close()
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
	reg.Evaluate(clock.Now(), live.FindingsConfig{Churn: -1})
	read.Evaluate(clock.Now(), live.FindingsConfig{Churn: -1})
	av, af, ao := verdict(reg)
	if av != 0 || af != 0 || !ao {
		t.Fatalf("attach: %d violations, %d findings, another-protocol notice %v; want 0, 0, true", av, af, ao)
	}
	if rv, rf, ro := verdict(read); rv != av || rf != af || ro != ao {
		t.Errorf("read of attach's --write file: %d violations, %d findings, another-protocol notice %v; attach's %d, %d, %v (notices %+v)",
			rv, rf, ro, av, af, ao, read.Snapshot().Notices)
	}
}

// TestAttachWriteToldPrefixRight: the healthy run of
// TestAttachWriteToldPrefix: a real yamux client behind the right prefix
// (04) is decoded by attach and by read of its --write file alike, with
// no violation and no finding.
func TestAttachWriteToldPrefixRight(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return
		}
		srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
		if err != nil {
			return
		}
		smuxtest.EchoYamux(srv)
	}()
	var file bytes.Buffer
	w, err := pcapout.New(&file, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	reg := live.New(live.Config{})
	p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.Addr().String(), Registry: reg,
		Protocol: tap.Yamux, Prefix: []byte{4}, Recorder: w})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte{4}); err != nil {
		t.Fatal(err)
	}
	cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("hello"))
	if _, err := io.ReadFull(st, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	st.Close()
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
	if a, r := decodedAs(t, "attach", reg), decodedAs(t, "read", read); a != r || a != "yamux framing []" {
		t.Errorf("read decoded %s, attach %s; want yamux framing [] both", r, a)
	}
	if rv, rf, ro := verdict(read); rv != 0 || rf != 0 || ro {
		t.Errorf("read: %d violations, %d findings, another-protocol notice %v; want none", rv, rf, ro)
	}
}
