//go:build unix

package main

import (
	"syscall"
	"testing"
	"time"
)

// TestStoppedMuxtopOpensNoFinding: muxtop stopped for 3 s (ctrl-Z, then
// fg; SIGSTOP and SIGCONT here) with the demo in it, whose keepalive is 1 s,
// stood still with what it watches: nothing was silent, and no finding
// opens. Judged at once on waking, every session's every direction was
// KEEPALIVE (10 to 20 findings in each of three runs before
// metrics.Diagnose waited metrics.CatchUp after a pause).
func TestStoppedMuxtopOpensNoFinding(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	r := startRun(t, "demo", "--keepalive", "1s", "--http", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--duration", "40s")
	r.waitFor("answered requests", 20*time.Second, func(recs []map[string]any) bool { return firstPayload(recs, 1, "s2c", "") != nil })
	time.Sleep(1500 * time.Millisecond) // keepalive NOPs both ways: the cadence is known
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // past CatchUp, and time for a finding to open
	recs := r.stop()
	for _, m := range ofType(recs, "finding-opened") {
		t.Errorf("a finding opened after muxtop was stopped: %s %v %v: %v", m["code"], m["session"], m["dir"], m["text"])
	}
	if n := len(ofType(recs, "frame")); n < 100 {
		t.Errorf("%d frames: the demo did not run", n)
	}
}
