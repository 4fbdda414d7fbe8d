package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/xtaci/smux"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tui"
)

// closeFirstSession runs one real smux v2 session on a connection to ln:
// the client sends "ping" on a stream and the server answers "pong", both
// close the stream, and then one end closes the connection, the server if
// serverFirst (its side only, reading on until the client's FIN), and the
// other only once the first has closed it. It
// returns the client's address once both ends are closed.
func closeFirstSession(t *testing.T, ln net.Listener, serverFirst bool) string {
	t.Helper()
	first, done := make(chan struct{}), make(chan struct{})
	go func() { // the server: one connection, one stream
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		s, err := smux.Server(c, smuxtest.Config(2))
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		st, err := s.AcceptStream()
		if err != nil {
			t.Error(err)
			return
		}
		io.ReadFull(st, make([]byte, 4))
		st.Write([]byte("pong"))
		st.Close()
		io.ReadAll(st) // to the client's FIN: nothing it sends comes after the close
		if serverFirst {
			// Its FIN, reading on: a window update the client's smux sends
			// late would meet a closed socket, which answers it with a RST.
			c.(*net.TCPConn).CloseWrite()
			close(first)
		}
		s.AcceptStream() // until the client's EOF
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := smux.Client(c, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("ping"))
	if got, err := io.ReadAll(st); string(got) != "pong" || err != nil {
		t.Fatalf("the client read %q, %v; want pong", got, err)
	}
	st.Close()
	if serverFirst {
		<-first
	}
	s.Close() // its FIN
	<-done
	return c.LocalAddr().String()
}

// TestTcpdumpClosedFirst: tcpdump on loopback captures a real smux
// session whose client closes the connection first, and one whose server
// does. Read back, each session ends by EOF saying which end closed
// first, in attach's words ("the client 127.0.0.1:51234 closed first"),
// in the JSON and plain output and in the sessions pane. Without tcpdump
// it skips, unless MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestTcpdumpClosedFirst(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, serverFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "client first", true: "server first"}[serverFirst], func(t *testing.T) {
			var client string
			file, addr := tcpdumpOf(t, bin, "closedfirst.pcap", func(ln net.Listener) { client = closeFirstSession(t, ln, serverFirst) })
			want := "the client " + client + " closed first"
			if serverFirst {
				want = "the server " + addr + " closed first"
			}

			reg, _ := pcaptest.ReadFile(t, file, pcap.Config{})
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 {
				t.Fatalf("%d sessions read, want 1", len(snap.Sessions))
			}
			if ss := snap.Sessions[0]; !ss.Ended || ss.Reason != live.EOF || ss.Err != want {
				t.Errorf("the session ended %v, %v %q; want ended by EOF, %q", ss.Ended, ss.Reason, ss.Err, want)
			}

			for _, out := range []string{"json", "plain"} {
				var stdout, stderr syncBuffer
				if code := run(context.Background(), []string{"read", file, "-o", out}, &stdout, &stderr); code != 0 {
					t.Fatalf("read -o %s: exit %d: %s", out, code, stderr.String())
				}
				line := ""
				for _, l := range strings.Split(stdout.String(), "\n") {
					if strings.Contains(l, "session-ended") || strings.Contains(l, "session ended") {
						line = l
					}
				}
				if !strings.Contains(line, want) {
					t.Errorf("read -o %s: the session's end %q does not say %q", out, line, want)
				}
			}

			// The sessions pane's state column has room for the reason
			// (its ellipsis says there is more); the frames pane's record
			// of the end, and the detail of the selected one, say it whole.
			for _, size := range [][2]int{{160, 45}, {200, 60}} {
				m, _ := tui.New(reg, tui.Options{Title: "read", NoColor: true}).Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				screen := ansi.Strip(m.View().Content)
				row := ""
				for _, l := range strings.Split(screen, "\n") {
					if strings.Contains(l, "▶") && strings.Contains(l, "→ :") {
						row = l
					}
				}
				if !strings.Contains(row, " ended: EOF: ") {
					t.Errorf("%dx%d: the session's row does not say ended: EOF and more: %q", size[0], size[1], row)
				}
				if !strings.Contains(screen, "session 1 ended: EOF: "+want) {
					t.Errorf("%dx%d: the screen does not say session 1 ended: EOF: %s:\n%s", size[0], size[1], want, screen)
				}
			}
		})
	}
}
