//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/internal/tuntest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestTcpdumpTunnelThenRead: tcpdump on a tun device writes LINKTYPE_RAW
// (bare IP packets), as on a WireGuard or Tailscale interface; muxtop
// read of its capture must count what the client's own tap counted. Every
// segment crosses the tun twice (tuntest.Pair: the client's view of the
// connection, then the server's), so the capture holds two sessions, each
// with the tap's frames and bytes, and no finding.
func TestTcpdumpTunnelThenRead(t *testing.T) {
	bin := tcpdumpPath(t)
	p := tuntest.New(t)
	port := p.Ln.Addr().(*net.TCPAddr).Port
	file := filepath.Join(t.TempDir(), "tun.pcap")
	// -s: in immediate mode libpcap uses TPACKET_V2, whose ring has a slot
	// of the snapshot length per packet: at tcpdump's default (256 KiB)
	// 32 MiB holds 128 packets, and a burst of the tun's small ones
	// overflows it. The tun's packets are at most its MTU.
	stop := startTcpdumpOn(t, bin, p.Ifname, fmt.Sprintf(":%d", port), file, "-s", fmt.Sprint(tuntest.MTU+64))

	cfg := smux.DefaultConfig()
	cfg.Version = 2
	served := make(chan error, 1)
	go func() { served <- smuxtest.ServeEcho(p.Ln, cfg) }()
	reg := live.New(live.Config{})
	c, err := p.Dial()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := smux.Client(tap.Wrap(c, live.Client, reg, "tun", tap.Version(2)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const streams = 20
	for i := range streams {
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte(strings.Repeat("x", 1+i*3000))
		go st.Write(payload)
		if n, err := io.ReadFull(st, make([]byte, len(payload))); err != nil {
			t.Fatalf("stream %d: read %d of %d bytes: %v", i, n, len(payload), err)
		}
		st.Close()
	}
	time.Sleep(100 * time.Millisecond) // the last FINs cross
	sess.Close()
	drops, stats := stop()
	if drops > 0 {
		t.Skipf("tcpdump dropped %d packets: the machine is too busy to capture every packet (%s)", drops, stats)
	}

	tapped := reg.Snapshot().Sessions[0].Counts
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"read", file, "-o", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("read: exit %d: %s", code, errOut.String())
	}
	got := parseJSON(t, out.String())
	for _, m := range ofType(got.other, "finding-opened") {
		t.Errorf("read opened %s (session %v): %v", m["code"], m["session"], m["text"])
	}
	s := got.summary
	frames, _ := s["frames"].(map[string]any)
	bytes, _ := s["bytes"].(map[string]any)
	var diffs []string
	check := func(what string, got any, want uint64) {
		if g, ok := got.(float64); !ok || uint64(g) != want {
			diffs = append(diffs, fmt.Sprintf("%s: read %v, want %d", what, got, want))
		}
	}
	check("sessions", s["sessions"], 2)
	check("violations", s["violations"], 0)
	check("anomalies", s["anomalies"], 0)
	for d, name := range map[live.Dir]string{live.ClientToServer: "c2s", live.ServerToClient: "s2c"} {
		check("bytes "+name, bytes[name], 2*tapped.BytesDir(d))
		dir, _ := frames[name].(map[string]any)
		for _, cmd := range []decoder.Cmd{decoder.SYN, decoder.FIN, decoder.PSH, decoder.NOP, decoder.UPD} {
			check(fmt.Sprintf("%s %v frames", name, cmd), dir[cmd.String()], 2*tapped.Frames[d][cmd])
		}
	}
	if tapped.Frames[live.ClientToServer][decoder.SYN] != streams {
		t.Errorf("the tap counted %d SYNs, want %d", tapped.Frames[live.ClientToServer][decoder.SYN], streams)
	}
	if len(diffs) > 0 {
		t.Fatalf("read of tcpdump's capture of the tun, against twice the client's tap:\n  %s\ntcpdump: %s", strings.Join(diffs, "\n  "), stats)
	}
	p.Ln.Close()
	<-served
}
