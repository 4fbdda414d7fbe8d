package main

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/demo"
	"github.com/muxtop/muxtop/live"
)

// TestREADMEGetsABinary: every example calls muxtop, so the README says
// how to get one, near the top, after its two opening commands.
func TestREADMEGetsABinary(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	opening := "```sh\n" +
		"go run . demo        # a random-number service, an HTTP gateway over a pool of smux sessions, and load — watched live\n" +
		"go test ./...        # the tests (CI runs .ci/run: gofmt, vet, these tests, -race and a fuzz smoke)\n" +
		"```\n"
	i := strings.Index(readme, opening)
	if i < 0 || strings.Index(readme, "```") != i {
		t.Fatalf("the README does not open with its two commands, unchanged:\n%s", readme[:min(len(readme), 800)])
	}
	commands := strings.Index(readme, "## Commands")
	for _, line := range []string{"go install github.com/muxtop/muxtop@latest", "go build -o muxtop ."} {
		j := strings.Index(readme, line)
		if j < i+len(opening) || commands < 0 || j > commands {
			t.Errorf("the README lacks %q after its opening commands and before ## Commands", line)
		}
	}
}

// TestStatusKeysInREADME: every key of the summary's status, as the demo,
// read and sniff give it with every optional figure present, is named in
// the README's NDJSON table, in the summary row's status.
func TestStatusKeysInREADME(t *testing.T) {
	row := summaryRow(t)
	_, status, ok := strings.Cut(row, "`status` (")
	if !ok {
		t.Fatalf("the README's NDJSON table has no summary row with a status:\n%s", row)
	}
	stats := pcap.Stats{Packets: 10, Connections: 2, Decoded: 1, Skipped: 1, Cut: 3}
	for name, st := range map[string]live.Status{
		"demo":  demoStatus(demo.LoadStats{Rate: 100, OK: 9, Errors: 1, LastError: "refused", P50: time.Millisecond}),
		"read":  readStatusOf(stats, "done"),
		"sniff": sniffStatus(stats, 4),
	} {
		for _, f := range st {
			if !strings.Contains(status, "`"+f.Key+"`") {
				t.Errorf("%s's status has %s, which the README's summary row does not name in its status", name, f.Key)
			}
		}
	}
}

// TestFindingSeveritiesInREADME: the findings table's severity column
// begins with each code's severity (live.FindingCode.Severity, the
// metrics' label); GO_AWAY's goes on to say when it is critical.
func TestFindingSeveritiesInREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		cells := strings.Split(l, " | ")
		if len(cells) > 2 && strings.HasPrefix(cells[0], "| `") {
			rows[strings.Trim(cells[0], "| `")] = cells[1]
		}
	}
	for c := live.FindingCode(1); c < live.NumFindingCodes; c++ {
		col, ok := rows[c.String()]
		if !ok {
			t.Errorf("the README's findings table has no row %s", c)
			continue
		}
		if !strings.HasPrefix(col, c.Severity().String()) {
			t.Errorf("the README rates %s %q; the code's severity is %s", c, col, c.Severity())
		}
	}
	if col := rows[live.CodeGoAway.String()]; !strings.Contains(col, "critical with an error code") {
		t.Errorf("the README's GO_AWAY severity %q does not say an error code is critical", col)
	}
	if col := rows[live.CodeProtocol.String()]; !strings.Contains(col, "warning where the two ends are fine") {
		t.Errorf("the README's PROTOCOL severity %q does not say when it is a warning", col)
	}
}

// TestREADMELiveSnippetIsTheExample: the wiring "Watch it live" shows is
// the code pcapout's ExampleLive runs: each of its lines but comments is
// a line of the example, as is or commented out there (the example
// serves its debug mux on httptest's server, not on port 6060).
func TestREADMELiveSnippetIsTheExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, part, ok := strings.Cut(readme, "#### Watch it live\n")
	_, block, ok2 := strings.Cut(part, "```go\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no Go snippet under #### Watch it live")
	}
	ex, err := os.ReadFile("pcapout/example_live_test.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for l := range strings.Lines(string(ex)) {
		l = strings.TrimSpace(l)
		lines[l] = true
		lines[strings.TrimPrefix(l, "// ")] = true
	}
	n := 0
	for l := range strings.Lines(block) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		n++
		if !lines[l] {
			t.Errorf("the README's line %q is not in pcapout/example_live_test.go", l)
		}
	}
	if n < 7 {
		t.Errorf("the README's snippet has %d lines of code, want the wiring whole", n)
	}
}

// TestReadProgressInREADME: every word read's status gives for how far
// it read is in the README's summary row. Before, "stopped early" (a read
// stopped before the capture's end) was not: "the README's summary row
// does not name read's progress \"stopped early\"".
func TestReadProgressInREADME(t *testing.T) {
	row := summaryRow(t)
	rd := pcap.NewReader(pcap.Config{Registry: live.New(live.Config{})})
	states := map[string]func(*readSystem){
		"reading": func(*readSystem) {},
		"done":    func(s *readSystem) { s.finished.Store(true) },
		"failed":  func(s *readSystem) { s.err = errors.New("cut"); s.finished.Store(true) },
		"stopped": func(s *readSystem) { s.stopped.Store(true); s.finished.Store(true) },
	}
	for name, set := range states {
		s := new(readSystem)
		set(s)
		progress := readStatus(rd, s, 0, 0, nil)[0].Value.(string)
		if !strings.Contains(row, "`"+progress+"`") {
			t.Errorf("the README's summary row does not name read's progress %q (%s)", progress, name)
		}
	}
}

// summaryRow returns the README's NDJSON table row of the summary record,
// the last line that begins it; "" if there is none.
func summaryRow(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for l := range strings.Lines(string(b)) {
		if strings.HasPrefix(l, "| `summary` | ") {
			row = l
		}
	}
	return row
}
