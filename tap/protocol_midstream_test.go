package tap

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestProtocolMidStreamReal: a client whose framing breaks after frames
// the real library accepted — an smux v1 server that accepted stream 3
// and read its "one", then got a UPD (v2's) or an unknown cmd; a yamux
// server that accepted stream 1 and read its "one", then got a frame of
// an unknown type — speaks the mux: its PROTOCOL finding says its framing
// broke mid-stream, after how many frames, and what can break framing,
// not that it sent "unknown bytes, not smux" and should "fix the
// client's address or protocol", as it said for the first bytes of a
// connection, which these are not.
func TestProtocolMidStreamReal(t *testing.T) {
	smuxHead := func(cmd decoder.Cmd, sid uint32, p string) []byte {
		h := decoder.MakeHeader(1, cmd, uint16(len(p)), sid)
		return append(h[:], p...)
	}
	yamuxHead := func(typ yamux.Type, flags yamux.Flags, sid uint32, p string, length uint32) []byte {
		h := yamux.MakeHeader(typ, flags, sid, length)
		return append(h[:], p...)
	}
	for _, tc := range []struct {
		name       string
		yamux      bool
		frames     []byte // two frames the server accepts, then the bad one
		violation  string
		offset     int
		text, then string
	}{
		{"smux/UPD_IN_V1", false,
			append(append(smuxHead(decoder.SYN, 3, ""), smuxHead(decoder.PSH, 3, "one")...), smuxHead(decoder.UPD, 3, "")...),
			"UPD_IN_V1", 19, "a header smux refuses", "smux stops reading the session"},
		{"smux/UNKNOWN_CMD", false,
			append(append(smuxHead(decoder.SYN, 3, ""), smuxHead(decoder.PSH, 3, "one")...), smuxHead(7, 3, "")...),
			"UNKNOWN_CMD", 19, "a header smux refuses", "smux stops reading the session"},
		{"smux/text", false,
			append(append(smuxHead(decoder.SYN, 3, ""), smuxHead(decoder.PSH, 3, "one")...), "hello, world"...),
			"BAD_VERSION", 19, "text where a header belongs", "smux stops reading the session"},
		{"yamux/BAD_TYPE", true,
			append(append(yamuxHead(yamux.WindowUpdate, yamux.SYN, 1, "", 0), yamuxHead(yamux.Data, 0, 1, "one", 3)...), yamuxHead(9, 0, 1, "", 0)...),
			"UNKNOWN_TYPE", 27, "a header yamux refuses", "yamux ends the session at once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			up := startUpstream(t, "", func(c net.Conn) {
				read := func(st io.Reader) {
					b := make([]byte, 3)
					_, err := io.ReadFull(st, b)
					if err != nil {
						got <- err.Error()
						return
					}
					got <- string(b)
				}
				if tc.yamux {
					srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
					if err != nil {
						return
					}
					defer srv.Close()
					st, err := srv.AcceptStream()
					if err != nil {
						got <- err.Error()
						return
					}
					read(st)
					<-srv.CloseChan()
					return
				}
				srv, err := smux.Server(c, smux.DefaultConfig())
				if err != nil {
					return
				}
				defer srv.Close()
				st, err := srv.AcceptStream()
				if err != nil {
					got <- err.Error()
					return
				}
				read(st)
				io.Copy(io.Discard, st) // until the session stops
			})
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
			c := dialProxy(t, p)
			// The two good frames first, and the bad one once the server
			// has read the first's "one": yamux's Read fails once its
			// session ends, even with bytes buffered.
			cut := 19
			if tc.yamux {
				cut = 27
			}
			if _, err := c.Write(tc.frames[:cut]); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != "one" {
				t.Fatalf("the real server read %q from the stream, want \"one\": it did not accept the frames before the bad one", s)
			}
			if _, err := c.Write(tc.frames[cut:]); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the client's framing to break", func() bool {
				snap := reg.Snapshot()
				return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) > 0
			})
			f := protocolFindings(reg)[live.ClientToServer]
			if f == nil {
				t.Fatal("no PROTOCOL finding of the client's")
			}
			want := "the client's framing broke after 2 frames "
			if !strings.HasPrefix(f.Text, want) || !strings.Contains(f.Text, tc.text) || !strings.Contains(f.Text, tc.violation) ||
				!strings.Contains(f.Text, "at offset "+strconv.Itoa(tc.offset)) {
				t.Errorf("text: %s\nwant %q… with %q, %q and offset %d", f.Text, want, tc.text, tc.violation, tc.offset)
			}
			if !strings.HasPrefix(f.Advice, "the client speaks ") || strings.Contains(f.Advice, "fix the client's address") || !strings.Contains(f.Advice, tc.then) {
				t.Errorf("advice: %s\nwant it to say the client speaks the mux, with %q, and no address to fix", f.Advice, tc.then)
			}
		})
	}
}
