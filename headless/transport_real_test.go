package headless

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestJSONTransport: a real smux session tapped over TCP, TLS, a unix
// socket, a net.Pipe and a KCP-like message conn: its JSON session-opened
// record says what the connection runs over, `transport`, as the tap
// found it ("tcp" for TCP, as for every capture and attach session).
func TestJSONTransport(t *testing.T) {
	trs := append([]smuxtest.Transport{{Name: "tcp", Conns: smuxtest.Conns}}, smuxtest.Transports()...)
	want := map[string]string{"tcp": "tcp", "tls": "tls", "unix": "unix", "pipe": "pipe", "message": "udp"}
	for _, tr := range trs {
		t.Run(tr.Name, func(t *testing.T) {
			cc, sc := tr.Conns(t)
			reg := live.New(live.Config{})
			cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "t"), smuxtest.Config(2))
			if err != nil {
				t.Fatal(err)
			}
			srv, err := smux.Server(sc, smuxtest.Config(2))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cli.Close(); srv.Close() })
			var out bytes.Buffer
			if _, err := NewPrinter(reg, &out, JSON).Finish(Options{Format: JSON}); err != nil {
				t.Fatal(err)
			}
			line, _, _ := strings.Cut(out.String(), "\n")
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if m["type"] != "session-opened" || m["transport"] != want[tr.Name] {
				t.Errorf("first record %s, want a session-opened with transport %q", line, want[tr.Name])
			}
		})
	}
}
