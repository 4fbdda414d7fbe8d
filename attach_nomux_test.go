package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAttachHTTPBothEnds: `muxtop attach` in front of a real net/http
// server, its client a real net/http client: nothing on the connection
// speaks a mux. Before, the JSON output held two critical PROTOCOL
// findings, the client's "fix the client's address" and the server's
// "fix the server's address"; it holds one, a warning, saying both ends
// speak HTTP and that attach's upstream is what to change.
func TestAttachHTTPBothEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer srv.Close()
	up := strings.TrimPrefix(srv.URL, "http://")
	addr, wait := startAttach(t, up)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "hello" {
		t.Fatalf("through attach: %q, %v", body, err)
	}
	_, out := wait()
	// An evaluation that falls between the request and its answer opens
	// the finding critical (only the client has spoken), and a
	// finding-updated record then tells it a warning: the last record
	// before the finding resolved is what the user is left with.
	var opened int
	var told string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"code":"PROTOCOL"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"type":"finding-opened"`):
			opened++
			told = line
		case strings.Contains(line, `"type":"finding-updated"`):
			told = line
		}
	}
	if opened != 1 {
		t.Fatalf("PROTOCOL findings opened: %d, want 1:\n%s", opened, out)
	}
	for _, want := range []string{`"severity":"warning"`, `"dir":"c2s"`,
		"both ends speak HTTP, and the connection carries no smux",
		"muxtop attach's upstream, " + up + ", speaks HTTP, not smux; give attach the smux server's address"} {
		if !strings.Contains(told, want) {
			t.Errorf("the finding's last record %s does not say %s", told, want)
		}
	}
}
