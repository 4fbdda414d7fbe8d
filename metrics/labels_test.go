package metrics_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// TestConstLabelsInvalid: const labels that make no valid series are
// Gatherer's error and the Collector's Err, naming the label, never a
// panic: __name__ made MustRegister panic ("is not a valid label name").
// Names a scraper would read as another ("a-b" as a_b, "1a" as _a) are
// refused too, as are the reserved ones and values that are not UTF-8.
func TestConstLabelsInvalid(t *testing.T) {
	for _, tc := range []struct {
		labels prometheus.Labels
		want   string
	}{
		{prometheus.Labels{"__name__": "a"}, `"__name__": not a label name`},
		{prometheus.Labels{"__x": "a"}, `"__x": not a label name`},
		{prometheus.Labels{"": "a"}, `"": not a label name`},
		{prometheus.Labels{"1a": "a"}, `"1a": not a label name`},
		{prometheus.Labels{"a-b": "a"}, `"a-b": not a label name`},
		{prometheus.Labels{"é": "a"}, `"é": not a label name`},
		{prometheus.Labels{"svc": "\xff"}, `"svc": value "\xff" is not valid UTF-8`},
		{prometheus.Labels{"code": "a"}, `"code": the series' own labels and the histograms' le are reserved`},
		{prometheus.Labels{"le": "a"}, `"le": the series' own labels`},
		{prometheus.Labels{"a-b": "a", "__name__": "b"}, `"__name__": not a label name`},
	} {
		t.Run(fmt.Sprint(tc.labels), func(t *testing.T) {
			reg := live.New(live.Config{})
			o := metrics.Options{ConstLabels: tc.labels}
			var g *prometheus.Registry
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Gatherer panicked: %v", r)
					}
				}()
				g, err = metrics.Gatherer(reg, o)
			}()
			if err == nil || g != nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "metrics: Options.ConstLabels: ") {
				t.Errorf("Gatherer: %v, %v; want the error %q", g, err, tc.want)
			}
			c := metrics.NewCollector(reg, o)
			if c.Err() == nil || c.Err().Error() != fmt.Sprint(err) {
				t.Errorf("Err() = %v, want Gatherer's %v", c.Err(), err)
			}
			if rerr := prometheus.NewRegistry().Register(c); rerr == nil || !strings.Contains(rerr.Error(), tc.want) {
				t.Errorf("Register: %v, want an error saying %q", rerr, tc.want)
			}
		})
	}
}

// TestConstLabelsValid: good names, and a UTF-8 value, are on every series.
func TestConstLabelsValid(t *testing.T) {
	labels := prometheus.Labels{"svc": "a", "_x": "é", "Shard1": "b"}
	reg := live.New(live.Config{})
	c := metrics.NewCollector(reg, metrics.Options{ConstLabels: labels})
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	g := gatherer(t, reg, metrics.Options{ConstLabels: labels})
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "muxtop_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			n++
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["svc"] != "a" || got["_x"] != "é" || got["Shard1"] != "b" {
				t.Fatalf("%s: labels %v, want %s", mf.GetName(), got, strconv.Quote(fmt.Sprint(labels)))
			}
		}
	}
	if n == 0 {
		t.Fatal("no muxtop series")
	}
}
