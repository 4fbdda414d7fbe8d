package main

import (
	"context"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/tap"
)

// TestReadToldOverride: read's --protocol, --skip and --prefix override
// what a capture's taps were told (its pcapng comment "muxtop told: …"),
// as the README says: any of them, all of the protocol and prefix told.
// An smux client tapped with tap.WithProtocol(tap.Yamux): read decodes
// it as yamux, as the tap did (PROTOCOL, "its tap told yamux"); with
// --protocol smux, as smux, healthy. A yamux client that sends no
// prefix, tapped with tap.WithProtocol(tap.Yamux) and tap.Skip(1): read
// skips the byte as the tap did (PROTOCOL, naming tap.Skip(1)); with
// --protocol yamux the told skip goes too and it decodes healthy from
// the first byte; with --port N --prefix 00 (yamux's version byte) the
// flag's prefix is skipped, and the finding names the flag.
func TestReadToldOverride(t *testing.T) {
	toldYamux, _ := toldCapture(t, false, tap.WithProtocol(tap.Yamux))
	toldSkip, port := toldCapture(t, true, tap.WithProtocol(tap.Yamux), tap.Skip(1))
	for _, tc := range []struct {
		name, path string
		args       []string
		want       string // the PROTOCOL finding's text and advice say it; "" for no finding
	}{
		{"told yamux", toldYamux, nil, "its tap told yamux"},
		{"told yamux, --protocol smux", toldYamux, []string{"--protocol", "smux"}, ""},
		{"told skip", toldSkip, nil, "skipped by tap.Skip(1)"},
		{"told skip, --protocol yamux", toldSkip, []string{"--protocol", "yamux"}, ""},
		{"told skip, --prefix 00", toldSkip, []string{"--port", port, "--prefix", "00"}, "skipped by --prefix 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := readFindings(t, tc.path, tc.args...)
			if tc.want == "" {
				// Healthy, and decoded: the session's three streams, no
				// violation.
				var stdout, stderr syncBuffer
				if code := run(context.Background(), append([]string{"read", tc.path, "-o", "json"}, tc.args...), &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				sum := parseJSON(t, stdout.String()).summary
				if len(fs) != 0 || sum["sessions"] != 1.0 || sum["streams_opened"] != 3.0 || sum["violations"] != 0.0 {
					t.Errorf("read %v: findings %v, %v sessions, %v streams, %v violations; want none, 1 session, its 3 streams, no violation: the flag decodes the connection as its ends speak",
						tc.args, fs, sum["sessions"], sum["streams_opened"], sum["violations"])
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("read %v: %d findings, want one PROTOCOL: %v", tc.args, len(fs), fs)
			}
			text, advice := fs[0]["text"].(string), fs[0]["advice"].(string)
			t.Logf("read %v: %s — %s", tc.args, text, advice)
			if fs[0]["code"] != "PROTOCOL" || !strings.Contains(text, tc.want) {
				t.Errorf("read %v: %v %q — %q; want it to say %q", tc.args, fs[0]["code"], text, advice, tc.want)
			}
		})
	}
}
