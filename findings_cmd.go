package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// findingsFlags are the thresholds of the findings engine that a user
// tunes; --leak-after and --stall-after are watchFlags' own.
type findingsFlags struct {
	blockedAfter    time.Duration
	unansweredAfter time.Duration
	silentAfter     time.Duration
	closeWaitAfter  time.Duration
	churn           int
	sessionLeak     int
}

func (f *findingsFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.blockedAfter, "blocked-after", live.DefaultBlockedAfter,
		"SESSION_BLOCKED: a write to the connection that has moved no byte for this long, or a tapped end that has not read it, or (read, sniff) a receiver whose TCP window has stayed zero, while streams are open")
	fs.DurationVar(&f.unansweredAfter, "unanswered-after", live.DefaultUnansweredAfter,
		"UNANSWERED: streams with no frame back for this long while the other side still sends (where it has sent nothing since, and no keepalive is seen yet, --leak-after if longer: a warning then); NO_REPLY: the least wait for an answer on a stream reused for request after request (10 times its slowest earlier answer if longer)")
	fs.DurationVar(&f.silentAfter, "silent-after", 0,
		"KEEPALIVE: a direction silent this long, NOPs included (0: 1.5 times its observed keepalive interval, and at least 1 s more than it)")
	fs.DurationVar(&f.closeWaitAfter, "closewait-after", live.DefaultCloseWaitAfter,
		"CLOSE_WAIT: a side that has neither closed its side of the connection nor sent a frame this long after the other closed its own (smux's default keepalive closes such a session within 60 s)")
	fs.IntVar(&f.churn, "churn", live.DefaultChurn,
		fmt.Sprintf("CHURN: this many sessions opened and ended within %v (0: off)", live.ChurnWindow))
	fs.IntVar(&f.sessionLeak, "session-leak", live.DefaultSessionLeak,
		fmt.Sprintf("SESSION_LEAK: this many sessions of one client host and server piled up through a hold of %d idle times (%v; shorter with a shorter --leak-after): each idle (no stream frame for %v, or --leak-after if shorter), dialed while an older one sat idle, in no ended one's place, and opening no stream past its first idle time (0: off)", live.SessionLeakHoldIdles, live.SessionLeakHoldIdles*live.SessionIdleAfter, live.SessionIdleAfter))
}

func (f *findingsFlags) validate() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--blocked-after", f.blockedAfter}, {"--unanswered-after", f.unansweredAfter}, {"--closewait-after", f.closeWaitAfter}} {
		if d.v <= 0 {
			return usageError{fmt.Errorf("%s %v: use a positive duration such as 2s", d.flag, d.v)}
		}
	}
	if f.silentAfter < 0 {
		return usageError{fmt.Errorf("--silent-after %v: use 0 (the keepalive cadence) or a positive duration", f.silentAfter)}
	}
	if f.churn < 0 {
		return usageError{fmt.Errorf("--churn %d: use 0 (off) or a number of sessions", f.churn)}
	}
	if f.sessionLeak < 0 {
		return usageError{fmt.Errorf("--session-leak %d: use 0 (off) or a number of sessions", f.sessionLeak)}
	}
	return nil
}

// findingsConfig returns the engine's thresholds from the flags.
func (w *watchFlags) findingsConfig() live.FindingsConfig {
	f := w.findings
	churn, sessionLeak := f.churn, f.sessionLeak
	if churn == 0 {
		churn = -1 // live reads 0 as the default
	}
	if sessionLeak == 0 {
		sessionLeak = -1
	}
	return live.FindingsConfig{
		LeakAfter: w.leakAfter, StallAfter: w.stallAfter, BlockedAfter: f.blockedAfter,
		UnansweredAfter: f.unansweredAfter, SilentAfter: f.silentAfter, CloseWaitAfter: f.closeWaitAfter, Churn: churn,
		SessionLeak: sessionLeak,
	}
}

// startFindings evaluates reg's findings every metrics.EvaluateEvery
// until the returned stop is called, which waits for the loop to end.
// Every front end gets the findings this way; stop comes before the
// watched system is shut down, so that its shutdown is not diagnosed.
func startFindings(reg *live.Registry, cfg live.FindingsConfig) (stop func()) {
	return metrics.Diagnose(reg, cfg)
}
