package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestAttachTLSNotMuxMetrics: a real crypto/tls client and server talk
// through `muxtop attach --metrics`: each direction's first bytes are a
// TLS record, not a mux (offset 0, BAD_VERSION by smux's framing). The
// summary counts them in not_mux, not in violations; /metrics must tell
// the same story: muxtop_violations_total adds up to the summary's
// violations, and muxtop_not_mux_total (by guess) to its not_mux. Before,
// muxtop_violations_total counted them as BAD_VERSION, so it exceeded the
// summary's violations ("muxtop_violations_total 2, summary violations 0").
func TestAttachTLSNotMuxMetrics(t *testing.T) {
	t.Parallel() // a proxy, a server and a client of its own, mostly waiting
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	a := runAttach(t, strings.TrimPrefix(srv.URL, "https://"), "--metrics", "127.0.0.1:0")
	u := attachMetrics(t, a)
	getHello(t, "https://"+a.addr+"/")
	smuxtest.Eventually(t, "both directions' violations and the session's end", func() bool {
		out := a.stdout.String()
		return strings.Count(out, `"type":"violation"`) == 2 && strings.Contains(out, `"type":"session-ended"`)
	})
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(get(t, u))))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("exposition line %q", line)
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		series[name] += v
		if v != 0 && name == "muxtop_not_mux_total" {
			series[line[:i]] = v
		}
	}
	a.stop(t)
	sum := parseJSON(t, a.stdout.String()).summary
	notMux, _ := sum["not_mux"].(float64)
	if got, want := series["muxtop_violations_total"], sum["violations"].(float64); got != want {
		t.Errorf("muxtop_violations_total %v, summary violations %v", got, want)
	}
	if got := series["muxtop_not_mux_total"]; got != notMux || notMux != 2 {
		t.Errorf("muxtop_not_mux_total %v, summary not_mux %v, want 2 each", got, notMux)
	}
	if got := series[`muxtop_not_mux_total{guess="tls"}`]; got != 2 {
		t.Errorf(`muxtop_not_mux_total{guess="tls"} %v, want 2`, got)
	}
}
