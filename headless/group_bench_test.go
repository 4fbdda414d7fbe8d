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

// tokensWhole is tokens as it was, token matched against the whole line:
// TestTokensWords checks tokens against it.
func tokensWhole(line string) (words, nums []string) {
	last := 0
	for _, m := range token.FindAllStringSubmatchIndex(line, -1) {
		if m[2] < 0 {
			continue
		}
		words = append(words, line[last:m[0]])
		nums = append(nums, line[m[0]:m[1]])
		last = m[1]
	}
	return append(words, line[last:]), nums
}
