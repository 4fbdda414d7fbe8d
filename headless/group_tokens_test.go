package headless

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestTokensWords: tokens, which matches token word by word, splits every
// line as matching the whole line did: the summaries' lines, the address
// cases of TestGroupFindingsAddresses, and random lines of the characters
// that tokens and addresses are made of, spaces among them.
func TestTokensWords(t *testing.T) {
	lines := []string{
		"",
		" ",
		"  3  ",
		"from 10.0.0.1:80 and [2001:db8::1]:443, oldest 4.5 s",
		"fe80::1 and ::1 sent 3 frames",
		"stream 3: 1.5 s at 04:31:08 (v2)",
		"the upstream [fe80::1%eth0]:9000 has sent nothing for 42 s",
		"the upstream db1.example.com:5432 has sent nothing for 42 s",
		"a:: ::b [x] [] :: 1::2 host-1.a:80 v1.2.3.4:5 1.2.3.4.5 12345.6789.0",
		"oldest 40–42 s (stream 3–1001), #1–#9000, 0.5×",
	}
	for _, f := range manyLeaks(3, time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)) {
		lines = append(lines, findingLine(f, nil), string(appendFindingLine(nil, f, nil)))
	}
	f := &live.Finding{ID: 7, Code: live.CodeKeepalive, Severity: live.Warning, Session: 7, Text: "the client 127.0.0.1:40312 has sent nothing for 42 s"}
	lines = append(lines, findingLine(f, []uint64{7}))
	const alphabet = "0123456789abcfxyzABF:.[]%_- –#(),s"
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var b strings.Builder
		for range rnd.IntN(40) {
			i := rnd.IntN(len([]rune(alphabet)))
			b.WriteRune([]rune(alphabet)[i])
		}
		lines = append(lines, b.String())
	}
	for _, line := range lines {
		words, nums := tokens(line)
		ww, wn := tokensWhole(line)
		if got, want := fmt.Sprintf("%q %q", words, nums), fmt.Sprintf("%q %q", ww, wn); got != want {
			t.Fatalf("tokens(%q) = %s, want %s", line, got, want)
		}
	}
}

// tokensWhole is tokens as it was, token matched against the whole line:
// the oracle TestTokensWords checks tokens against.
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
