package headless

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestPipeClosePrinted: a real smux session over a net.Pipe, its client
// tapped, whose server closes the pipe. A pipe has no half-close: the
// plain output's record of it and its summary say the server closed the
// connection, and never call the session half-closed, nor say an end
// closed its side.
func TestPipeClosePrinted(t *testing.T) {
	cc, sc := smuxtest.PipeConns(t)
	reg := live.New(live.Config{})
	cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "t"), smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := smux.Server(sc, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	// Its record comes after the direction's end, which the snapshot shows first.
	smuxtest.Eventually(t, "the record of the server's close", func() bool {
		recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.SessionHalfClosed }}, nil)
		return len(recs) == 1
	})
	var out bytes.Buffer
	if _, err := NewPrinter(reg, &out, Plain).Finish(Options{Format: Plain}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"← session closed at one end: the server closed the connection (a net.Pipe has no half-close): the client can no longer write\n",
		"  sessions  1 (1 live, 1 of them closed at one end: a net.Pipe, which has no half-close, closed whole by one end and held by the other; 0 ended)\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("plain output wants %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "half-closed") || strings.Contains(s, "closed its side") {
		t.Errorf("plain output calls a pipe half-closed:\n%s", s)
	}
}
