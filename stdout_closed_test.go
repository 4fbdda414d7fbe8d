package main

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestStdoutReaderGone: muxtop demo --write FILE -o plain | head -1. The
// reader of stdout goes away after the first record: the next write fails
// (EPIPE), which stops the run as ctrl+c does, the --write file flushed
// and closed, quietly, exit 0. Before, SIGPIPE killed muxtop (exit 141)
// and left the file empty: "the file is empty or too short to be a
// capture".
func TestStdoutReaderGone(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGPIPE on Windows")
	}
	t.Parallel() // mostly waiting, on a demo of its own
	bin := muxtopBinary(t)
	for _, output := range []string{"plain", "json"} {
		t.Run(output, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "w.pcapng")
			cmd := exec.Command(bin, "demo", "--write", file, "-o", output, "--duration", "5m", "--pool", "2")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut syncBuffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
				cmd.Process.Kill()
				t.Fatalf("no first record: %v: %s", err, errOut.String())
			}
			out.Close() // head -1 exits
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("demo -o %s | head -1: %v, want exit 0: %s", output, err, errOut.String())
				}
			case <-time.After(time.Minute): // far short of its --duration 5m
				cmd.Process.Kill()
				t.Fatalf("demo -o %s | head -1 did not end after its reader went away", output)
			}
			if s := errOut.String(); strings.Contains(s, "broken pipe") {
				t.Errorf("stderr says the broken pipe: %q", s)
			}
			var stdout, stderr syncBuffer
			if code := run(context.Background(), []string{"read", file, "-o", "json"}, &stdout, &stderr); code != 0 {
				t.Fatalf("read of the --write file: exit %d: %s", code, stderr.String())
			}
			if s := parseJSON(t, stdout.String()).summary; s["sessions"] == nil || s["sessions"].(float64) < 1 {
				t.Errorf("read of the --write file: %v sessions, want the demo's", s["sessions"])
			}
		})
	}
}
