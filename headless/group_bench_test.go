package headless

import (
	"testing"
	"time"
)

// BenchmarkGroupFindings groups the 9 000 alike LEAK findings of a stop at
// the scale audit's load, as the plain summary and the UI's do.
func BenchmarkGroupFindings(b *testing.B) {
	fs := manyLeaks(9000, time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	for b.Loop() {
		if lines := groupFindings(fs, nil); len(lines) != 1 {
			b.Fatalf("%d lines, want 1", len(lines))
		}
	}
}
