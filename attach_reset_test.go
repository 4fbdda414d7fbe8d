package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestAttachWriteReset: an upstream that resets the connection (a close
// with SO_LINGER 0) ends the session "reset" in attach, and attach's
// --write file says so too: a RST from the upstream, not a FIN each way,
// so that muxtop read of the file ends the session "reset" as well, by the
// server (the upstream) as attach says it, and tcpdump reads the file.
func TestAttachWriteReset(t *testing.T) {
	upstream, served := serveYamuxOnce(t, func(sess *hyamux.Session, c net.Conn) {
		st, err := sess.AcceptStream()
		if err == nil {
			buf := make([]byte, 4)
			io.ReadFull(st, buf) // the request, then the reset
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	file := filepath.Join(t.TempDir(), "reset.pcapng")
	addr, finish := startAttach(t, upstream, "--write", file)
	cli, st := yamuxStream(t, addr)
	st.Write([]byte("ping")) // may return the reset, which can come before its acknowledgement
	<-served
	smuxtest.Eventually(t, "the client to see the reset", func() bool { return cli.IsClosed() })
	_, out := finish()
	if !strings.Contains(out, `"reason":"reset"`) {
		t.Fatalf("attach did not end the session as reset:\n%s", out)
	}
	var rout, rerr syncBuffer
	if code := run(context.Background(), []string{"read", file, "-o", "json"}, &rout, &rerr); code != 0 {
		t.Fatalf("read %s: exit %d: %s", file, code, rerr.String())
	}
	var ended string
	for _, line := range strings.Split(rout.String(), "\n") {
		if strings.Contains(line, `"type":"session-ended"`) {
			ended = line
		}
	}
	if !strings.Contains(ended, `"reason":"reset"`) {
		t.Errorf("read of attach's --write file: %s, want the session ended reset", ended)
	}
	// Who reset, from the RST the file has: the upstream, the server.
	if want := `"detail":"reset by the server ` + upstream + `"`; !strings.Contains(ended, want) {
		t.Errorf("read of attach's --write file: %s, want %s", ended, want)
	}
	msg, err := exec.Command(tcpdumpPath(t), "-nr", file).CombinedOutput()
	if err != nil || strings.Contains(string(msg), "truncated") {
		t.Fatalf("tcpdump -r: %v\n%s", err, msg)
	}
	up := netip.MustParseAddrPort(upstream)
	from := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s.%d > ", up.Addr(), up.Port())) + `.*Flags \[R`)
	if rst := strings.Count(string(msg), "Flags [R"); rst != 1 || !from.Match(msg) {
		t.Errorf("tcpdump -r shows %d RSTs, want one, from the upstream %s:\n%s", rst, upstream, msg)
	}
}
