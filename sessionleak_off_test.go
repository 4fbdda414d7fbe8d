package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/live"
)

// TestSessionLeakOffFromStart: --session-leak 0 (off, as the README and
// --help say) from the start: twelve idle sessions from one host, opened
// 10 s apart, each after the first opened while an older one sat idle,
// piled through the hold three times over, open nothing; with the flag left
// out (10), the same pile opens SESSION_LEAK, so the silence is the
// flag's. The config is the one the flags give the engine
// (watchFlags.findingsConfig), where live reads 0 as the default.
func TestSessionLeakOffFromStart(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		args []string
		open bool
	}{{nil, true}, {[]string{"--session-leak", "0"}, false}} {
		var w watchFlags
		cmd := &cobra.Command{}
		w.register(cmd)
		if err := cmd.Flags().Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if err := w.findings.validate(); err != nil {
			t.Fatal(err)
		}
		cfg := w.findingsConfig()
		reg := live.New(live.Config{})
		for i := range 12 {
			reg.Open(live.SessionInfo{Client: "10.0.0.7:" + strconv.Itoa(40000+i), Server: "10.0.0.1:9000"}, base.Add(time.Duration(i)*10*time.Second))
		}
		for s := 120; s <= 300; s += 10 { // the hold, 60 s, from 120 s on: three times over
			reg.Evaluate(base.Add(time.Duration(s)*time.Second), cfg)
		}
		snap := reg.Snapshot()
		var leaks int
		for _, f := range append(snap.Findings, snap.Resolved...) {
			if f.Code == live.CodeSessionLeak {
				leaks++
			}
		}
		if opened := snap.FindingsOpenedBy[live.CodeSessionLeak][live.Warning]; tc.open && (leaks != 1 || opened != 1) {
			t.Errorf("%v: 11 piled through the hold: %d SESSION_LEAK findings (%d opened), want 1", tc.args, leaks, opened)
		} else if !tc.open && (leaks != 0 || snap.FindingsOpened != 0) {
			t.Errorf("%v: %d SESSION_LEAK findings, %d findings opened in all; want none: it is off", tc.args, leaks, snap.FindingsOpened)
		}
	}
}
