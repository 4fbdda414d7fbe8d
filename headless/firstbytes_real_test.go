package headless

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// leakRecord runs smuxtest.LeakyLeak over mux with request req, its
// server tapped, and returns the LEAK's finding-opened record, whose
// oldest stream must be the bad one.
func leakRecord(t *testing.T, mux smuxtest.Mux, req []byte) live.Record {
	t.Helper()
	_, bad, r := smuxtest.LeakyLeak(t, mux, tapServer, req)
	if r.Finding.Stream != bad {
		t.Fatalf("LEAK's oldest stream %d, want %d", r.Finding.Stream, bad)
	}
	return r
}

// tapServer taps c, a server's end, into reg.
func tapServer(c net.Conn, reg *live.Registry) net.Conn { return tap.Wrap(c, live.Server, reg, "srv") }

// TestLeakFirstBytesReal: a real smux (and yamux) server leaks the
// streams of "GET /bad" and answers them "ERR bad request"; history no
// longer holds their frames when LEAK opens. Its finding-opened JSON
// carries its oldest stream's first bytes each way, in hex, and the plain
// line quotes them as printable text. Before, neither did ("first" =
// <nil>; the plain line ended with the advice).
func TestLeakFirstBytesReal(t *testing.T) {
	for _, yam := range []bool{false, true} {
		t.Run(map[bool]string{false: "smux", true: "yamux"}[yam], func(t *testing.T) {
			r := leakRecord(t, smuxtest.MuxOf(yam), smuxtest.BadRequest)
			line := appendJSON(nil, &r)
			var j struct {
				First     map[string]any `json:"first"`
				FirstText map[string]any `json:"first_text"`
			}
			if err := json.Unmarshal(line, &j); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			wantC2S := "47 45 54 20 2f 62 61 64 20 48 54 54 50 2f 31 2e 31 0d 0a 48 6f 73 74 3a 20 65 78 61 6d 70 6c 65" // GET /bad HTTP/1.1\r\nHost: example
			wantS2C := "45 52 52 20 62 61 64 20 72 65 71 75 65 73 74"                                                    // ERR bad request
			if j.First["c2s"] != wantC2S || j.First["s2c"] != wantS2C || len(j.First) != 2 {
				t.Errorf("first = %v, want c2s %q s2c %q", j.First, wantC2S, wantS2C)
			}
			// The same bytes as the plain line's text, without its quotes.
			if c2s, s2c := "GET /bad HTTP/1.1..Host: example", "ERR bad request"; j.FirstText["c2s"] != c2s || j.FirstText["s2c"] != s2c || len(j.FirstText) != 2 {
				t.Errorf("first_text = %v, want c2s %q s2c %q", j.FirstText, c2s, s2c)
			}
			if got, want := string(appendJSON(nil, &r)), string(appendJSONMarshal(nil, &r)); got != want {
				t.Errorf("JSON\n got %s\nwant %s", got, want)
			}
			plain := string(appendPlain(nil, &r))
			want := ` · stream ` + strconv.FormatUint(uint64(r.Finding.Stream), 10) + `: "GET /bad HTTP/1.1..Host: example" → "ERR bad request" — `
			if !strings.Contains(plain, want) {
				t.Errorf("plain %q\nwants %q", plain, want)
			}
		})
	}
}

// TestLeakFirstBytesNeverRaw: a leaked request of ESC sequences, C0 and
// C1 controls, DEL and invalid UTF-8 reaches the JSON as hex, and the
// plain line and the JSON's first_text as '.' for each such byte: not
// one raw, the JSON's text the plain line's, quote and backslash
// escaped as JSON escapes them.
func TestLeakFirstBytesNeverRaw(t *testing.T) {
	req := []byte("GET /bad\"<&>\\\x1b[2J\x1b]0;\x07\x9b31m\xff\xfe\x7f\r\n\xc3") // 32 bytes: all kept
	r := leakRecord(t, smuxtest.MuxOf(false), req)
	plain := appendPlain(nil, &r)
	for _, c := range plain {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("plain line holds byte %#x: %q", c, plain)
		}
	}
	if want := `: "GET /bad\"<&>\\.[2J.]0;..31m......" → "ERR bad request"`; !strings.Contains(string(plain), want) {
		t.Errorf("plain %q\nwants %q", plain, want)
	}
	line := appendJSON(nil, &r)
	if strings.ContainsAny(string(plain), "\x1b\x07\x9b\xff") || !json.Valid(line) {
		t.Errorf("raw bytes in %q or invalid JSON", plain)
	}
	for _, c := range line {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("JSON holds byte %#x: %q", c, line)
		}
	}
	var j struct {
		FirstText struct{ C2S, S2C string } `json:"first_text"`
	}
	if err := json.Unmarshal(line, &j); err != nil {
		t.Fatal(err)
	}
	if want := `GET /bad"<&>\.[2J.]0;..31m......`; j.FirstText.C2S != want || j.FirstText.S2C != "ERR bad request" {
		t.Errorf("first_text %+v, want c2s %q, s2c %q:\n%s", j.FirstText, want, "ERR bad request", line)
	}
}
