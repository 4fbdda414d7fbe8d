package main

import (
	"bufio"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestOnlyStdoutReaderGone: muxtop demo -o json --only KINDS | head -1,
// where the kinds asked for are rare: the reader of stdout goes away, and
// muxtop writes nothing more for long, so no write fails. It still ends,
// as | head without --only does (TestStdoutReaderGone): quietly, exit 0.
// Before, it ran until its --duration: "did not end after its reader went
// away".
func TestOnlyStdoutReaderGone(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("a reader gone is seen without a write on Linux and darwin only")
	}
	t.Parallel() // mostly waiting, on demos of their own
	bin := muxtopBinary(t)
	for _, c := range []struct {
		name, only string
		lines      int // read before the reader goes away
	}{
		// The pool's two sessions open at once and stay: one line, then
		// nothing more of the kind asked for.
		{"sessions after one line", "sessions", 1},
		{"findings after none", "findings", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, "demo", "-o", "json", "--only", c.only, "--pool", "2", "--duration", "5m")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut syncBuffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(out)
			for range c.lines {
				if _, err := r.ReadString('\n'); err != nil {
					cmd.Process.Kill()
					t.Fatalf("no line: %v: %s", err, errOut.String())
				}
			}
			out.Close() // the reader goes away
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("demo --only %s | head: %v, want exit 0: %s", c.only, err, errOut.String())
				}
			case <-time.After(time.Minute): // far short of its --duration 5m
				cmd.Process.Kill()
				<-done
				t.Fatalf("demo --only %s did not end after its reader went away: %s", c.only, errOut.String())
			}
		})
	}
}
