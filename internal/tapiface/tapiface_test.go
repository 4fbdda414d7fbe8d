package tapiface

import (
	"strconv"
	"testing"
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
