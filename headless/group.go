package headless

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/muxtop/muxtop/live"
)

// token is a number in a finding's words, "42", "0.3", "256" (its
// group 1), or an address, which is a word: an IP address, IPv6 in
// brackets or with "::", or a host, with a port ("127.0.0.1:40312",
// "[::1]:9000", "fe80::1", "localhost:9000"). Findings that differ in an
// address are not alike, and their numbers are not a range.
var token = regexp.MustCompile(`\[[0-9A-Za-z:.%_-]*\](?::[0-9]+)?` +
	`|(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]+)?` +
	`|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?` +
	`|[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*:[0-9]+` +
	`|([0-9]+(?:\.[0-9]+)?)`)

// findingGroup is the findings of one code, severity and state (open or
// resolved) whose lines differ in their numbers alone.
type findingGroup struct {
	first    *live.Finding
	text     []string   // the line's words between its numbers
	nums     [][]string // each slot's numbers, in the findings' order
	sessions []uint64
	ids      []uint64
}

// findingLine is the text of a finding's summary line after its code,
// severity and session: its state and its words.
func findingLine(f *live.Finding, afterCount []uint64) string {
	return findingState(f, afterCount) + ": " + f.Text
}

// findingState is a finding's state in the summary: open, open at the end
// though resolved as muxtop stopped watching it, or resolved after how
// long; first, for a LEAK of afterCount (Summary.AfterCount), that it
// opened after the leaks line's count.
func findingState(f *live.Finding, afterCount []uint64) string {
	if slices.Contains(afterCount, f.ID) {
		return "opened as muxtop stopped, after the leaks line's count, " + findingState(f, nil)
	}
	switch {
	case f.Unwatched:
		return "open at the end (muxtop stopped watching)"
	case !f.Resolved.IsZero():
		return "resolved after " + string(appendDuration(nil, f.Resolved.Sub(f.Opened)))
	}
	return "open"
}

// groupFindings returns the summary's lines of findings, in the order of
// their first: one for each finding alone, as writeEachFinding writes it
// (appendFindingLine),
// and one for each group of findings of the same code, severity and
// state whose lines differ in their numbers alone, exact: how many, which
// findings and sessions, and where the numbers differ, their range,
// "LEAK warning ×501 (findings #1–#501, sessions 1–501), open: the server
// never closes its streams: 1 half-closed by the client, oldest 40–42 s
// (stream 3–1001)". Many sessions that fail alike, a redialling client's,
// then take a line, not one each.
func groupFindings(findings []*live.Finding, afterCount []uint64) []string {
	var groups []*findingGroup
	index := map[string]*findingGroup{}
	for _, f := range findings {
		line := findingLine(f, afterCount)
		words, nums := tokens(line)
		key := f.Code.String() + "\x00" + f.Severity.String() + "\x00" + strings.Join(words, "\x00")
		g := index[key]
		if g == nil {
			g = &findingGroup{first: f, text: words, nums: make([][]string, len(words)-1)}
			index[key] = g
			groups = append(groups, g)
		}
		for i, n := range nums {
			g.nums[i] = append(g.nums[i], n)
		}
		if f.Session != 0 {
			g.sessions = append(g.sessions, f.Session)
		}
		g.ids = append(g.ids, f.ID)
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		f := g.first
		if len(g.ids) == 1 {
			out = append(out, string(appendFindingLine(nil, f, afterCount)))
			continue
		}
		var b strings.Builder
		b.WriteString("    " + f.Code.String() + " " + f.Severity.String() + " ×" + strconv.Itoa(len(g.ids)) + " (findings " + idList(g.ids, "#"))
		if len(g.sessions) > 0 {
			b.WriteString(", sessions " + idList(g.sessions, ""))
		}
		b.WriteString("), ")
		for i, w := range g.text {
			b.WriteString(w)
			if i < len(g.nums) {
				b.WriteString(numRange(g.nums[i]))
			}
		}
		out = append(out, b.String())
	}
	return out
}

// tokens splits line into its numbers and the words between them, an
// address whole among the words.
//
// It matches token against each space-separated word that may hold one
// (a digit, "[" or "::"), not against the whole line: no token holds a
// space, nor depends on what comes before it, so the matches are the
// same, and the words without one, most of a finding's, cost a scan
// (BenchmarkGroupFindings).
func tokens(line string) (words, nums []string) {
	last := 0
	for from := 0; from < len(line); {
		end := strings.IndexByte(line[from:], ' ')
		if end < 0 {
			end = len(line)
		} else {
			end += from
		}
		if w := line[from:end]; mayToken(w) {
			for _, m := range token.FindAllStringSubmatchIndex(w, -1) {
				if m[2] < 0 {
					continue // an address: part of the words
				}
				words = append(words, line[last:from+m[0]])
				nums = append(nums, w[m[0]:m[1]])
				last = from + m[1]
			}
		}
		from = end + 1
	}
	return append(words, line[last:]), nums
}

// mayToken says whether w may hold a token: every one holds a digit, a
// "[" or a "::".
func mayToken(w string) bool {
	for i := range len(w) {
		switch c := w[i]; {
		case '0' <= c && c <= '9', c == '[', c == ':' && i+1 < len(w) && w[i+1] == ':':
			return true
		}
	}
	return false
}

// numRange is one number slot of a group's line: the number, when every
// finding has the same, else the least and the greatest, "40–42".
func numRange(ns []string) string {
	lo, hi := ns[0], ns[0]
	val := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	for _, n := range ns[1:] {
		if val(n) < val(lo) {
			lo = n
		}
		if val(n) > val(hi) {
			hi = n
		}
	}
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

// idList says which ids, each with prefix: runs of consecutive ids as
// ranges, "1–3, 7, 9–12", the first 4 runs and then how many more ids,
// "1–3, 7, 9–12, 20 and 6 more".
func idList(ids []uint64, prefix string) string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	const runs = 4
	var parts []string
	shown := 0
	for i := 0; i < len(ids) && len(parts) < runs; {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		p := prefix + strconv.FormatUint(ids[i], 10)
		if j > i {
			p += "–" + prefix + strconv.FormatUint(ids[j], 10)
		}
		parts = append(parts, p)
		shown += j - i + 1
		i = j + 1
	}
	s := strings.Join(parts, ", ")
	if rest := len(ids) - shown; rest > 0 {
		s += " and " + strconv.Itoa(rest) + " more"
	}
	return s
}
