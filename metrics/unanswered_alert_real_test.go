package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// findingsOpenLine is a muxtop_findings_open sample of the text
// exposition: its labels and value.
var findingsOpenLine = regexp.MustCompile(`(?m)^muxtop_findings_open\{([^}]*)\} (\S+)$`)

// ruleExpr returns the expr of the alert rule named alert in the rules
// file.
func ruleExpr(t *testing.T, alert string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rulesDir, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*- alert: ` + alert + `\n\s*expr: (.+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no rule %s with an expr in %s", alert, rulesFile)
	}
	return strings.TrimSpace(string(m[1]))
}

// ruleAnnotations returns the summary and description of the alert rule
// named alert, as the rules file spells them between double quotes.
func ruleAnnotations(t *testing.T, alert string) (summary, description string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rulesDir, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)- alert: ` + alert + `\n.*?(?:- alert:|\z)`).Find(b)
	sm := regexp.MustCompile(`(?m)^\s*summary: "(.*)"$`).FindSubmatch(block)
	dm := regexp.MustCompile(`(?m)^\s*description: "(.*)"$`).FindSubmatch(block)
	if sm == nil || dm == nil {
		t.Fatalf("no double-quoted summary and description of %s in %s", alert, rulesFile)
	}
	return string(sm[1]), string(dm[1])
}

// scrapeURL GETs the metrics at u and returns the exposition.
func scrapeURL(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return string(b)
}

// TestUnansweredSeverityAlertsReal: UNANSWERED of a real session, as the
// metrics endpoint exports it, selected by the alert rule meant for it.
// Real smux v2 and hashicorp/yamux sessions, the client's conn tapped,
// diagnosed (metrics.Diagnose, --leak-after 1 s, --unanswered-after
// 0.5 s) and served over HTTP as muxtop serves them: the client sends 2
// requests, each on a stream of its own, which the server never accepts.
// With keepalive off the server sends nothing at all: UNANSWERED of a
// silent side, scraped as muxtop_findings_open{code="UNANSWERED",
// severity="warning"} 1 (and critical 0). With keepalive on (every
// 100 ms) the server still sends: the ordinary UNANSWERED, critical 1 and
// warning 0. The scraped muxtop_findings_open samples are then fed to
// `promtool test rules` as series held for 2 minutes: MuxtopSilentSide's
// expression selects the silent side's sample and nothing of the
// ordinary one, and MuxtopUnansweredStreams's the reverse; the alert
// meant for it fires, its `for` passed, with the sample's labels and the
// rule's annotations, and the other stays silent. Without promtool the
// scraped severities are still checked, and the rest is skipped (fails
// under MUXTOP_REQUIRE_PROMETHEUS).
func TestUnansweredSeverityAlertsReal(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, name := range []string{"smux-v2", "yamux"} {
		for _, silent := range []bool{true, false} {
			t.Run(name+"/"+map[bool]string{true: "silent-side", false: "server-still-sends"}[silent], func(t *testing.T) {
				t.Parallel() // real time on a pair of its own
				reg := live.New(live.Config{})
				pc := livecaptest.PairConfig{GiveUp: time.Minute}
				if !silent {
					pc.Keepalive = 100 * time.Millisecond
				}
				m := livecaptest.RealPair(t, name, reg, pc)
				t.Cleanup(metrics.Diagnose(reg, cfg))
				g, err := metrics.Gatherer(reg, metrics.Options{})
				if err != nil {
					t.Fatal(err)
				}
				srv, err := metrics.Serve("127.0.0.1:0", metrics.Handler(g))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { srv.Close() })
				for i := range 2 { // the server never accepts them
					st, err := m.Cli.OpenStream()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := fmt.Fprintf(st, "REQ %d\n", i); err != nil {
						t.Fatal(err)
					}
				}
				sev, other := "critical", "warning"
				if silent {
					sev, other = other, sev
				}
				// Scraped every 100 ms until the finding shows.
				var body string
				samples := map[string]float64{}
				for end := time.Now().Add(10 * time.Second); samples[sev] != 1 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
					body = scrapeURL(t, srv.URL())
					clear(samples)
					for _, l := range findingsOpenLine.FindAllStringSubmatch(body, -1) {
						if strings.Contains(l[1], `code="UNANSWERED"`) {
							v, err := strconv.ParseFloat(l[2], 64)
							if err != nil {
								t.Fatalf("muxtop_findings_open{%s} %s: %v", l[1], l[2], err)
							}
							s := regexp.MustCompile(`severity="([a-z]+)"`).FindStringSubmatch(l[1])
							if s == nil {
								t.Fatalf("muxtop_findings_open{%s}: no severity", l[1])
							}
							samples[s[1]] = v
						}
					}
				}
				var fs []string
				for _, f := range reg.Snapshot().Findings {
					fs = append(fs, fmt.Sprintf("%s %s silent=%v: %s", f.Code, f.Severity, f.Evidence.Silent, f.Text))
				}
				if samples[sev] != 1 || samples[other] != 0 {
					t.Fatalf("scraped UNANSWERED %v, want %s 1 and %s 0; findings: %q", samples, sev, other, fs)
				}
				if f := reg.Snapshot().Findings; len(f) != 1 || f[0].Code != live.CodeUnanswered || f[0].Evidence.Silent != silent {
					t.Fatalf("findings %q: want the one UNANSWERED, silent %v", fs, silent)
				}

				promtool := needPromtool(t)
				dir := t.TempDir()
				rules, err := filepath.Abs(filepath.Join(rulesDir, rulesFile))
				if err != nil {
					t.Fatal(err)
				}
				var series strings.Builder
				var scraped string
				for _, l := range findingsOpenLine.FindAllStringSubmatch(body, -1) {
					s := fmt.Sprintf(`muxtop_findings_open{%s,instance="muxtop:9100",job="muxtop"}`, l[1])
					fmt.Fprintf(&series, "  - series: '%s'\n    values: '%sx3'\n", s, l[2])
					if strings.Contains(l[1], `code="UNANSWERED"`) && strings.Contains(l[1], `severity="`+sev+`"`) {
						scraped = s
					}
				}
				selects := map[string]string{"MuxtopSilentSide": "warning", "MuxtopUnansweredStreams": "critical"}
				var exprs, alerts strings.Builder
				for _, alert := range []string{"MuxtopSilentSide", "MuxtopUnansweredStreams"} {
					fmt.Fprintf(&exprs, "  - expr: '%s'\n    eval_time: 2m\n    exp_samples:", ruleExpr(t, alert))
					if selects[alert] == sev {
						fmt.Fprintf(&exprs, "\n    - labels: '%s'\n      value: 1\n", scraped)
						summary, description := ruleAnnotations(t, alert)
						fmt.Fprintf(&alerts, "  - eval_time: 2m\n    alertname: %s\n    exp_alerts:\n    - exp_labels:\n        instance: muxtop:9100\n        job: muxtop\n"+
							"        code: UNANSWERED\n        severity: %s\n      exp_annotations:\n        summary: \"%s\"\n        description: \"%s\"\n",
							alert, sev, strings.ReplaceAll(summary, "{{ $labels.instance }}", "muxtop:9100"), description)
					} else {
						exprs.WriteString(" []\n")
						fmt.Fprintf(&alerts, "  - eval_time: 2m\n    alertname: %s\n    exp_alerts: []\n", alert)
					}
				}
				test := fmt.Sprintf("rule_files:\n- %s\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n%s  promql_expr_test:\n%s  alert_rule_test:\n%s",
					rules, series.String(), exprs.String(), alerts.String())
				path := filepath.Join(dir, "scraped.test.yml")
				if err := os.WriteFile(path, []byte(test), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
					t.Errorf("promtool test rules on the scraped series: %v\n%s\n%s", err, out, test)
				}
			})
		}
	}
}
