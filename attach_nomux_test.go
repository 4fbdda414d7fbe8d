package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestAttachHTTPBothEnds: `muxtop attach` in front of a real net/http
// server, its client a real net/http client: nothing on the connection
// speaks a mux. Before, the JSON output held two critical PROTOCOL
// findings, the client's "fix the client's address" and the server's
// "fix the server's address"; it holds one, a warning, saying both ends
// speak HTTP and that attach's upstream is what to change.
func TestAttachHTTPBothEnds(t *testing.T) {
	testAttachHTTPBothEnds(t, 0)
}

// TestAttachHTTPBothEndsSlowAnswer: as TestAttachHTTPBothEnds, with a
// server that answers after 250 ms, and a client that closes once it has
// the answer: an evaluation sees the request alone and opens the finding
// critical, and the connection ends before the next evaluation sees the
// answer. The finding still becomes a warning, told, before it resolves.
// Before, it resolved critical, no finding-updated told of the answer,
// and the resolved count MuxtopProtocolViolation pages on rose for two
// ends that were fine:
//
//	the finding resolved {"type":"finding-resolved",…"code":"PROTOCOL","severity":"critical",…}, want a warning
func TestAttachHTTPBothEndsSlowAnswer(t *testing.T) {
	testAttachHTTPBothEnds(t, 250*time.Millisecond)
}

func testAttachHTTPBothEnds(t *testing.T, delay time.Duration) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	up := strings.TrimPrefix(srv.URL, "http://")
	a := runAttach(t, up)
	addr := a.addr
	getHello(t, "http://"+addr+"/")
	// Findings come from evaluations, every 100 ms: a run stopped before
	// its first has none, and its summary says "not diagnosed". Stop once
	// one has seen the session (on a loaded machine the session ended and
	// was printed before the first tick, and the run stopped with none).
	smuxtest.Eventually(t, "the PROTOCOL finding's resolution", func() bool {
		return strings.Contains(a.stdout.String(), `"type":"finding-resolved"`)
	})
	a.stop(t)
	out := a.stdout.String()
	// An evaluation that falls between the request and its answer opens
	// the finding critical (only the client has spoken), and a
	// finding-updated record then tells it a warning: the last record
	// before the finding resolved is what the user is left with.
	var opened, resolved int
	var first, told, gone string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"code":"PROTOCOL"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"type":"finding-opened"`):
			opened++
			first, told = line, line
		case strings.Contains(line, `"type":"finding-updated"`):
			told = line
		case strings.Contains(line, `"type":"finding-resolved"`):
			resolved++
			gone = line
		}
	}
	if opened != 1 || resolved != 1 {
		t.Fatalf("PROTOCOL findings opened: %d, resolved: %d, want 1 and 1:\n%s", opened, resolved, out)
	}
	for _, want := range []string{`"severity":"warning"`, `"dir":"c2s"`,
		"both ends speak HTTP, and the connection carries no smux",
		"muxtop attach's upstream, " + up + ", speaks HTTP, not smux; give attach the smux server's address"} {
		if !strings.Contains(told, want) {
			t.Errorf("the finding's last record %s does not say %s", told, want)
		}
	}
	if !strings.Contains(gone, `"severity":"warning"`) {
		t.Errorf("the finding resolved %s, want a warning", gone)
	}
	if strings.Contains(first, `"severity":"critical"`) && !strings.Contains(told, `"severity_was":"critical"`) {
		t.Errorf("the finding opened critical, and its last record %s does not tell the change to warning", told)
	}
}
