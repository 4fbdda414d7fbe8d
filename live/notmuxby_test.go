package live_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// TestNotMuxByCode: a violation whose bytes at offset 0 are another
// protocol's (a TLS record) counts in NotMux and NotMuxBy, by what the
// bytes are, and not in ViolationsBy, whose codes are a mux's; a mux's
// BAD_VERSION later in the stream counts there. ViolationsBy and
// NotMuxBy add up to Violations while the sessions are tracked, once
// they are forgotten, and for a violation a forgotten session still
// reports: muxtop_violations_total and muxtop_not_mux_total read them.
func TestNotMuxByCode(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: 1})
	tls := decoder.Header{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01} // a TLS ClientHello record
	check := func(stage string, notMux, violations uint64) {
		t.Helper()
		snap := reg.Snapshot()
		var by uint64
		for _, n := range snap.ViolationsBy {
			by += n
		}
		if snap.NotMux != notMux || snap.NotMuxBy[wirekind.TLS] != notMux || by != violations || snap.Violations != notMux+violations {
			t.Errorf("%s: NotMux %d (TLS %d), ViolationsBy %v (%d), Violations %d; want %d not a mux, %d violations",
				stage, snap.NotMux, snap.NotMuxBy[wirekind.TLS], snap.ViolationsBy, by, snap.Violations, notMux, violations)
		}
	}
	var scripts []*script
	for range 3 {
		sc := openSession(reg, 1)
		scripts = append(scripts, sc)
		sc.s.Violation(c2s, at(0), &decoder.Violation{Code: decoder.BadVersion, Header: tls})
		sc.s.Violation(s2c, at(0), &decoder.Violation{Code: decoder.BadVersion, Offset: 16, Header: decoder.Header{9}})
	}
	check("tracked", 3, 3)
	for _, sc := range scripts {
		sc.s.End(at(100), live.EOF, nil)
	}
	if got := reg.Snapshot().Forgotten.Sessions; got != 2 {
		t.Fatalf("forgotten %d sessions, want 2", got)
	}
	check("forgotten", 3, 3)
	late := openSession(reg, 1)
	late.s.End(at(100), live.EOF, nil)
	openSession(reg, 1).s.End(at(100), live.EOF, nil) // late's session forgotten
	late.s.Violation(c2s, at(200), &decoder.Violation{Code: decoder.BadVersion, Header: tls})
	check("late", 4, 3)
}
