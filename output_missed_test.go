package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// heldStdout is a stdout that takes nothing until released, then all,
// and scrapes metrics as the summary comes: the final counts, the
// printer done.
type heldStdout struct {
	release chan struct{}
	metrics func() string // the metrics URL
	mu      sync.Mutex
	buf     bytes.Buffer
	scrape  []byte
	err     error
}

func (w *heldStdout) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.scrape == nil && w.err == nil && bytes.Contains(w.buf.Bytes(), []byte(`{"type":"summary"`)) {
		resp, err := http.Get(w.metrics())
		if err == nil {
			w.scrape, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		w.err = err
	}
	return len(p), nil
}

func (w *heldStdout) has(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Contains(w.buf.Bytes(), []byte(s))
}

var outputMissedSeries = regexp.MustCompile(`(?m)^muxtop_output_missed_records_total (\d+)$`)

// TestOutputMissedEndToEnd: demo -o json --history 1000 whose stdout
// takes nothing for a while: the records the ring lapped are each run of
// them a missed record where the seq jumps (seq + count is the next
// record's), their counts add up to the summary's missed, and
// muxtop_output_missed_records_total says the same. Before, the stream
// only jumped: "no missed record in the output" (and the metric absent).
func TestOutputMissedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	t.Parallel()
	var stderr syncBuffer
	var url string
	out := &heldStdout{release: make(chan struct{}), metrics: func() string { return url }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { // ends with ctx
		done <- run(ctx, []string{"demo", "-o", "json", "--history", "1000", "--rate", "2000", "--pool", "2", "--metrics", "127.0.0.1:0"}, out, &stderr)
	}()
	smuxtest.Eventually(t, "the metrics line", func() bool {
		m := metricsURL.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	opened := regexp.MustCompile(`(?m)^muxtop_streams_opened_total (\d+)$`)
	smuxtest.Eventually(t, "1000 streams: 4000 records, 4 rings", func() bool {
		m := opened.FindSubmatch(get(t, url))
		n, _ := strconv.Atoi(string(m[1]))
		return n >= 1000
	})
	close(out.release)
	smuxtest.Eventually(t, "a missed record", func() bool { return out.has(`{"type":"missed"`) })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	var sum, next uint64
	var summary map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.buf.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Type       string
			Seq, Count uint64
			Missed     uint64
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		if m.Type == "summary" {
			json.Unmarshal(sc.Bytes(), &summary)
			continue
		}
		if next != 0 && m.Seq != next {
			t.Errorf("seq %d after %d: a gap no missed record marks (%s)", m.Seq, next-1, sc.Text())
		}
		next = m.Seq + 1
		if m.Type == "missed" {
			sum += m.Count
			next = m.Seq + m.Count
		}
	}
	if summary == nil {
		t.Fatal("no summary")
	}
	if got := uint64(summary["missed"].(float64)); got != sum || sum == 0 {
		t.Errorf("summary missed %d, the missed records' counts add up to %d", got, sum)
	}
	m := outputMissedSeries.FindSubmatch(out.scrape)
	if m == nil {
		t.Fatalf("no muxtop_output_missed_records_total in the scrape at the summary:\n%s", out.scrape)
	}
	if got, _ := strconv.ParseUint(string(m[1]), 10, 64); got != sum {
		t.Errorf("muxtop_output_missed_records_total %d at the summary, want the summary's missed %d", got, sum)
	}
}
