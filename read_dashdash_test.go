package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadDashDash: a -- before the files ends read's flags, not its
// files: read -- -weird.pcapng reads a file whose name begins with -, and
// the files after -- end where the filter begins, at its first word or at
// another --, as they do without it; a -- after files still begins the
// filter. The capture is the real yamux traffic of base-yamux. Before,
// every argument after a leading -- was taken for the filter: `read takes
// a capture file, such as cap.pcap, or - for standard input, before the
// filter`, exit 2, as it was not before several files were read.
func TestReadDashDash(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("capture", "testdata", "base-yamux.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := filepath.Abs(filepath.Join("capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	whole := readPlain(t, src)
	m := regexp.MustCompile(`session opened \S+ → \S+:(\d+)`).FindStringSubmatch(whole)
	if m == nil {
		t.Fatalf("no session opened in:\n%s", whole)
	}
	port := m[1]
	filtered := readPlain(t, src, "port", port)
	both := readPlain(t, src, other, "port", port)
	if !strings.Contains(filtered, "sessions  1 (") || !strings.Contains(both, "sessions  1 (") {
		t.Fatalf("read port %s picks no session of base-yamux", port)
	}

	t.Chdir(t.TempDir()) // not parallel: the name must begin with -
	if err := os.WriteFile("-weird.pcapng", b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--", "-weird.pcapng"}, whole},
		{[]string{"--", "-weird.pcapng", "port", port}, filtered},
		{[]string{"--", "-weird.pcapng", "--", "port", port}, filtered},
		{[]string{"--", "-weird.pcapng", other, "port", port}, both},
		{[]string{"--", src, "port", port}, filtered},
		{[]string{src, "--", "port", port}, filtered},
		{[]string{src, other, "--", "port", port}, both},
	} {
		if got := readPlain(t, tc.args...); got != tc.want {
			t.Errorf("read %q: %d bytes of output, %s; want %d bytes, %s", tc.args, len(got), sessionsOf(t, got), len(tc.want), sessionsOf(t, tc.want))
		}
	}
	// Nothing but a filter after --, and - with files after it, are the
	// usage errors they are without --; a file whose name begins with -
	// given without -- is the flag error it is, and says to put -- first.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--", "port", port}, "muxtop: read takes a capture file, such as cap.pcap, - for standard input, or a URL, before the filter"},
		{[]string{"--", "-", "-weird.pcapng"}, "muxtop: read -: standard input is read alone; give capture files, or -, not both"},
		{[]string{"-weird.pcapng"}, "muxtop: unknown shorthand flag: 'w' in -weird.pcapng; to read the file -weird.pcapng, put -- before the files: muxtop read -- -weird.pcapng"},
		{[]string{src, "-weird.pcapng"}, "muxtop: unknown shorthand flag: 'w' in -weird.pcapng; to read the file -weird.pcapng, put -- before the files: muxtop read -- -weird.pcapng"},
		{[]string{"-x"}, "muxtop: unknown shorthand flag: 'x' in -x: see muxtop read --help"},
	} {
		code, _, errs := readCode(t, append([]string{"-o", "plain"}, tc.args...)...)
		if code != 2 || len(errs) != 1 || errs[0] != tc.want {
			t.Errorf("read %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}
