package headless

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestGroupFindings: the UI's summary on quitting writes the findings
// that differ in their numbers alone as one line, exact: how many, which
// findings and sessions, and each number that differs as its range; a
// finding unlike the others keeps its own line. The plain output, past
// manyFindings, groups them too and says JSON lists each. Before, 501
// sessions with a LEAK each made 501 lines.
func TestGroupFindings(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	var fs []*live.Finding
	for i := range 501 {
		id := uint64(i + 1)
		fs = append(fs, &live.Finding{ID: id, Code: live.CodeLeak, Severity: live.Warning, Session: id, Opened: t0,
			Text: fmt.Sprintf("the server never closes its streams: 1 half-closed by the client, oldest %d s (stream 3)", 40+i%3)})
	}
	fs = append(fs, &live.Finding{ID: 502, Code: live.CodeLeak, Severity: live.Warning, Session: 700, Opened: t0, Resolved: t0.Add(1500 * time.Millisecond),
		Text: "the server never closes its streams: 1 half-closed by the client, oldest 40 s (stream 3)"})
	fs = append(fs, &live.Finding{ID: 503, Code: live.CodeChurn, Severity: live.Warning, Opened: t0, Text: "sessions open and close fast"})
	got := groupFindings(fs, nil)
	want := []string{
		"    LEAK warning ×501 (findings #1–#501, sessions 1–501), open: the server never closes its streams: 1 half-closed by the client, oldest 40–42 s (stream 3)",
		"    #502 LEAK warning, session 700, resolved after 1.5 s: the server never closes its streams: 1 half-closed by the client, oldest 40 s (stream 3)",
		"    #503 CHURN warning, open: sessions open and close fast",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("grouped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := idList([]uint64{9, 1, 2, 3, 7, 10, 11, 12, 20, 30, 31, 40}, ""); got != "1–3, 7, 9–12, 20 and 3 more" {
		t.Errorf("idList = %q", got)
	}
	for _, group := range []bool{false, true} {
		var b bytes.Buffer
		writeFindings(&b, Summary{Findings: fs, FindingsOpened: 503, GroupFindings: group})
		lines := strings.Count(b.String(), "\n")
		if group && lines != 4 || !group && lines != 5 {
			t.Errorf("group %v: %d lines, want a heading and %d:\n%.2000s", group, lines, map[bool]int{false: 4, true: 3}[group], b.String())
		}
	}
}

// TestGroupFindingsAddresses: an address in a finding's words, an IP
// address or a host and port, is one word, which findings must share to
// be grouped; it was numbers, so findings that differed in an address
// alone took one line, and the line blanked the address into ranges,
// "127.0.0.1:40312–40313". No finding's text names an address today (they
// name the ends by role); notices and the ends of sessions do, in these
// words, and a finding's may come to.
func TestGroupFindingsAddresses(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	var fs []*live.Finding
	add := func(text string) {
		id := uint64(len(fs) + 1)
		fs = append(fs, &live.Finding{ID: id, Code: live.CodeKeepalive, Severity: live.Warning, Session: id, Opened: t0, Text: text})
	}
	for _, from := range []string{"127.0.0.1:40312", "127.0.0.1:40313", "127.0.0.1:40312"} {
		add("the client " + from + " has sent nothing for 4" + from[len(from)-1:] + " s")
	}
	for _, up := range []string{"[::1]:9000", "[::1]:9001", "[fe80::1%eth0]:9000", "localhost:9000", "localhost:9001", "db1.example.com:5432", "10.0.0.2"} {
		add("the upstream " + up + " has sent nothing for 42 s")
	}
	got := groupFindings(fs, nil)
	want := []string{
		"    KEEPALIVE warning ×2 (findings #1, #3, sessions 1, 3), open: the client 127.0.0.1:40312 has sent nothing for 42 s",
		"    #2 KEEPALIVE warning, session 2, open: the client 127.0.0.1:40313 has sent nothing for 43 s",
		"    #4 KEEPALIVE warning, session 4, open: the upstream [::1]:9000 has sent nothing for 42 s",
		"    #5 KEEPALIVE warning, session 5, open: the upstream [::1]:9001 has sent nothing for 42 s",
		"    #6 KEEPALIVE warning, session 6, open: the upstream [fe80::1%eth0]:9000 has sent nothing for 42 s",
		"    #7 KEEPALIVE warning, session 7, open: the upstream localhost:9000 has sent nothing for 42 s",
		"    #8 KEEPALIVE warning, session 8, open: the upstream localhost:9001 has sent nothing for 42 s",
		"    #9 KEEPALIVE warning, session 9, open: the upstream db1.example.com:5432 has sent nothing for 42 s",
		"    #10 KEEPALIVE warning, session 10, open: the upstream 10.0.0.2 has sent nothing for 42 s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("grouped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Numbers next to addresses, and things that look like them but are not.
	for _, c := range []struct {
		line  string
		words []string
		nums  []string
	}{
		{"from 10.0.0.1:80 and [2001:db8::1]:443, oldest 4.5 s", []string{"from 10.0.0.1:80 and [2001:db8::1]:443, oldest ", " s"}, []string{"4.5"}},
		{"fe80::1 and ::1 sent 3 frames", []string{"fe80::1 and ::1 sent ", " frames"}, []string{"3"}},
		{"stream 3: 1.5 s at 04:31:08 (v2)", []string{"stream ", ": ", " s at ", ":", ":", " (v", ")"}, []string{"3", "1.5", "04", "31", "08", "2"}},
	} {
		words, nums := tokens(c.line)
		if fmt.Sprintf("%q %q", words, nums) != fmt.Sprintf("%q %q", c.words, c.nums) {
			t.Errorf("tokens(%q) = %q %q, want %q %q", c.line, words, nums, c.words, c.nums)
		}
	}
}
