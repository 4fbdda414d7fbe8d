package metrics_test

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// TestAlertRulesCompareOnBucketEdges: the rules compare the latency and
// ping histograms with a threshold only as the share of observations
// over a bucket edge the collector exports (its le, as the exposition
// writes it), never as a histogram_quantile: the buckets are octaves,
// and a quantile interpolated inside one compared with a threshold off
// an edge may be off by up to 2× (replies of 0.6 s made a p99 of 1.068 s
// that fired a "> 1" rule). An le that is no bucket's would select
// nothing, and the alert would never fire.
func TestAlertRulesCompareOnBucketEdges(t *testing.T) {
	b, err := os.ReadFile(rulesDir + "/" + rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := string(b)
	if regexp.MustCompile(`(?m)^\s*expr:.*histogram_quantile`).MatchString(rules) {
		t.Errorf("%s compares a histogram_quantile with a threshold: an interpolated quantile in an octave-wide bucket is off by up to 2×; compare the share over a bucket edge", rulesFile)
	}
	edges := map[string]bool{}
	m := scrape(t, metrics.NewCollector(live.New(live.Config{}), metrics.Options{}))
	for k := range m {
		if sub := regexp.MustCompile(`_bucket\{le=([^}]+)\}$`).FindStringSubmatch(k); sub != nil {
			v, err := strconv.ParseFloat(sub[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			edges[strconv.FormatFloat(v, 'g', -1, 64)] = true // as the text exposition writes le
		}
	}
	n := 0
	for _, sel := range regexp.MustCompile(`(muxtop_[a-z_]+)_bucket(\{[^}]*\})?`).FindAllStringSubmatch(rules, -1) {
		le := regexp.MustCompile(`le="([^"]*)"`).FindStringSubmatch(sel[2])
		if le == nil {
			t.Errorf("%s: %s selects every bucket: compare the share over one edge (le)", rulesFile, sel[0])
			continue
		}
		n++
		if !edges[le[1]] {
			t.Errorf("%s: %s: le=%q is no bucket edge the collector exports", rulesFile, sel[0], le[1])
		}
	}
	if n == 0 {
		t.Errorf("%s compares no histogram over a bucket edge", rulesFile)
	}
}
