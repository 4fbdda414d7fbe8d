package headless

import (
	"bytes"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestUpstreamLine: the summary the UI prints on quitting (Finish, plain,
// grouped) says how the proxy's connections to its upstream failed, in
// the words of the failures; none when none failed.
func TestUpstreamLine(t *testing.T) {
	for _, c := range []struct {
		u    live.Upstream
		want string
	}{
		{live.Upstream{Addr: "127.0.0.1:9399", Dials: 3, Failed: 3, Refused: 3, Last: "connection refused"},
			"  upstream  127.0.0.1:9399 refused 3 of 3 connections (the last: connection refused)\n"},
		{live.Upstream{Addr: "10.0.0.5:9000", Dials: 4, Failed: 2, TimedOut: 2, Last: "i/o timeout"},
			"  upstream  10.0.0.5:9000 did not answer 2 of 4 connections within --dial-timeout (the last: i/o timeout)\n"},
		{live.Upstream{Addr: "db:9000", Dials: 5, Failed: 4, Refused: 1, TimedOut: 1, Last: "no route to host"},
			"  upstream  db:9000 failed 4 of 5 connections: 1 refused, 1 not answered within --dial-timeout, 2 other (the last: no route to host)\n"},
		{live.Upstream{Addr: "127.0.0.1:9399", Dials: 1, Failed: 1, Refused: 1, Last: "connection refused"},
			"  upstream  127.0.0.1:9399 refused 1 of 1 connection (the last: connection refused)\n"},
		{live.Upstream{Addr: "127.0.0.1:9000", Dials: 5}, ""},
	} {
		var out bytes.Buffer
		reg := live.New(live.Config{})
		if _, err := Finish(&out, reg, Options{Format: Plain, GroupFindings: true, Upstream: func() live.Upstream { return c.u }}); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, l := range strings.SplitAfter(out.String(), "\n") {
			if strings.HasPrefix(l, "  upstream ") {
				got += l
			}
		}
		if got != c.want {
			t.Errorf("%+v: upstream line %q, want %q\n%s", c.u, got, c.want, out.String())
		}
	}
}
