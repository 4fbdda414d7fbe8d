package live_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestStallYamuxReaderClosedUnreadReal: on a real hashicorp/yamux
// session the server writes 1 MiB on a stream whose reader, the client,
// Close()s it without reading. yamux's Close sends only a FIN: it frees
// no window and sends no window update, so the writer stays held at the
// full 256 KiB window. The WINDOW_STALL says that the reader closed
// without reading what it was sent, and that the writer waits for the
// reader's StreamCloseTimeout to reset the stream; its advice no longer
// says "or close it", which frees nothing. Before: "have the client read
// stream 1, or close it: yamux sends a WINDOW_UPDATE ...". The second
// half proves the reset on real yamux: with the reader's
// StreamCloseTimeout short, the held Write fails with "connection reset".
func TestStallYamuxReaderClosedUnreadReal(t *testing.T) {
	v := newVStall(t, "yamux", 0, 1<<20)
	if err := v.reader.Close(); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the client's FIN", func() bool {
		st := v.reg.Snapshot().Sessions[0].Stream(v.sid)
		return st != nil && st.State == live.HalfClosedByClient
	})
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, LeakAfter: time.Hour, Churn: -1}
	v.reg.Evaluate(t0.Add(3*time.Second), cfg)
	var f *live.Finding
	for _, r := range stallRecords(v.reg) {
		f = r.Finding
	}
	if f == nil {
		t.Fatal("no WINDOW_STALL opened")
	}
	for _, w := range []string{
		"its reader, the client, closed the stream (its FIN came) without reading the 256 KiB it was sent",
		"so the server's Write waits until the client's StreamCloseTimeout (5 min by default",
		`resets the stream, and then fails with "connection reset"`,
	} {
		if !strings.Contains(f.Text, w) {
			t.Errorf("text %q\nwant it to say %q", f.Text, w)
		}
	}
	if strings.Contains(f.Advice, "or close it") || !strings.Contains(f.Advice, "have the client read stream 1 to io.EOF") {
		t.Errorf("advice %q: want no \"or close it\", and the client to read to io.EOF before it closes", f.Advice)
	}

	// The real library: the reader's Close frees nothing; its
	// StreamCloseTimeout's RST ends the held Write.
	a, b := net.Pipe()
	ccfg, scfg := smuxtest.YamuxConfig(), smuxtest.YamuxConfig()
	ccfg.StreamCloseTimeout = 300 * time.Millisecond
	cli, srv := smuxtest.YamuxPair(t, a, b, ccfg, scfg)
	rd, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	rd.Write([]byte("GET"))
	wr, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := wr.Write(make([]byte, 1<<20)); done <- err }()
	rd.Close()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the held Write never returned")
	}
	if !errors.Is(err, hyamux.ErrConnectionReset) {
		t.Errorf("the held Write returned %v, want %v", err, hyamux.ErrConnectionReset)
	}
}
