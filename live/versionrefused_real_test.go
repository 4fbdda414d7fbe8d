package live_test

import (
	"io"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestVersionRefusedFromTheFirstFrameReal: the reviewer's vmis fault on
// real smux sessions, keepalive off, the client's conn tapped: a v2
// client sends a request and half-closes its stream to a v1 server,
// whose recvLoop refuses the first header (its version is not the
// server's) and reads no more. Until the server sends a frame, nothing
// shows its version: the request waits, and the server has sent nothing
// since — no LEAK, which said "the server never closes its streams …
// call Close() on the server's stream" of a server that never read it.
// The server's first frame (it opens a stream: a v1 SYN) shows the
// mismatch: VERSION_MISMATCH, the client's direction refused where the
// server refused it, at the client's first frame (offset 0, as it came),
// not at the client's next frame after the server's (offset 38, the
// client's bytes by then).
func TestVersionRefusedFromTheFirstFrameReal(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	ccfg, scfg := smuxtest.Config(2), smuxtest.Config(1)
	ccfg.KeepAliveDisabled, scfg.KeepAliveDisabled = true, true
	cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "v2"), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(sc, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(st, "REQ 1\n")
	st.CloseWrite()
	var first time.Time
	smuxtest.Eventually(t, "the request recorded", func() bool {
		ss := reg.Snapshot().Sessions
		if len(ss) != 1 || len(ss[0].Streams) != 1 || ss[0].Streams[0].State != live.HalfClosedByClient {
			return false
		}
		first = ss[0].Streams[0].First
		return true
	})
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	last := reg.Snapshot().Sessions[0].Last
	for at := 100 * time.Millisecond; at <= 5*cfg.LeakAfter; at += 100 * time.Millisecond {
		reg.Evaluate(last.Add(at), cfg)
		if ls := leaksOf(reg); len(ls) != 0 {
			t.Fatalf("%v after the request, the server silent since: LEAK %s — %s", at, ls[0].Text, ls[0].Advice)
		}
	}
	// A stream for the client's next frame, opened before the server
	// speaks: a v1 SYN, which the client refuses in turn.
	st2, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.OpenStream(); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the server's frame refused", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && len(ss[0].Framing) > 0
	})
	// The client's next frame: before, the client's violation waited for
	// it, and was placed there.
	io.WriteString(st2, "more")
	smuxtest.Eventually(t, "both directions' violations", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && len(ss[0].Framing) == 2
	})
	var refused *live.FramingInfo
	for i, f := range reg.Snapshot().Sessions[0].Framing {
		if f.Dir == live.ClientToServer {
			refused = &reg.Snapshot().Sessions[0].Framing[i]
		}
	}
	if refused == nil || refused.Code != decoder.VersionMismatch || refused.Offset != 0 || !refused.At.Equal(first) || refused.Want != 1 || refused.Header.Version() != 2 {
		t.Fatalf("the client's direction refused: %+v; want VERSION_MISMATCH at offset 0, at its first frame (%v), a v2 header to a v1 end", refused, first.Format("15:04:05.000000"))
	}
	var recs []live.Record
	for _, r := range allRecords(reg) {
		if r.Kind == live.FramingViolation && r.Dir == live.ClientToServer {
			recs = append(recs, r)
		}
	}
	if len(recs) != 1 || recs[0].Offset != 0 {
		t.Fatalf("the client's violation records %+v; want one, at offset 0", recs)
	}
	reg.Evaluate(last.Add(6*cfg.LeakAfter), cfg)
	var vm *live.Finding
	for _, f := range reg.Snapshot().Findings {
		switch f.Code {
		case live.CodeVersionMismatch:
			vm = f
		case live.CodeLeak:
			t.Errorf("LEAK beside the mismatch: %s", f.Text)
		}
	}
	if vm == nil || vm.Dir != live.ClientToServer || !vm.Since.Equal(first) || vm.Text[:38] != "the client speaks v2, the server v1: e" {
		t.Fatalf("VERSION_MISMATCH %+v; want the client's direction, refused since its first frame (%v)", vm, first.Format("15:04:05.000000"))
	}
}
