package sniff

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
)

// TestStartupJudge feeds a capture's start crafted packets and stamps:
// the packets the socket may have taken before its filter was in place.
// One the filter drops never comes out, even stamped after since (a
// packet that passed no filter on another CPU as the filter was attached,
// written to the ring and stamped a moment later: `muxtop sniff -i lo
// --port N` counted another program's connection); the checks end only
// at a packet the filter keeps, stamped settle past since.
func TestStartupJudge(t *testing.T) {
	since := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	const early = 1500 * time.Millisecond
	ours := makeFrame(t, netip.MustParseAddrPort("127.0.0.1:52000"), netip.MustParseAddrPort("127.0.0.1:9000"), layers.IPProtocolTCP, false)
	theirs := makeFrame(t, netip.MustParseAddrPort("127.0.0.1:52001"), netip.MustParseAddrPort("127.0.0.1:443"), layers.IPProtocolTCP, false)
	ours6 := makeFrame(t, netip.MustParseAddrPort("[fd00::5]:52000"), netip.MustParseAddrPort("[fd00::6]:9000"), layers.IPProtocolTCP, false)
	theirs6 := makeFrame(t, netip.MustParseAddrPort("[fd00::5]:52001"), netip.MustParseAddrPort("[fd00::6]:443"), layers.IPProtocolTCP, false)
	port := capture.Port(9000)
	manyTerms, err := capture.ParseFilter(strings.TrimSuffix(strings.Repeat("port 9000 and ", 80), " and "))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := socketFilter(loopback, manyTerms); ok {
		t.Fatal("the filter of many terms fits a socket filter: it tests nothing here")
	}
	type packet struct {
		what       string
		fr         frame
		at         time.Duration // after since
		link       layers.LinkType
		other      bool // of an interface of a link type linkOf does not know
		keep, over bool
	}
	eth, raw := layers.LinkTypeEthernet, layers.LinkTypeRaw
	for _, c := range []struct {
		name    string
		pre     preamble
		f       capture.Filter
		packets []packet // judged in turn, by one startup
	}{
		{"lo port", loopback, port, []packet{
			{"another connection's, taken before the filter", theirs, -time.Millisecond, eth, false, false, false},
			{"ours, taken before the filter", ours, -time.Microsecond, eth, false, false, false},
			{"another connection's, stamped after since", theirs, 12 * time.Microsecond, eth, false, false, false},
			{"ours, stamped after since", ours, 20 * time.Microsecond, eth, false, true, false},
			{"another connection's, stamped later still", theirs, 30 * time.Microsecond, eth, false, false, false},
			{"another connection's, stamped settle past since", theirs, settle, eth, false, false, false},
			{"ours, stamped settle past since: the checks end", ours, settle + time.Microsecond, eth, false, true, true},
		}},
		{"lo port, clock set back", loopback, port, []packet{
			{"another connection's, stamped after since", theirs, time.Microsecond, eth, false, false, false},
			{"another connection's, of a clock set back an hour", theirs, -time.Hour, eth, false, false, true},
		}},
		{"lo port, clock set back, ours", loopback, port, []packet{
			{"ours, of a clock set back an hour", ours, -time.Hour, eth, false, true, true},
		}},
		{"tun port", boundIP, port, []packet{
			{"another connection's, stamped after since", bareFrame(theirs6), time.Microsecond, raw, false, false, false},
			{"ours, taken before the filter", bareFrame(ours6), -time.Microsecond, raw, false, false, false},
			{"ours, stamped settle past since", bareFrame(ours), settle, raw, false, true, true},
		}},
		{"any port", every, port, []packet{
			{"another connection's, bare IP", bareFrame(theirs), time.Microsecond, raw, false, false, false},
			{"another connection's, Ethernet", theirs6, time.Microsecond, eth, false, false, false},
			{"ours, of a link type the filter drops", ours, settle, eth, true, false, false},
			{"ours, bare IP", bareFrame(ours6), time.Microsecond, raw, false, true, false},
			{"ours, Ethernet, stamped settle past since", ours, settle, eth, false, true, true},
		}},
		{"any, no filter", every, capture.Filter{}, []packet{
			{"of a link type the filter drops", theirs, time.Microsecond, eth, true, false, false},
			{"any connection's", theirs, time.Microsecond, eth, false, true, false},
			{"any connection's, stamped settle past since", theirs, settle, eth, false, true, true},
		}},
		{"lo, no filter: only the time tells", loopback, capture.Filter{}, []packet{
			{"taken before the filter", theirs, -time.Microsecond, eth, false, false, false},
			{"stamped after since", theirs, time.Microsecond, eth, false, true, true},
		}},
		{"lo, too many terms: the reader filters", loopback, manyTerms, []packet{
			{"taken before the filter", ours, -time.Microsecond, eth, false, false, false},
			{"another connection's, stamped after since", theirs, time.Microsecond, eth, false, true, true},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newStartup(c.pre, c.f, since, early)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.packets {
				keep, over := s.judge(p.fr.data, since.Add(p.at), p.link, p.other)
				if keep != p.keep || over != p.over {
					t.Fatalf("%s (%s, %v after since): keep %v, over %v; want keep %v, over %v", p.what, p.fr.what, p.at, keep, over, p.keep, p.over)
				}
				if over {
					break
				}
			}
		})
	}
}
