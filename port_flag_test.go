package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadSniffPortRejected: --port 0, or a number no port is, is one
// line that says what --port takes, exit 2, as other bad flags are. --port
// 0 was taken as no --port (every connection), and 70000 or -1 were
// strconv's error.
func TestReadSniffPortRejected(t *testing.T) {
	capFile := filepath.Join("capture", "testdata", "base-v2.pcapng")
	for _, tc := range []struct {
		port string
		args []string
	}{
		{"0", []string{"read", capFile, "--port", "0", "-o", "plain"}},
		{"70000", []string{"read", capFile, "--port", "70000", "-o", "plain"}},
		{"-1", []string{"read", capFile, "--port=-1", "-o", "plain"}},
		{"0", []string{"sniff", "--port", "0", "-o", "plain", "--duration", "1ms"}},
		{"65536", []string{"sniff", "--port", "65536", "-o", "plain", "--duration", "1ms"}},
	} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		want := "muxtop: " + tc.args[0] + ": --port " + tc.port + ": give the port the server listens on, 1 to 65535 (leave --port out for every port)\n"
		if code != 2 || stderr.String() != want || stdout.String() != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and %q", tc.args, code, stderr.String(), stdout.String(), want)
		}
	}
	// Without --port, every port: the capture's session is read.
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"read", capFile, "-o", "plain"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "mux 1") {
		t.Errorf("read without --port: exit %d, %q", code, stdout.String())
	}
}
