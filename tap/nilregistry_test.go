package tap

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestNilRegistryPanicsAtTheCall: a nil registry panics in Wrap,
// WrapListener and Dialer, naming the call, where the caller made the
// mistake: Wrap crashed in live.(*Registry).Open on a nil pointer, and
// WrapListener and Dialer only at their first conn.
func TestNilRegistryPanicsAtTheCall(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		call func()
	}{
		{"tap.Wrap", func() { Wrap(a, live.Client, nil, "x") }},
		{"tap.Wrap", func() { Wrap(a, live.Server, nil, "x") }},
		{"tap.WrapListener", func() { WrapListener(ln, nil, "x") }},
		{"tap.Dialer", func() { Dialer(nil, "x") }},
	} {
		func() {
			defer func() {
				want := tc.name + ": nil *live.Registry"
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), want) {
					t.Errorf("%s with a nil registry: recovered %v, want a panic saying %q", tc.name, r, want)
				}
			}()
			tc.call()
		}()
	}
}
