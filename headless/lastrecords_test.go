package headless

import (
	"bufio"
	"encoding/json"
	"io"
	"testing"
)

// lastRecords reads NDJSON records from r, each line checked to parse,
// and returns the last record of each type.
func lastRecords(t *testing.T, r io.Reader) map[string]map[string]any {
	t.Helper()
	last := map[string]map[string]any{}
	lines := bufio.NewScanner(r)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", lines.Text(), err)
		}
		typ, _ := m["type"].(string)
		last[typ] = m
	}
	return last
}
