package tap

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestTapWrongSkip: a yamux client tapped with tap.Skip(1) that sends no
// prefix: the tap skips the first byte of its first yamux header. The
// skip was the program's tap option, not a flag the user gave muxtop:
// the client's finding names tap.Skip(1), in its text and its advice,
// and no --skip. Before, it said "skipped by --skip 1" and "drop --skip
// 1". Told yamux as well (tap.WithProtocol), the tap decodes the rest
// as yamux and the advice is the skip's alone; detected, the tap took
// the client's 0x01 for smux, and the advice says the tap then tells
// yamux; told smux, the advice names the tap's option to change, not
// --protocol. TestProxyWrongSkip is the flag's twin (attach --skip 1).
func TestTapWrongSkip(t *testing.T) {
	for _, proto := range []Protocol{Detect, Yamux, Smux} {
		t.Run(proto.String(), func(t *testing.T) {
			reg := live.New(live.Config{})
			raw := make(chan *smuxtest.RecordingConn, 1)
			cc, sc := smuxtest.Conns(t)
			go serveYamux(0, raw)(sc)
			opts := []Option{Skip(1)}
			if proto != Detect {
				opts = append(opts, WithProtocol(proto))
			}
			yamuxClientWork(t, Wrap(cc, live.Client, reg, "cli", opts...), 1, 0, 0) // the two ends work
			smuxtest.Eventually(t, "the client's bytes to break the framing", func() bool {
				snap := reg.Snapshot()
				return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) > 0
			})
			fs := protocolFindings(reg)
			f := fs[live.ClientToServer]
			if f == nil || len(fs) != 1 {
				t.Fatalf("PROTOCOL findings: %v, want the client's alone", fs)
			}
			t.Logf("%s — %s", f.Text, f.Advice)
			want := "the client's first byte, skipped by tap.Skip(1), begins a yamux header"
			if !strings.Contains(f.Text, want) || strings.Contains(f.Text, "--skip") {
				t.Errorf("text %q, want it to say %q and no --skip", f.Text, want)
			}
			wantAdvice := "drop tap.Skip(1) from the program's tap: the client sends no prefix, and its yamux begins at its first byte"
			switch proto {
			case Detect:
				wantAdvice += ", by which muxtop then tells it is yamux"
			case Smux:
				wantAdvice += "; and decode it as yamux: tell the tap tap.WithProtocol(tap.Yamux), or leave its protocol option out"
			}
			if !strings.HasPrefix(f.Advice, wantAdvice) || strings.Contains(f.Advice, "--skip") || strings.Contains(f.Advice, "--protocol") {
				t.Errorf("advice %q, want it to start %q, and no flag", f.Advice, wantAdvice)
			}
			if f.Severity != live.Warning {
				t.Errorf("severity %v: the ends are fine; the tap's skip is not", f.Severity)
			}
		})
	}
}
