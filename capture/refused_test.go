package capture_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// refusedConnect returns the packets of a connect that nothing listened
// for: the client's SYN, from the base fixture's real session, and the
// server's RST,ACK answering it, as Linux sends it for a closed port.
func refusedConnect(t *testing.T) []pkt {
	t.Helper()
	syn := readPackets(t, fixture("v1", "base"))[0]
	if !syn.TCP.SYN || syn.TCP.ACK {
		t.Fatal("the fixture does not begin with the client's SYN")
	}
	rst := syn
	eth := *syn.Eth
	eth.SrcMAC, eth.DstMAC = syn.Eth.DstMAC, syn.Eth.SrcMAC
	ip := *syn.IP.(*layers.IPv4)
	ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
	rst.Eth, rst.IP = &eth, &ip
	tcp := layers.TCP{SrcPort: syn.TCP.DstPort, DstPort: syn.TCP.SrcPort, Ack: syn.TCP.Seq + 1, RST: true, ACK: true}
	rst = reserialize(t, rst, &tcp, nil)
	rst.CI.Timestamp = syn.CI.Timestamp.Add(50 * time.Microsecond)
	return []pkt{syn, rst}
}

// TestRefusedConnectNotice: a connect whose SYN a RST from the server's
// address answered is said to have been reset before it opened, not to
// have carried no bytes, which reads as a connection that opened and
// stayed silent:
//
//	skipped 127.0.0.1:… → 127.0.0.1:…, neither smux nor yamux: it carried no bytes
//
// and not that nothing listened, which the capture does not show: a
// firewall's REJECT with tcp-reset sends the same RST, and a capture
// that dropped the server's SYN-ACK holds the same packets.
func TestRefusedConnectNotice(t *testing.T) {
	ps := refusedConnect(t)
	reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{})
	ns := notices(reg)
	var said string
	for _, n := range ns {
		if strings.HasPrefix(n, "skipped ") {
			said = n
		}
	}
	port := ps[0].TCP.DstPort
	want := fmt.Sprintf("the connection was reset before it opened: refused (nothing listening on port %d), or a firewall's reset; "+
		"the capture has the client's SYN and the server's RST, no SYN-ACK", uint16(port))
	if !strings.HasSuffix(said, want) {
		t.Fatalf("notices %q: want one that says %q", ns, want)
	}
}

// TestRefusedConnectPicked: the same connect with the filter picking its
// port (read --port, sniff --port: what the notices advise) is no session
// either: the same notice, no session opened. Before, it was decoded as
// an smux session "reset by the server", and 20 such connects in 10 s
// opened CHURN, whose advice is to keep a pool.
//
// With --protocol too (decoded as forced, no probe), the same: before,
// the session opened at the client's SYN (a7cde9a left it).
func TestRefusedConnectPicked(t *testing.T) {
	ps := refusedConnect(t)
	port := uint16(ps[0].TCP.DstPort)
	for _, proto := range []tap.Protocol{tap.Detect, tap.Smux, tap.Yamux} {
		t.Run(proto.String(), func(t *testing.T) {
			reg := readEvaluated(ps, capture.Config{Filter: capture.Port(port), Protocol: proto}, live.FindingsConfig{})
			if ss := reg.Snapshot().Sessions; len(ss) != 0 {
				t.Errorf("%d sessions, want none: %+v", len(ss), ss[0].Info)
			}
			want := fmt.Sprintf("the connection was reset before it opened: refused (nothing listening on port %d)", port)
			said := false
			for _, n := range notices(reg) {
				said = said || strings.Contains(n, want)
			}
			if !said {
				t.Errorf("notices %q: want one that says %q", notices(reg), want)
			}
		})
	}
}

// TestForcedPickedOpensAtAnswer: a connection the filter picks, the
// protocol forced, whose client's SYN came first, is a session from the
// server's SYN-ACK on, and a SYN nothing answered is one still (as
// before: picked, it is decoded whatever it carries).
func TestForcedPickedOpensAtAnswer(t *testing.T) {
	ps := readPackets(t, fixture("v1", "base"))
	port := uint16(ps[0].TCP.DstPort)
	for _, tc := range []struct {
		name string
		ps   []pkt
	}{{"whole", ps}, {"a SYN alone", ps[:1]}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := readEvaluated(tc.ps, capture.Config{Filter: capture.Port(port), Protocol: tap.Smux}, live.FindingsConfig{})
			ss := reg.Snapshot().Sessions
			if len(ss) != 1 {
				t.Fatalf("%d sessions, want 1", len(ss))
			}
			if tc.name == "whole" {
				whole := readEvaluated(ps, capture.Config{}, live.FindingsConfig{}).Snapshot().Sessions
				if len(whole) != 1 || ss[0].Counts != whole[0].Counts || ss[0].Total != whole[0].Total {
					t.Errorf("counts %+v, want those read unforced %+v", ss[0].Counts, whole[0].Counts)
				}
			}
		})
	}
}
