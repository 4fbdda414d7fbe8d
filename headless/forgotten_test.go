package headless

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// yamuxWire returns the bytes each end of a real hashicorp/yamux session
// wrote while its client echoed a request on each of two streams.
func yamuxWire(t *testing.T) (c2s, s2c []byte) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	cw, sw := &smuxtest.RecordingConn{Conn: cc}, &smuxtest.RecordingConn{Conn: sc}
	cfg := smuxtest.YamuxConfig()
	srv, err := hyamux.Server(sw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := smuxtest.EchoYamux(srv)
	cli, err := hyamux.Client(cw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"RAND", strings.Repeat("x", 3000)} {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte(req))
		st.Close()
		if got, err := io.ReadAll(st); err != nil || string(got) != req {
			t.Fatalf("echo %q: %v", got, err)
		}
	}
	cli.Close()
	<-served
	srv.Close()
	return cw.Bytes(), sw.Bytes()
}

// TestSummaryOfForgottenSessions: a registry that has forgotten its ended
// sessions (EndedSessions) sums the same wire bytes, unparsed bytes, lost
// and skipped bytes and incomplete sessions as one that still tracks
// them, in the plain and JSON summaries alike, and the wire bytes are
// those the sessions' feeders saw: real yamux after a one-byte prefix, a
// connection that is not a mux, and a capture that joined mid-stream and
// lost a frame. The first two are forgotten.
func TestSummaryOfForgottenSessions(t *testing.T) {
	c2s, s2c := yamuxWire(t)
	http := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	feed := func(reg *live.Registry) (seen [2]int) {
		at := time.Unix(1000, 0)
		session := func(proto tap.Protocol, skip int, feed func(out, in *tap.Feeder)) {
			s := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, at)
			out, in := tap.NewFeeders(s, 64, proto, skip)
			feed(&out, &in)
			out.End(at, true)
			in.End(at, true)
			s.End(at, live.EOF, nil)
		}
		// Joined 5 bytes into the client's first header; the server's
		// first frame, a 12-byte WINDOW_UPDATE, lost.
		session(tap.Yamux, 0, func(out, in *tap.Feeder) {
			out.Resync()
			out.Feed(c2s[5:], at)
			in.Gap(12, at)
			in.Feed(s2c[12:], at)
		})
		seen[0] += len(c2s) - 5
		seen[1] += len(s2c) - 12
		session(tap.Detect, 1, func(out, in *tap.Feeder) {
			out.Feed(append([]byte{4}, c2s...), at)
			in.Feed(s2c, at)
		})
		seen[0] += 1 + len(c2s)
		seen[1] += len(s2c)
		session(tap.Detect, 0, func(out, in *tap.Feeder) {
			out.Feed(http, at)
			in.Feed(http, at)
		})
		seen[0] += len(http)
		seen[1] += len(http)
		return seen
	}
	summaries := func(bound int) (map[string]any, string, [2]int) {
		reg := live.New(live.Config{EndedSessions: bound})
		seen := feed(reg)
		snap := reg.Snapshot()
		if bound == 1 && snap.Forgotten.Sessions != 2 {
			t.Fatalf("%d sessions forgotten, want 2", snap.Forgotten.Sessions)
		}
		sum := Summarize(snap, 0)
		var j map[string]any
		if err := json.Unmarshal(appendJSONSummary(nil, sum), &j); err != nil {
			t.Fatal(err)
		}
		var plain strings.Builder
		WriteSummary(&plain, sum)
		bytesLine := ""
		for l := range strings.Lines(plain.String()) {
			if strings.HasPrefix(l, "  bytes") || strings.HasPrefix(l, "  INCOMPLETE") {
				bytesLine += l
			}
		}
		return j, bytesLine, seen
	}
	tracked, trackedPlain, seen := summaries(0)
	forgot, forgotPlain, _ := summaries(1)
	for _, k := range []string{"sessions", "bytes", "unparsed", "unsent", "incomplete", "lost", "skipped"} {
		got, _ := json.Marshal(forgot[k])
		want, _ := json.Marshal(tracked[k])
		t.Logf("%-10s forgotten %s, tracked %s", k, got, want)
		if !bytes.Equal(got, want) {
			t.Errorf("JSON summary %s: %s with the sessions forgotten, %s with them tracked", k, got, want)
		}
	}
	if forgotPlain != trackedPlain {
		t.Errorf("plain summary, with the sessions forgotten:\n%swith them tracked:\n%s", forgotPlain, trackedPlain)
	}
	b := tracked["bytes"].(map[string]any)
	if got := [2]int{int(b["c2s"].(float64)), int(b["s2c"].(float64))}; got != seen {
		t.Errorf("wire bytes %v, the feeders saw %v", got, seen)
	}
}
