package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// needPrometheus returns the path of a Prometheus tool (prometheus,
// promtool), skipping the test when it is not installed, unless
// MUXTOP_REQUIRE_PROMETHEUS (set by .ci/run) says it must run.
func needPrometheus(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if os.Getenv("MUXTOP_REQUIRE_PROMETHEUS") != "" {
		t.Fatalf("%s is not installed, and MUXTOP_REQUIRE_PROMETHEUS (set by .ci/run) says it must run", tool)
	}
	t.Skipf("%s is not installed (apt-get install prometheus)", tool)
	return ""
}

var metricsURL = regexp.MustCompile(`metrics at (http://\S+/metrics)`)

// waitStderr waits for re to match r's stderr and returns its first group.
func (r *liveRun) waitStderr(re *regexp.Regexp) string {
	r.t.Helper()
	var m []string
	smuxtest.Eventually(r.t, "the line "+re.String()+" on stderr", func() bool {
		m = re.FindStringSubmatch(r.stderr.String())
		return m != nil
	})
	return m[len(m)-1]
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", u, resp.Status, err, body)
	}
	return body
}

// TestMetricsExpositionPassesPromtool pipes a real scrape of a running
// demo, per-session series included, into `promtool check metrics`.
func TestMetricsExpositionPassesPromtool(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	promtool := needPrometheus(t, "promtool")
	r := startRun(t, "demo", "--metrics", "127.0.0.1:0", "--metrics-sessions", "3", "--rate", "500")
	u := r.waitStderr(metricsURL)
	time.Sleep(time.Second)
	body := get(t, u)
	if !bytes.Contains(body, []byte("muxtop_session_info{")) || !bytes.Contains(body, []byte("muxtop_frames_total{")) {
		t.Fatalf("the scrape lacks muxtop's metrics:\n%.2000s", body)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	r.stop()
}

// TestMetricsServerStoppedWithCommand: the endpoint lives as long as the
// command, and no goroutine is left when the command returns.
func TestMetricsServerStoppedWithCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	base := runtime.NumGoroutine()
	// Stopped by its context, as ctrl+c does, once scraped: a --duration
	// could end it first on a stalled machine (as runDemoJSON's did).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { // ends with ctx
		done <- run(ctx, []string{"demo", "-o", "json", "--metrics", ":0"}, &stdout, &stderr)
	}()
	var m []string
	smuxtest.Eventually(t, "the metrics line", func() bool {
		m = metricsURL.FindStringSubmatch(stderr.String())
		return m != nil
	})
	if !strings.HasPrefix(m[1], "http://127.0.0.1:") {
		t.Errorf("--metrics :0 serves at %s, want 127.0.0.1", m[1])
	}
	if !bytes.Contains(get(t, m[1]), []byte("\nmuxtop_sessions_live ")) {
		t.Error("no muxtop_sessions_live in the scrape")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	u, _ := url.Parse(m[1])
	if c, err := net.Dial("tcp", u.Host); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the command returned", u.Host)
	}
	http.DefaultClient.CloseIdleConnections()
	smuxtest.NoGoroutinesAbove(t, base)
}

// TestMetricsEveryInterfaceWarning: an address on every interface is
// served, with the warning attach gives for its own.
func TestMetricsEveryInterfaceWarning(t *testing.T) {
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"demo", "-o", "json", "--duration", "100ms", "--metrics", "0.0.0.0:0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "demo: --metrics 0.0.0.0:0 listens on every interface") {
		t.Errorf("no warning on stderr:\n%s", stderr.String())
	}
}

// promQuery asks Prometheus at base for query's instant vector and
// returns each sample as its labels (name and protocol left out) → value,
// with the latest sample's timestamp.
func promQuery(t *testing.T, base, query string) (map[string]float64, time.Time) {
	t.Helper()
	body := get(t, base+"/api/v1/query?query="+url.QueryEscape(query))
	var resp struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Status != "success" {
		t.Fatalf("query %s: %v %s", query, err, body)
	}
	out := map[string]float64{}
	var at time.Time
	for _, r := range resp.Data.Result {
		var ls []string
		for _, k := range []string{"command", "direction", "code", "reason", "severity"} {
			if v, ok := r.Metric[k]; ok {
				ls = append(ls, k+"="+v)
			}
		}
		v, err := strconv.ParseFloat(r.Value[1].(string), 64)
		if err != nil {
			t.Fatalf("query %s: value %v", query, r.Value[1])
		}
		out[strings.Join(ls, ",")] = v
		sec := r.Value[0].(float64)
		at = time.Unix(0, int64(sec*1e9))
	}
	return out, at
}

// startPrometheus runs the real Prometheus on loopback, scraping target
// every second, with its config and storage in a temporary directory, and
// returns its base URL. It is killed when the test ends.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := needPrometheus(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: muxtop
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prom.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	var logs syncBuffer
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--config.file="+filepath.Join(dir, "prom.yml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { // ends with the process, which the cleanup kills
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	smuxtest.Eventually(t, "prometheus ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// TestPrometheusScrapesWhatTheSummarySays runs the real muxtop binary
// with --metrics and the real Prometheus scraping it every second, and
// checks that what Prometheus stored equals what muxtop's own summary
// says for the same run. The run is made quiescent so that the equality
// is exact: no load generator (--rate 0), no keepalive NOPs or Pings in
// the run (--keepalive 1h), a fixed number of requests made by the test
// through the gateway, then a scrape taken after the last stream closed;
// stopping the demo then sends no frame (neither smux's nor yamux's
// Session.Close sends one, and no stream is open), so the summary counts
// what that scrape counted.
func TestPrometheusScrapesWhatTheSummarySays(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop and Prometheus for seconds")
	}
	needPrometheus(t, "prometheus")
	t.Parallel() // each run has its own muxtop and Prometheus, on ports of their own
	for _, v := range []string{"1", "2"} {
		t.Run("v"+v, func(t *testing.T) {
			t.Parallel()
			scrapedEqualsSummary(t, "smux", []string{"SYN", "FIN", "PSH", "NOP", "UPD"}, "--smux-version", v)
		})
	}
	t.Run("yamux", func(t *testing.T) {
		t.Parallel()
		scrapedEqualsSummary(t, "yamux", []string{"DATA", "WINDOW_UPDATE", "PING", "GO_AWAY"}, "--protocol", "yamux")
	})
}

// scrapedEqualsSummary is TestPrometheusScrapesWhatTheSummarySays for a
// demo of protocol proto, whose commands (or types) are cmds, run with
// args.
func scrapedEqualsSummary(t *testing.T, proto string, cmds []string, args ...string) {
	const requests, pool = 60, 4
	args = append([]string{"demo", "--rate", "0", "--keepalive", "1h", "--pool", strconv.Itoa(pool), "--metrics", "127.0.0.1:0"}, args...)
	r := startRun(t, args...)
	target := r.waitStderr(metricsURL)
	gateway := r.waitStderr(regexp.MustCompile(`demo gateway at (` + gatewayURL.String() + `)`))
	tu, _ := url.Parse(target)
	prom := startPrometheus(t, tu.Host)

	getNumbers(t, gateway, requests)
	// The last stream closes when both FINs have passed the tap: wait for
	// it in muxtop's own exposition, then for a scrape after that.
	smuxtest.Eventually(t, "every stream closed", func() bool {
		return bytes.Contains(get(t, target), []byte(fmt.Sprintf("\nmuxtop_streams_closed_total %d\n", requests)))
	})
	quiet := time.Now()
	smuxtest.Eventually(t, "a scrape after the last stream closed", func() bool {
		v, _ := promQuery(t, prom, `timestamp(muxtop_streams_closed_total)`)
		return v[""] > float64(quiet.UnixNano())/1e9
	})
	scraped := func(query string) map[string]float64 {
		v, _ := promQuery(t, prom, query)
		return v
	}
	frames := scraped(`muxtop_frames_total{protocol="` + proto + `"}`)
	if other := scraped(`sum(muxtop_frames_total{protocol!="` + proto + `"})`); other[""] != 0 {
		t.Errorf("a %s demo exported %v frames of another protocol", proto, other[""])
	}
	bytesBy := scraped(`sum by (direction) (muxtop_frame_bytes_total) + on (direction) sum by (direction) (muxtop_unparsed_bytes_total)`)
	one := func(query string) float64 {
		t.Helper()
		v := scraped(query)
		if len(v) != 1 {
			t.Fatalf("%s: %v, want one value", query, v)
		}
		return v[""]
	}
	// All of it before the run stops: Prometheus's first scrape after,
	// which fails, marks every series stale, and a query finds none then
	// (a loaded machine's queries came after it: "map[], want one value").
	ones := []struct {
		what, query string
		summary     []string
	}{
		{"sessions opened", `muxtop_sessions_opened_total`, []string{"sessions"}},
		{"streams opened", `muxtop_streams_opened_total`, []string{"streams_opened"}},
		{"streams closed", `muxtop_streams_closed_total`, []string{"streams_closed"}},
		{"streams ended with their session", `muxtop_streams_ended_with_session_total`, []string{"streams_ended"}},
		{"violations", `sum(muxtop_violations_total)`, []string{"violations"}},
		{"anomalies", `sum(muxtop_anomalies_total)`, []string{"anomalies"}},
		{"dropped records", `muxtop_history_dropped_records_total`, []string{"dropped"}},
		{"replies timed", `muxtop_first_reply_latency_seconds_count`, []string{"latency", "streams"}},
		{"findings opened", `sum(muxtop_findings_opened_total)`, []string{"findings_opened"}},
	}
	got := make([]float64, len(ones))
	for i, o := range ones {
		got[i] = one(o.query)
	}

	recs := r.stop()
	sum := recs[len(recs)-1]
	num := func(path ...string) float64 {
		t.Helper()
		var v any = sum
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("summary has no %v", path)
			}
			v = m[p]
		}
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("summary %v = %v", path, v)
		}
		return f
	}
	var checks []struct {
		what            string
		scraped, summed float64
	}
	for i, o := range ones {
		checks = append(checks, struct {
			what            string
			scraped, summed float64
		}{o.what, got[i], num(o.summary...)})
	}
	for _, dir := range []string{"c2s", "s2c"} {
		for _, cmd := range cmds {
			checks = append(checks, struct {
				what            string
				scraped, summed float64
			}{dir + " " + cmd + " frames", frames["command="+cmd+",direction="+dir], num("frames", dir, cmd)})
		}
		checks = append(checks, struct {
			what            string
			scraped, summed float64
		}{dir + " wire bytes", bytesBy["direction="+dir], num("bytes", dir)})
	}
	for _, c := range checks {
		t.Logf("%-34s Prometheus %8v  summary %8v", c.what, c.scraped, c.summed)
		if c.scraped != c.summed {
			t.Errorf("%s: Prometheus has %v, muxtop's summary says %v", c.what, c.scraped, c.summed)
		}
	}
	if num("streams_opened") != requests || num("sessions") != pool {
		t.Errorf("the summary counts %v streams in %v sessions, want %d in %d", num("streams_opened"), num("sessions"), requests, pool)
	}
}

// TestMetricsOnEveryCapturingCommand: --metrics works the same on each
// command that captures, since they share the watch flags.
func TestMetricsOnEveryCapturingCommand(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	for _, args := range [][]string{
		{"demo"},
		{"demo", "server", "--listen", "127.0.0.1:0"},
		{"attach", "127.0.0.1:1", "--listen", "127.0.0.1:0"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr syncBuffer
			args := append(args, "-o", "json", "--duration", "300ms", "--metrics", ":0")
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !metricsURL.MatchString(stderr.String()) {
				t.Errorf("no metrics line on stderr:\n%s", stderr.String())
			}
		})
	}
}
