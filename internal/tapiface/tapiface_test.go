package tapiface

import (
	"strconv"
	"testing"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// Every transport a tap names comes back from its interface's name, and a
// name pcapout did not write is none of them.
func TestNameRoundTrip(t *testing.T) {
	for _, tr := range []string{"", "tls", "tls+unix", "tls+pipe", "unix", "pipe", "udp", "conn"} {
		t.Run(strconv.Quote(tr), func(t *testing.T) {
			got, ok := Transport(Name(tr))
			if !ok || got != tr {
				t.Errorf("Transport(Name(%q)) = %q, %v; want %q, true", tr, got, ok, tr)
			}
		})
	}
	for _, name := range []string{"eth0", "muxtop/", "any"} {
		if got, ok := Transport(name); ok {
			t.Errorf("Transport(%q) = %q, true; want none", name, got)
		}
	}
}

// What a tap was told comes back from its interface's comment; a tap
// told nothing writes none, and a comment that is not Comment's (a
// dumpcap user's) says nothing.
func TestToldRoundTrip(t *testing.T) {
	for _, told := range []tap.Told{
		{Tap: live.Server, Version: 2},
		{Tap: live.Client, Version: 1},
		{Tap: live.Client, Proto: tap.Yamux},
		{Tap: live.Server, Proto: tap.Smux, Version: 1},
		{Tap: live.Server, Proto: tap.Yamux, Skip: 1},
		{Tap: live.Client, Skip: 3},
		{Tap: live.Server, Proto: tap.Yamux, Skip: 2, Prefix: "\x04 ", Attach: true},
	} {
		c := Comment(told)
		got, ok := Told(c)
		if !ok || got != told {
			t.Errorf("Told(%q) = %+v, %v; want %+v, true", c, got, ok, told)
		}
	}
	if c := Comment(tap.Told{Tap: live.Server}); c != "" {
		t.Errorf("Comment of a tap told nothing = %q, want none", c)
	}
	for _, c := range []string{"", "captured on eth0", "muxtop told: tap=server", "muxtop told: version=2", "muxtop told: tap=server version=3"} {
		if got, ok := Told(c); ok {
			t.Errorf("Told(%q) = %+v, true; want nothing", c, got)
		}
	}
	if got, ok := Told("muxtop told: tap=server version=2 later=word"); !ok || got != (tap.Told{Tap: live.Server, Version: 2}) {
		t.Errorf("a word a later muxtop may add: Told = %+v, %v; want the rest read", got, ok)
	}
}
