package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestOnlyFindingsBinary: the real binary's `demo --fault leak -o json
// --only findings` prints, every line JSON, finding records alone (a
// LEAK among them) and the summary last, which counts the frames and
// sessions it did not print, none of them missed.
func TestOnlyFindingsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	r := startRun(t, "demo", "--fault", "leak", "--leak-after", "1s", "--pool", "2", "--only", "findings")
	r.waitFor("LEAK finding", time.Minute, func(recs []map[string]any) bool { return firstFinding(recs, "LEAK") != nil })
	recs := r.stop() // every line parsed (read fails the test on one that is not JSON), the summary last
	for _, m := range recs[:len(recs)-1] {
		if typ, _ := m["type"].(string); !strings.HasPrefix(typ, "finding-") {
			t.Errorf("--only findings printed a %s record: %v", typ, m)
		}
	}
	sum := recs[len(recs)-1]
	if sum["sessions"] == 0.0 || sum["streams_opened"] == 0.0 || sum["missed"] != 0.0 {
		t.Errorf("summary: %v sessions, %v streams opened, %v missed; want the sessions and streams counted, none missed", sum["sessions"], sum["streams_opened"], sum["missed"])
	}
}

// TestOnlyPlain: demo -o plain --only sessions,notices prints session
// lines alone, then the summary.
func TestOnlyPlain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-o", "plain", "--pool", "2", "--only", "sessions,notices"}, &stdout, &stderr)
	}()
	smuxtest.Eventually(t, "two sessions opened", func() bool { return strings.Count(stdout.String(), " session opened ") >= 2 })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	records, summary, ok := strings.Cut(stdout.String(), "muxtop summary: ")
	if !ok || !strings.Contains(summary, "\n  frames ") {
		t.Fatalf("no summary at the end:\n%s", stdout.String())
	}
	for _, l := range strings.Split(strings.TrimSuffix(records, "\n"), "\n") {
		if !strings.Contains(l, " session opened ") && !strings.Contains(l, " session ended: ") &&
			!strings.Contains(l, " session half-closed: ") && !strings.Contains(l, " notice: ") {
			t.Errorf("--only sessions,notices printed %q", l)
		}
	}
}
