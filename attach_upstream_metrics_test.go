package main

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// attachMetrics returns the /metrics URL a's stderr gives.
func attachMetrics(t *testing.T, a *attachRun) string {
	t.Helper()
	var u string
	smuxtest.Eventually(t, "the metrics URL on stderr", func() bool {
		if m := metricsURL.FindStringSubmatch(a.stderr.String()); m != nil {
			u = m[1]
		}
		return u != ""
	})
	return u
}

// TestAttachUpstreamDownMetricsAndChurn: 21 clients of an attach whose
// upstream refuses them all, within CHURN's 10 s. /metrics counts the 21
// dials and 21 refusals, labelled with the upstream, and the CHURN
// finding says the upstream refused each session, not that a client
// redials in a loop. With the upstream up (a real smux server) and 21
// clients that each dial a session for one request, the dials count and
// fail none, and CHURN blames the clients' dialing, as it should.
func TestAttachUpstreamDownMetricsAndChurn(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	const clients = 21
	t.Run("refused", func(t *testing.T) {
		dead := freePort(t)
		// Given as a bare :PORT, the upstream is labelled (and named) as
		// attach dials it, 127.0.0.1:PORT, as the README says.
		a := runAttach(t, strings.TrimPrefix(dead, "127.0.0.1"), "--output", "plain", "--metrics", "127.0.0.1:0")
		u := attachMetrics(t, a)
		refusedClients(t, a.addr, clients)
		waitEnded(t, a, clients)
		smuxtest.Eventually(t, "a CHURN finding", func() bool { return strings.Contains(a.stdout.String(), "CHURN") })
		body := string(get(t, u))
		for _, want := range []string{
			fmt.Sprintf("muxtop_upstream_dials_total{upstream=%q} %d\n", dead, clients),
			fmt.Sprintf("muxtop_upstream_dial_failures_total{reason=\"refused\",upstream=%q} %d\n", dead, clients),
			fmt.Sprintf("muxtop_upstream_dial_failures_total{reason=\"timeout\",upstream=%q} 0\n", dead),
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
			}
		}
		a.stop(t)
		out := a.stdout.String()
		want := fmt.Sprintf("each ended because the upstream %s refused the connection, and the clients dialed again", dead)
		if !strings.Contains(out, want) {
			t.Errorf("the CHURN finding does not say %q:\n%s", want, churnLines(out))
		}
		if strings.Contains(out, "a client redialing in a loop") {
			t.Errorf("the CHURN finding blames the clients:\n%s", churnLines(out))
		}
	})
	t.Run("healthy", func(t *testing.T) {
		up := echoServer(t, 1)
		a := runAttach(t, up, "--output", "plain", "--metrics", "127.0.0.1:0")
		u := attachMetrics(t, a)
		for range clients {
			conn, err := net.Dial("tcp", a.addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write([]byte{1, 0, 0, 0, 3, 0, 0, 0}); err != nil { // v1 SYN of stream 3
				t.Fatal(err)
			}
			conn.Close()
		}
		waitEnded(t, a, clients)
		smuxtest.Eventually(t, "a CHURN finding", func() bool { return strings.Contains(a.stdout.String(), "CHURN") })
		body := string(get(t, u))
		for _, want := range []string{
			fmt.Sprintf("muxtop_upstream_dials_total{upstream=%q} %d\n", up, clients),
			fmt.Sprintf("muxtop_upstream_dial_failures_total{reason=\"refused\",upstream=%q} 0\n", up),
			fmt.Sprintf("muxtop_upstream_dial_failures_total{reason=\"other\",upstream=%q} 0\n", up),
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
			}
		}
		a.stop(t)
		out := a.stdout.String()
		if !strings.Contains(out, "a client redialing in a loop, or clients that dial a session per request") || strings.Contains(out, "because the upstream") {
			t.Errorf("CHURN of healthy upstream's clients does not say the clients redial:\n%s", churnLines(out))
		}
	})
}

// churnLines returns out's lines that tell of findings.
func churnLines(out string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "CHURN") || strings.Contains(l, "finding") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
