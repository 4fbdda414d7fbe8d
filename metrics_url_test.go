package main

import (
	"context"
	"strings"
	"testing"
)

// TestMetricsEveryInterfaceURL: --metrics 0.0.0.0:PORT says a URL this
// machine can fetch, on loopback, with the warning that the port is on
// every interface; it said "metrics at http://[::]:PORT/metrics", the
// bound address.
func TestMetricsEveryInterfaceURL(t *testing.T) {
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"demo", "-o", "json", "--duration", "100ms", "--metrics", "0.0.0.0:0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	m := metricsURL.FindStringSubmatch(stderr.String())
	if m == nil || !strings.HasPrefix(m[1], "http://127.0.0.1:") || strings.HasSuffix(m[1], "127.0.0.1:0/metrics") {
		t.Errorf("the metrics line names %q, want http://127.0.0.1:PORT/metrics:\n%s", m, stderr.String())
	}
	if !strings.Contains(stderr.String(), "demo: --metrics 0.0.0.0:0 listens on every interface") {
		t.Errorf("no warning on stderr:\n%s", stderr.String())
	}
}
