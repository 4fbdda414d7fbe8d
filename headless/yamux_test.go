package headless

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxPlain pins the plain lines of yamux records and that writing
// them allocates nothing.
func TestYamuxPlain(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 3, 441207000, time.UTC)
	rec := func(h yamux.Header, p string, a live.Anomaly) *live.Record {
		return &live.Record{Kind: live.FrameRecord, Session: 2, At: at, Proto: live.Yamux, YamuxHeader: h, Payload: []byte(p), Anomaly: a}
	}
	tests := []struct {
		r    *live.Record
		want string
	}{
		{rec(yamux.MakeHeader(yamux.Data, yamux.SYN|yamux.ACK, 3, 4), "RAND", 0),
			"12:01:03.441207 #2 → DATA SYN|ACK sid 3 len 4  52 41 4e 44  RAND"},
		{rec(yamux.MakeHeader(yamux.WindowUpdate, 0, 2, 262144), "", 0),
			"12:01:03.441207 #2 → WINDOW_UPDATE sid 2 delta 262144"},
		{rec(yamux.MakeHeader(yamux.Ping, yamux.ACK, 0, 7), "", 0),
			"12:01:03.441207 #2 → PING ACK value 7"},
		{rec(yamux.MakeHeader(yamux.GoAway, 0, 0, 1), "", 0),
			"12:01:03.441207 #2 → GO_AWAY code 1 (protocol error)"},
		{rec(yamux.MakeHeader(yamux.Data, 0, 9, 1), "x", live.UnknownStream),
			"12:01:03.441207 #2 → DATA sid 9 len 1  78  x  [UNKNOWN_STREAM: " + live.UnknownStream.YamuxReaction() + "]"},
		{&live.Record{Kind: live.FramingViolation, Session: 2, At: at, Proto: live.Yamux, Dir: live.ServerToClient, Offset: 24,
			YamuxCode: yamux.BadVersion, Detail: "bad version 1 (yamux speaks 0)"},
			"12:01:03.441207 #2 ← VIOLATION BAD_VERSION at offset 24: bad version 1 (yamux speaks 0); " + yamux.BadVersion.YamuxReaction()},
	}
	var line []byte
	for _, tc := range tests {
		if got := string(appendPlain(nil, tc.r)); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		if n := testing.AllocsPerRun(10, func() { line = appendPlain(line[:0], tc.r) }); n != 0 {
			t.Errorf("%q: %v allocations", tc.want, n)
		}
	}
}

// TestPlainTruncatedAnomaly pins the parts the smux and yamux frame lines
// share: a truncated payload's "+", the payload bytes the capture lost,
// and an anomaly with the reaction of the session's library.
func TestPlainTruncatedAnomaly(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 3, 441207000, time.UTC)
	tests := []struct {
		r    *live.Record
		want string
	}{
		{&live.Record{Kind: live.FrameRecord, Session: 1, At: at, Header: decoder.MakeHeader(1, decoder.PSH, 9, 5),
			Payload: []byte("ab"), Truncated: true, Anomaly: live.UnknownStream},
			"12:01:03.441207 #1 → v1 PSH sid 5 len 9  61 62+  ab  [UNKNOWN_STREAM: " + live.UnknownStream.SmuxReaction() + "]"},
		{&live.Record{Kind: live.FrameRecord, Session: 2, At: at, Proto: live.Yamux, YamuxHeader: yamux.MakeHeader(yamux.Data, 0, 5, 9),
			Payload: []byte("ab"), Truncated: true, Anomaly: live.UnknownStream},
			"12:01:03.441207 #2 → DATA sid 5 len 9  61 62+  ab  [UNKNOWN_STREAM: " + live.UnknownStream.YamuxReaction() + "]"},
		{&live.Record{Kind: live.FrameRecord, Session: 1, At: at, Header: decoder.MakeHeader(1, decoder.PSH, 3000, 3),
			Payload: []byte("ab"), Truncated: true, Lost: 1448},
			"12:01:03.441207 #1 → v1 PSH sid 3 len 3000  61 62+  ab  (1448 payload bytes lost by the capture)"},
		{&live.Record{Kind: live.FrameRecord, Session: 2, At: at, Proto: live.Yamux, YamuxHeader: yamux.MakeHeader(yamux.Data, 0, 5, 1<<20),
			Truncated: true, Lost: 65536},
			"12:01:03.441207 #2 → DATA sid 5 len 1048576  (65536 payload bytes lost by the capture)"},
	}
	line := make([]byte, 0, 256)
	for _, tc := range tests {
		if got := string(appendPlain(nil, tc.r)); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		if n := testing.AllocsPerRun(10, func() { line = appendPlain(line[:0], tc.r) }); n != 0 && !racetest.Enabled {
			t.Errorf("%q: %v allocations", tc.want, n)
		}
	}
}

// TestPlainViolation pins a framing violation's line for each library,
// with the reaction of the session's library, and that writing it
// allocates nothing.
func TestPlainViolation(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 1, 3, 441207000, time.UTC)
	tests := []struct {
		r    *live.Record
		want string
	}{
		{&live.Record{Kind: live.FramingViolation, Session: 1, At: at, Dir: live.ClientToServer, Offset: 0,
			Code: decoder.BadVersion, Detail: "version 71"},
			"12:01:03.441207 #1 → VIOLATION BAD_VERSION at offset 0: version 71; " + decoder.BadVersion.SmuxReaction()},
		{&live.Record{Kind: live.FramingViolation, Session: 2, At: at, Proto: live.Yamux, Dir: live.ServerToClient, Offset: 24,
			YamuxCode: yamux.BadVersion, Detail: "bad version 1"},
			"12:01:03.441207 #2 ← VIOLATION BAD_VERSION at offset 24: bad version 1; " + yamux.BadVersion.YamuxReaction()},
	}
	var line []byte
	for _, tc := range tests {
		if got := string(appendPlain(nil, tc.r)); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		if n := testing.AllocsPerRun(10, func() { line = appendPlain(line[:0], tc.r) }); n != 0 {
			t.Errorf("%q: %v allocations", tc.want, n)
		}
	}
}
