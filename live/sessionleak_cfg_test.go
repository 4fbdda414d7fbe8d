package live_test

import (
	"time"

	"github.com/muxtop/muxtop/live"
)

// pileStateCfg is pileCfg with threshold n and hold hold (0: the
// default, 12 idle times, 3.6 s).
func pileStateCfg(n int, hold time.Duration) live.FindingsConfig {
	return live.FindingsConfig{LeakAfter: 300 * time.Millisecond, Churn: -1, SessionLeak: n, SessionLeakHold: hold}
}
