package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// findingSeries checks that a warning code's series (open, opened and
// resolved) are there, at 0, before any finding, and returns a check of
// their values at a later step, when.
func findingSeries(t *testing.T, col prometheus.Collector, code string) func(when string, open, opened, resolved float64) {
	t.Helper()
	labels := `{code=` + code + `,severity=warning}`
	names := [3]string{`muxtop_findings_open` + labels, `muxtop_findings_opened_total` + labels, `muxtop_findings_resolved_total` + labels}
	m := scrape(t, col)
	if _, ok := m[names[0]]; !ok {
		t.Fatalf("no %s series before any finding", names[0])
	}
	if m[names[0]] != 0 || m[names[1]] != 0 || m[names[2]] != 0 {
		t.Fatalf("before: %v %v %v", m[names[0]], m[names[1]], m[names[2]])
	}
	return func(when string, open, opened, resolved float64) {
		t.Helper()
		m := scrape(t, col)
		if m[names[0]] != open || m[names[1]] != opened || m[names[2]] != resolved {
			t.Errorf("%s: open %v, opened %v, resolved %v; want %v, %v, %v", when, m[names[0]], m[names[1]], m[names[2]], open, opened, resolved)
		}
	}
}
