package tui

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
)

// TestHeaderViolationsAsSummary: the fixture holds one framing violation
// (a BAD_VERSION that ended session 3) and one anomaly (a PSH for stream
// 99, which never existed). The plain summary says "violations 1
// framing, 1 anomalies", /metrics muxtop_violations_total 1 and
// muxtop_anomalies_total 1; the header's counts bar said "violations 2"
// ("viol 2" at 80 columns), the two added up under the name the other
// front ends give the framing ones alone. Now it gives each its own
// count under its own name, at 160 columns and at 80.
func TestHeaderViolationsAsSummary(t *testing.T) {
	c := fixture()
	var plain bytes.Buffer
	headless.WriteSummary(&plain, headless.Summarize(c.snapshot(live.SnapshotOptions{}), 0))
	sum := regexp.MustCompile(`violations (\d+) framing, (\d+) anomalies`).FindStringSubmatch(plain.String())
	if sum == nil {
		t.Fatalf("the plain summary has no violations line:\n%s", plain.String())
	}
	if sum[1] != "1" || sum[2] != "1" {
		t.Fatalf("the fixture's summary says %q, want 1 framing and 1 anomaly", sum[0])
	}
	for _, tc := range []struct {
		w          int
		viol, anom string
	}{
		{160, "violations ", "anomalies "},
		{80, "viol ", "anom "},
	} {
		m := c.model(t, tc.w, 45)
		counts := strings.Split(screenOf(m), "\n")[1]
		for _, want := range []string{tc.viol + sum[1] + " ", tc.anom + sum[2] + " "} {
			if !strings.Contains(counts, want) {
				t.Errorf("%d columns: the summary says %q; the counts bar has no %q:\n%s", tc.w, sum[0], want, counts)
			}
		}
	}
}
