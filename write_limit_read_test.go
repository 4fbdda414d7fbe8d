package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteLimitReadCut: a real demo whose --write file reaches a small
// --write-limit, read back. The file marks the cut (its last packet's
// comment); read says the capture was cut there, in a notice, and reports
// the demo's pooled sessions, open then, as cut and INCOMPLETE, not as
// live sessions whose later frames are simply absent; the summary and its
// status say so; and tcpdump still reads the file. Before, read of the
// file said nothing of the limit: "no notice of the cut in read's
// output", the sessions live and whole.
func TestWriteLimitReadCut(t *testing.T) {
	t.Parallel() // a demo of its own, mostly waiting
	file := filepath.Join(t.TempDir(), "cut.pcapng")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--output", "plain", "--rate", "2000", "--write", file, "--write-limit", "1"}, &stdout, &stderr)
	}()
	const reached = "notice: --write " // … reached --write-limit 1 MiB
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stdout.String(), "reached --write-limit 1 MiB") {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("the demo's file never reached its limit; stdout ends:\n%s\nstderr:\n%s", tail(stdout.String(), 2000), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exit %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), reached) {
		t.Fatalf("no notice of the limit on stdout")
	}
	if out := stderr.String(); !strings.Contains(out, "the file ends where it reached --write-limit 1 MiB") || strings.Contains(out, "fell behind") {
		t.Errorf("demo's stderr:\n%s\nwant the cut at the limit said, and nothing dropped before it", out)
	}

	out := readOK(t, file, "-o", "json")
	var notices []string
	var summary map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		switch m["type"] {
		case "notice":
			notices = append(notices, m["text"].(string))
		case "summary":
			summary = m
		}
	}
	var cut string
	for _, n := range notices {
		if strings.HasPrefix(n, "the capture was cut here: the muxtop that wrote it (--write) reached its --write-limit") {
			cut = n
		}
	}
	if cut == "" {
		t.Fatalf("no notice of the cut in read's output; notices: %q", notices)
	}
	if summary == nil {
		t.Fatal("no summary")
	}
	n, _ := summary["cut_sessions"].(float64)
	live, _ := summary["live_sessions"].(float64)
	incomplete, _ := summary["incomplete"].(float64)
	if n < 1 || n > live || incomplete < n {
		t.Errorf("summary: cut_sessions %v, live_sessions %v, incomplete %v: want the pool's sessions, open at the cut, cut (live, not ended) and INCOMPLETE", n, live, incomplete)
	}
	if !strings.Contains(cut, "sessions open then are cut here (INCOMPLETE)") && !strings.Contains(cut, "the session open then is cut here") {
		t.Errorf("notice %q: want the sessions open then said cut", cut)
	}
	status, _ := summary["status"].(map[string]any)
	if at, _ := status["limit_cut"].(string); at == "" {
		t.Errorf("summary status %v: want limit_cut, the time of the cut", status)
	}

	plain := readOK(t, file, "-o", "plain")
	if line := sessionsOf(t, plain); !strings.Contains(line, "of them cut where the capture's writer reached its --write-limit: they did not end") {
		t.Errorf("plain summary: %s", line)
	}

	bin := tcpdumpPath(t)
	got, err := exec.Command(bin, "-nr", file).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, tail(string(got), 2000))
	}
	for _, l := range strings.Split(string(got), "\n") {
		if strings.Contains(l, "truncated") || strings.Contains(l, "bad") || strings.Contains(l, "tcpdump:") {
			t.Fatalf("tcpdump complains: %s", l)
		}
	}
}
