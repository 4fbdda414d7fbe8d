package live_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestSessionLeakClosedEachReal: a client whose every session is closed
// by the client once its work is done, however long it sat idle first,
// leaks nothing. 12 workers, started 200 ms apart, each dialing a
// session, making one request on it and closing it, over and over, each
// session idle 2.1 s (7 T) before its Close: the server answers after
// 2.1 s (a slow server, a long poll: the stream waits, no frame
// crosses), or answers at once and the worker works 2.1 s on the answer
// before closing. The hold is the default, 12 T (3.6 s). Workers dial
// beside each other's idle sessions, so the first round's sessions pile,
// but each session closed by its client leaves a place that the next
// dial fills: the pile is gone 2.1 s after it formed, and SESSION_LEAK
// never opens (it did, at 8 or more piled, while every session was
// closed: a dial beside an idle session counted as a leak's).
func TestSessionLeakClosedEachReal(t *testing.T) {
	t.Parallel()
	for _, slow := range []bool{true, false} {
		for _, p := range growProtos {
			name := p + "/task"
			ans := growAnswer(0)
			if slow {
				name, ans = p+"/slow answer", growAnswer(2100*time.Millisecond)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				recs := growRun(t, p, 1, pileStateCfg(5, 0), 9*time.Second, true, ans, nil, func(ctx context.Context, e *growEnv) {
					var wg sync.WaitGroup
					for w := range 12 {
						wg.Go(func() {
							if !pileWait(ctx, time.Duration(w)*200*time.Millisecond) {
								return
							}
							for ctx.Err() == nil {
								cli := e.dial(0)
								growAsk(cli, true)
								if !slow {
									pileWait(ctx, 2100*time.Millisecond)
								}
								cli.Close()
							}
						})
					}
					wg.Wait()
				})
				if len(recs) != 0 {
					t.Errorf("sessions each closed by its client after 2.1 s idle opened SESSION_LEAK:%s", describeRecords(recs))
				}
			})
		}
	}
}
