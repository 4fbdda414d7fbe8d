package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/tui"
)

// TestTcpdumpOneWayCellOnScreen: tcpdump captures a real healthy smux and
// yamux echo session on loopback; cut to one direction (the packets
// tcpdump's "dst port" or "src port" keeps), read back and drawn, the
// session's row says ONE-WAY, the messages line says which side the
// capture holds, and what the screen says beside it is true of the
// session the test ran: no violation (the seen side's frames on streams
// whose SYN the unseen side sent are no UNKNOWN_STREAM), and the record of
// the seen side's FIN does not say the unseen side's is still open (the
// test's other end did close: its FIN is what the capture lacks). Before:
// "violations 8" in the header for the server's side of a healthy smux
// session, and "the server's side is still open". Without tcpdump it
// skips, unless MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestTcpdumpOneWayCellOnScreen(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, yam := range []bool{false, true} {
		t.Run(map[bool]string{false: "smux", true: "yamux"}[yam], func(t *testing.T) {
			file, addr := tcpdumpOf(t, bin, "whole.pcap", func(ln net.Listener) { echoMuxSession(t, ln, yam, false, time.Second) })
			wf, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			all := pcaptest.Read(t, bytes.NewReader(wf))
			port := netip.MustParseAddrPort(addr).Port()
			for _, toServer := range []bool{true, false} {
				seen, unseen := "client", "server"
				if !toServer {
					seen, unseen = unseen, seen
				}
				one := filepath.Join(t.TempDir(), "one.pcap")
				f, err := os.Create(one)
				if err != nil {
					t.Fatal(err)
				}
				pcaptest.Write(t, f, oneWay(all, port, toServer))
				f.Close()
				reg, _ := pcaptest.ReadFile(t, one, pcap.Config{})
				if snap := reg.Snapshot(); len(snap.Sessions) != 1 || snap.Sessions[0].AnomalyCount != 0 {
					t.Fatalf("%s's side only: sessions %d, the first with anomalies %v; want one, none", seen, len(snap.Sessions), snap.Sessions[0].AnomaliesBy)
				}
				m, _ := tui.New(reg, tui.Options{Title: "read", NoColor: true}).Update(tea.WindowSizeMsg{Width: 200, Height: 45})
				screen := ansi.Strip(m.View().Content)
				lines := strings.Split(screen, "\n")
				row := ""
				for _, l := range lines {
					if strings.Contains(l, "▶") && strings.Contains(l, "→ :") {
						row = l
					}
				}
				if !strings.Contains(row, " ONE-WAY ") {
					t.Errorf("%s's side only: the session's row does not say ONE-WAY: %q", seen, row)
				}
				if !strings.Contains(lines[1], "violations 0 ") {
					t.Errorf("%s's side only: the header counts violations in a healthy session: %q", seen, lines[1])
				}
				if !strings.Contains(screen, "the capture holds only the "+seen+"'s packets") {
					t.Errorf("%s's side only: no message says the capture holds only the %s's packets:\n%s", seen, seen, screen)
				}
				if strings.Contains(screen, "still open") || !strings.Contains(screen, "the capture holds nothing of the "+unseen+"'s side") {
					t.Errorf("%s's side only: the %s's FIN, which the capture lacks, is said to be still to come, or not said to be unseen:\n%s", seen, unseen, screen)
				}
			}
		})
	}
}
