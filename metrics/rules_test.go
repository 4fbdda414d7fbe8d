package metrics_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// The alert rules shipped with muxtop, and their unit tests.
const (
	rulesDir   = "../prometheus"
	rulesFile  = "muxtop.rules.yml"
	rulesTests = "muxtop.rules.test.yml"
)

// needPromtool returns promtool's path, skipping the test when it is not
// installed, unless MUXTOP_REQUIRE_PROMETHEUS (set by .ci/run) says it
// must run.
func needPromtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	if os.Getenv("MUXTOP_REQUIRE_PROMETHEUS") != "" {
		t.Fatal("promtool is not installed, and MUXTOP_REQUIRE_PROMETHEUS (set by .ci/run) says it must run")
	}
	t.Skip("promtool is not installed (apt-get install prometheus)")
	return ""
}

// TestAlertRules runs `promtool check rules` on the rules file and
// `promtool test rules` on its unit tests, in which every alert fires on
// its fault and stays quiet on a healthy series.
func TestAlertRules(t *testing.T) {
	promtool := needPromtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTests}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = rulesDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertRulesNameRealMetrics: every metric and code the rules name is
// one the collector exports, so a renamed metric cannot leave an alert
// that never fires (promtool checks only the syntax).
func TestAlertRulesNameRealMetrics(t *testing.T) {
	b, err := os.ReadFile(rulesDir + "/" + rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	pr := prometheus.NewRegistry()
	// An attach's collector: its upstream series are MuxtopUpstreamDown's.
	up := func() live.Upstream { return live.Upstream{Addr: "127.0.0.1:9000"} }
	// With plain or JSON output: muxtop_output_missed_records_total.
	missed := func() uint64 { return 0 }
	pr.MustRegister(metrics.NewCollector(reg, metrics.Options{Upstream: up, OutputMissed: missed}))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	codes := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" {
					codes[l.GetValue()] = true
				}
			}
		}
	}
	rules := string(b)
	for _, n := range regexp.MustCompile(`muxtop_[a-z_]+`).FindAllString(rules, -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
		if !names[base] {
			t.Errorf("the rules name %s, which the collector does not export", n)
		}
	}
	for _, m := range regexp.MustCompile(`code(?:=|!=|=~|!~)"([A-Za-z_|]+)"`).FindAllStringSubmatch(rules, -1) {
		for _, c := range strings.Split(m[1], "|") {
			if !codes[c] {
				t.Errorf("the rules name the code %s, which no metric carries", c)
			}
		}
	}
}

// TestRuleTestsUseRealSeverities: the findings series the rules' unit
// tests feed promtool carry the severity label the collector gives their
// code, so that a test does not pass on a series muxtop never exports.
func TestRuleTestsUseRealSeverities(t *testing.T) {
	b, err := os.ReadFile(rulesDir + "/" + rulesTests)
	if err != nil {
		t.Fatal(err)
	}
	// muxtop_findings_open, _opened_total and _resolved_total have a
	// series for each of the code's Severities.
	sevs := map[string][]string{}
	for code := live.FindingCode(1); code < live.NumFindingCodes; code++ {
		for _, s := range code.Severities() {
			sevs[code.String()] = append(sevs[code.String()], s.String())
		}
	}
	series := regexp.MustCompile(`(muxtop_findings_(?:open|opened_total|resolved_total))\{code="([A-Z_]+)",severity="([a-z]+)"`)
	n := 0
	for _, m := range series.FindAllStringSubmatch(string(b), -1) {
		n++
		if want, ok := sevs[m[2]]; !ok || !slices.Contains(want, m[3]) {
			t.Errorf("%s: %s{code=%q} has severity %q; the collector's are %q", rulesTests, m[1], m[2], m[3], want)
		}
	}
	if n == 0 {
		t.Fatalf("no findings series in %s", rulesTests)
	}
}
