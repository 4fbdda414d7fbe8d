package live_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestKeepaliveSlowerSideWarningReal: real smux v1 and v2 ends, both
// tapped, the server's KeepAliveInterval 1 s and the client's 17 s, both
// healthy: the client sends its first NOP 17 s into the session. Its
// silence outlasts the borrowed limit (15 s, smux's default interval
// and a half) first, so KEEPALIVE opens, but as a warning that says the
// client's keepalive may only be slower, and resolves at that NOP,
// never critical. Before, it was critical from 15 s to 17 s into every
// such session, and MuxtopKeepaliveSilence fired.
func TestKeepaliveSlowerSideWarningReal(t *testing.T) {
	t.Parallel() // 18 s of real time on pairs of its own
	for _, ver := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			cc, sc := smuxtest.Conns(t)
			ccfg, scfg := smuxtest.Config(ver), smuxtest.Config(ver)
			ccfg.KeepAliveInterval, ccfg.KeepAliveTimeout = 17*time.Second, time.Minute
			scfg.KeepAliveInterval, scfg.KeepAliveTimeout = time.Second, time.Minute
			cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "cli"), ccfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cli.Close() })
			srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "srv"), scfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			cfg := live.FindingsConfig{Churn: -1}
			start := time.Now()
			for time.Since(start) < 18500*time.Millisecond {
				time.Sleep(100 * time.Millisecond)
				reg.Evaluate(time.Now(), cfg)
			}
			var opened, resolved *live.Record
			for _, r := range allRecords(reg) {
				switch {
				case r.Finding == nil || r.Finding.Code != live.CodeKeepalive:
				case r.Kind == live.FindingOpened && opened == nil:
					opened = &r
				case r.Kind == live.FindingResolved:
					resolved = &r
				case r.Kind == live.FindingUpdated:
					t.Errorf("KEEPALIVE updated at %v: %v %q", r.At.Sub(start), r.Finding.Severity, r.Finding.Text)
				}
			}
			if opened == nil || resolved == nil {
				t.Fatalf("KEEPALIVE opened %v, resolved %v; want both (the client's silence outlasts 15 s, its first NOP comes at 17 s)", opened != nil, resolved != nil)
			}
			f := opened.Finding
			if f.Severity != live.Warning || f.Dir != live.ClientToServer || !f.Evidence.Borrowed ||
				!strings.Contains(f.Text, "it has sent no NOP of its own yet, so its keepalive may only be slower than the server's") {
				t.Errorf("opened %v at %v on %v (borrowed %v): %q; want a warning of the client whose keepalive may be slower",
					f.Severity, opened.At.Sub(start), f.Dir, f.Evidence.Borrowed, f.Text)
			}
			if g := resolved.Finding; g.Severity != live.Warning || resolved.At.Sub(start) < 16*time.Second {
				t.Errorf("resolved %v at %v; want a warning, at the client's first NOP (17 s)", g.Severity, resolved.At.Sub(start))
			}
		})
	}
}
