package tui

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		terms int    // terms parsed; -1 for no filter at all
		text  string // the filter as the header shows it
		err   string // part of the error, "" for none
	}{
		{"empty", "", -1, "", ""},
		{"blank", "  \t ", -1, "", ""},
		{"cmd", "cmd:psh", 1, "cmd:psh", ""},
		{"cmd upper case", "CMD:FIN", 1, "CMD:FIN", ""},
		{"every term", `cmd:psh sid:4413 session:2 dir:> len>100 ver:2 violation "RAND" hex:52414e44`, 9, `cmd:psh sid:4413 session:2 dir:> len>100 ver:2 violation "RAND" hex:52414e44`, ""},
		{"blanks collapse", "  sid:3   dir:<  ", 2, "sid:3 dir:<", ""},
		{"arrows", "dir:→ dir:←", 2, "dir:→ dir:←", ""},
		{"len forms", "len<8 len=0 len>=1 len<=9 len:4", 5, "len<8 len=0 len>=1 len<=9 len:4", ""},
		{"quoted with blanks", `"hello world" cmd:psh`, 2, `"hello world" cmd:psh`, ""},
		{"quote glued to a term", `cmd:psh"RAND"`, 2, `cmd:psh "RAND"`, ""},
		{"unknown cmd", "cmd:foo", 0, "", `unknown cmd "foo"`},
		{"bad sid", "sid:-1", 0, "", `sid "-1" is not a stream id`},
		{"sid too big", "sid:4294967296", 0, "", "is not a stream id"},
		{"bad session", "session:x", 0, "", `session "x"`},
		{"bad dir", "dir:up", 0, "", "use dir:>"},
		{"len is a text unless compared", "len!3 length", 2, "len!3 length", ""},
		{"len without number", "len>", 0, "", "must be a number"},
		{"bad ver", "ver:300", 0, "", "is not a version"},
		{"odd hex", "hex:123", 0, "", "whole bytes"},
		{"empty hex", "hex:", 0, "", `"hex:" needs a value`},
		{"unclosed quote", `"RAND`, 0, "", "closing"},
		{"empty quote", `""`, 0, "", "between the quotes"},
		{"bare word", "RAND", 1, "RAND", ""},
		{"bare words and terms", "GET /index.html cmd:psh", 3, "GET /index.html cmd:psh", ""},
		{"a colon in a text", "/a:b Host:", 0, "", `no term "host:"`},
		{"an unknown name", "cdm:psh", 0, "", `no term "cdm:"; try cmd`},
		{"not a name", "/x:y 10.0.0.1:80", 2, "/x:y 10.0.0.1:80", ""},
		{"one bad term spoils all", "cmd:psh sid:x", 0, "", "sid"},
		{"control characters are shown safely", "\x1b[2J", 1, ".[2J", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFilter(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "filter: ") {
					t.Fatalf("parseFilter(%q) = %v, %v; want an error with %q", tt.in, f, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFilter(%q): %v", tt.in, err)
			}
			if tt.terms < 0 {
				if f != nil {
					t.Fatalf("parseFilter(%q) = %+v, want no filter", tt.in, f)
				}
				return
			}
			if len(f.terms) != tt.terms || f.text != tt.text {
				t.Fatalf("parseFilter(%q) = %d terms %q, want %d %q", tt.in, len(f.terms), f.text, tt.terms, tt.text)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	frame := func(sess uint64, dir live.Dir, ver uint8, cmd decoder.Cmd, sid uint32, payload string) *live.Record {
		return &live.Record{Kind: live.FrameRecord, Session: sess, Dir: dir,
			Header: decoder.MakeHeader(ver, cmd, uint16(len(payload)), sid), Payload: []byte(payload)}
	}
	psh := frame(2, live.ClientToServer, 1, decoder.PSH, 4413, "RAND")
	answer := frame(2, live.ServerToClient, 1, decoder.PSH, 4413, "\x00\x01\x02\x03\x04\x05\x06\x07")
	fin := frame(1, live.ServerToClient, 2, decoder.FIN, 3, "")
	anomaly := frame(1, live.ServerToClient, 1, decoder.PSH, 99, "late")
	anomaly.Anomaly = live.UnknownStream
	violation := &live.Record{Kind: live.FramingViolation, Session: 3, Dir: live.ServerToClient, Header: decoder.MakeHeader(9, decoder.PSH, 4, 3)}
	opened := &live.Record{Kind: live.SessionOpened, Session: 2, Client: "a", Server: "b"}
	damaged := frame(2, live.ServerToClient, 2, decoder.PSH, 5, "partial")
	damaged.Lost = 1448
	resync := &live.Record{Kind: live.ResyncRecord, Session: 2, Dir: live.ServerToClient, Detail: "capture lost 1448 bytes at offset 20480"}

	tests := []struct {
		filter string
		rec    *live.Record
		want   bool
	}{
		{"cmd:psh", psh, true},
		{"cmd:PSH", fin, false},
		{"cmd:fin", fin, true},
		{"sid:4413", psh, true},
		{"sid:4414", psh, false},
		{"session:2", psh, true},
		{"session:2", opened, true},
		{"session:1", psh, false},
		{"dir:>", psh, true},
		{"dir:→", answer, false},
		{"dir:<", answer, true},
		{"dir:<", violation, true},
		{"dir:<", opened, false},
		{"len>4", answer, true},
		{"len>4", psh, false},
		{"len<4", psh, false},
		{"len<=4", psh, true},
		{"len>=8", answer, true},
		{"len=0", fin, true},
		{"len:4", psh, true},
		{"ver:2", fin, true},
		{"ver:2", psh, false},
		{"violation", anomaly, true},
		{"violation", violation, true},
		{"violation", psh, false},
		{"violation", opened, false},
		{"lost", damaged, true},
		{"LOST", resync, true},
		{"lost", psh, false},
		{"lost", anomaly, false},
		{"lost", violation, false},
		{"lost", opened, false},
		{"lost dir:<", damaged, true},
		{"lost dir:<", resync, true},
		{"lost dir:>", resync, false},
		{"lost session:2", resync, true},
		{"lost cmd:psh", resync, false},
		{`"lost"`, damaged, false},
		{`"RAND"`, psh, true},
		{`"rand"`, psh, false},
		{`"AN"`, psh, true},
		{"hex:52414e44", psh, true},
		{"hex:0304", answer, true},
		{"hex:0403", answer, false},
		{"cmd:psh dir:< hex:0001", answer, true},
		{"cmd:psh dir:> hex:0001", answer, false},
		{"cmd:psh", violation, false},
		{"sid:3", violation, false},
		{"session:3 violation", violation, true},
		{`"a"`, opened, false},
		{"RAND", psh, true},
		{"RAND cmd:psh", psh, true},
		{"rand", psh, false},
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.filter)
		if err != nil {
			t.Fatalf("parseFilter(%q): %v", tt.filter, err)
		}
		if got := f.match(tt.rec); got != tt.want {
			t.Errorf("%q matches %v %s %v: %v, want %v", tt.filter, tt.rec.Kind, tt.rec.Header, tt.rec.Dir, got, tt.want)
		}
	}
}
