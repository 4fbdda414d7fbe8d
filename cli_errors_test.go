package main

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"
)

// TestFlagErrorsOneClearLine checks that a bad flag value, an unknown
// flag or command, or a flag without its value is one line that says
// what to give, not pflag's Go error chain, with exit status 2; and so is
// input that means nothing, or not what it says, not run as if it had not
// been given: an --only kind that is none, --only with the UI, a negative --write-limit with no --write, --smux-version
// over yamux, an empty -i, a capture file given twice.
func TestFlagErrorsOneClearLine(t *testing.T) {
	capFile := "capture/testdata/base-v1.pcapng"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "--duration", "5"}, 2, "muxtop: --duration 5: give a unit, such as 5s or 5m\n"},
		{[]string{"demo", "--duration", "2.5"}, 2, "muxtop: --duration 2.5: give a unit, such as 2.5s or 2.5m\n"},
		{[]string{"demo", "--duration", "inf"}, 2, "muxtop: --duration inf: give a duration, such as 5s, 2m or 1h30m\n"},
		{[]string{"demo", "--duration", "1e3"}, 2, "muxtop: --duration 1e3: give a duration, such as 5s, 2m or 1h30m\n"},
		{[]string{"demo", "--duration", "soon"}, 2, "muxtop: --duration soon: give a duration, such as 5s, 2m or 1h30m\n"},
		{[]string{"demo", "--rate", "abc"}, 2, "muxtop: --rate abc: give a whole number\n"},
		{[]string{"demo", "--duration"}, 2, "muxtop: --duration needs a value: --duration VALUE (see muxtop demo --help)\n"},
		{[]string{"demo", "--bogus"}, 2, "muxtop: unknown flag: --bogus: see muxtop demo --help\n"},
		{[]string{"read", "cap.pcap", "--write", "out.pcapng"}, 2, "muxtop: unknown flag: --write: --write is a flag of muxtop attach, demo, demo client, demo server and sniff, not of muxtop read\n"},
		{[]string{"read", "-i", "eth0"}, 2, "muxtop: unknown shorthand flag: 'i' in -i: -i is a flag of muxtop sniff, not of muxtop read\n"},
		{[]string{"atach", ":9000"}, 2, `muxtop: unknown command "atach" for "muxtop": did you mean muxtop attach?` + "\n"},
		{[]string{"completion", "nosh"}, 2, `muxtop: completion "nosh": no such shell; use bash, fish, powershell, zsh` + "\n"},
		{[]string{"demo", "--write-limit", "-1", "-o", "plain"}, 2, "muxtop: --write-limit -1: use a positive number of MiB\n"},
		{[]string{"attach", ":9000", "--write-limit", "5", "-o", "plain"}, 2, "muxtop: --write-limit needs --write FILE\n"},
		{[]string{"demo", "--protocol", "yamux", "--smux-version", "2", "-o", "plain"}, 2, "muxtop: --smux-version 2 is smux's: over --protocol yamux only --fault mismatch uses it; drop it, or use --protocol smux\n"},
		{[]string{"demo", "--only", "finding", "-o", "json"}, 2, `muxtop: --only "finding" is not a kind of record: use frames, sessions, violations, resyncs, notices or findings, joined by commas` + "\n"},
		{[]string{"attach", ":9000", "--only", "findings", "-o", "tui"}, 2, "muxtop: --only selects what plain and json output print; the UI (--output tui, the default on a terminal) shows every record: add --output plain or --output json\n"},
		{[]string{"sniff", "-i", "", "-o", "plain"}, 2, `muxtop: -i "": give an interface, such as -i eth0 or -i any (see ip link)` + "\n"},
		{[]string{"read", capFile, capFile, "-o", "plain"}, 2, "muxtop: read: " + capFile + " is given twice: its packets would count twice; give it once\n"},
		{[]string{"read", capFile, "./" + capFile, "port", "9000"}, 2, "muxtop: read: " + capFile + " and ./" + capFile + " are the same file: its packets would count twice; give it once\n"},
	} {
		// An input accepted runs (a demo, a sniff): stopped after 30 s,
		// its exit then says it was not refused.
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, tc.args, &stdout, &stderr) }()
		var code int
		select {
		case code = <-done:
		case <-time.After(30 * time.Second):
			cancel()
			code = <-done
		}
		cancel()
		if code != tc.code || stderr.String() != tc.want {
			t.Errorf("muxtop %q: exit %d, stderr %q; want %d, %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
		if strings.ContainsFunc(strings.TrimSuffix(stderr.String(), "\n"), unicode.IsControl) {
			t.Errorf("muxtop %q: stderr %q is more than one line", tc.args, stderr.String())
		}
	}
}

// TestVersionFlag checks --version, which users try first, prints what
// version does.
func TestVersionFlag(t *testing.T) {
	var flag, cmd, stderr syncBuffer
	if code := run(context.Background(), []string{"--version"}, &flag, &stderr); code != 0 {
		t.Fatalf("--version: exit %d, stderr %q", code, stderr.String())
	}
	run(context.Background(), []string{"version"}, &cmd, &stderr)
	if flag.String() != cmd.String() || !strings.HasPrefix(flag.String(), "muxtop ") {
		t.Errorf("--version printed %q, version %q", flag.String(), cmd.String())
	}
}
