package headless

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestUnnamedClientPrinted: a real smux session served on a tapped unix
// listener, whose client's socket has no name (Go gives "@"): the plain
// session-opened line names it "client", and the JSON record leaves its
// address out, as it leaves out every empty string; neither says "@".
func TestUnnamedClientPrinted(t *testing.T) {
	for _, format := range []Format{Plain, JSON} {
		t.Run(format.String(), func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, _, path := smuxtest.UnixServed(t, func(ln net.Listener) net.Listener { return tap.WrapListener(ln, reg, "svc") })
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := st.Write([]byte("ping\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(st, make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := NewPrinter(reg, &out, format).Finish(Options{Format: format}); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			want := " session opened client → " + path + "\n"
			if format == JSON {
				want = `"type":"session-opened","seq":1,`
			}
			if !strings.Contains(s, want) || strings.Contains(s, "@") || (format == JSON && strings.Contains(s, `"client"`)) {
				t.Errorf("%s output wants %q, no \"@\" and no client address:\n%s", format, want, s)
			}
		})
	}
}
