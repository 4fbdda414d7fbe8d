package metrics_test

import (
	"testing"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// TestOutputMissedSeries: Options.OutputMissed is exported as
// muxtop_output_missed_records_total, with its value; without it the
// series is absent. Before, the records a slow output missed were in no
// metric: "muxtop_output_missed_records_total = 0 (present false), want 37555".
func TestOutputMissedSeries(t *testing.T) {
	const name = "muxtop_output_missed_records_total"
	got := scrape(t, metrics.NewCollector(live.New(live.Config{}), metrics.Options{OutputMissed: func() uint64 { return 37555 }}))
	if g, ok := got[name]; !ok || g != 37555 {
		t.Errorf("%s = %v (present %v), want 37555", name, g, ok)
	}
	if _, ok := scrape(t, metrics.NewCollector(live.New(live.Config{}), metrics.Options{}))[name]; ok {
		t.Errorf("%s without Options.OutputMissed", name)
	}
}
