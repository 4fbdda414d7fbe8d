package live_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestAfterCloseLateReaderRealSmux: a real v2 server, its end tapped,
// ends its side of a stream at accept (CloseWrite, or Close) and, after
// CloseWrite, reads only later; the client reads to io.EOF and then
// writes 5 frames. No UPD comes within lateGrace: the server called
// Close, or has not read them yet, and a reader reading later than
// 500 ms is normal (an exploratory review's V1: "it called Close, and
// smux discarded them" as fact, the server reading all 600 bytes 1.5 s
// later). Its first read's UPD then says what it read: consuming past
// what came before the late frames, it read them, and the finding counts
// them out and resolves, saying so; consuming the first part alone, the
// rest is what a reader reads with no UPD, both readings. After Close the
// server reads nothing (its Read fails), no UPD comes, and the finding
// holds with both readings.
func TestAfterCloseLateReaderRealSmux(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first int  // bytes the client writes before the server's FIN
		close bool // the server calls Close and reads nothing
		want  string
	}{
		{"closewrite-reads-later", 0, false, "resolved"},
		{"closewrite-reads-later-after-a-first-part", 100, false, "both"},
		{"close", 0, true, "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, srv := smuxtest.Pair(t, smuxtest.Config(2), nil, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "test") })
			ready, read := make(chan struct{}), make(chan struct{})
			served := serveOne(srv, func(st *smux.Stream) error {
				<-ready // the first part came before its FIN
				if tc.close {
					st.Close()
					<-read
					if n, err := st.Read(make([]byte, 64)); err == nil {
						return fmt.Errorf("read %d bytes after Close", n)
					}
					return nil
				}
				if err := st.CloseWrite(); err != nil {
					return err
				}
				<-read
				// The first part alone first, as a reader of messages
				// does: its UPD consumes no late byte. Then the rest:
				// the client sends no FIN.
				if _, err := io.ReadFull(st, make([]byte, tc.first)); err != nil {
					return err
				}
				_, err := io.ReadFull(st, make([]byte, 500))
				return err
			})
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if tc.first > 0 {
				if _, err := st.Write(bytes.Repeat([]byte("f"), tc.first)); err != nil {
					t.Fatal(err)
				}
				waitStream(t, reg, st.ID(), "the first part", func(s *live.StreamSnap) bool { return s.Bytes[c2s] == uint64(tc.first) })
			}
			close(ready)
			if _, err := io.ReadAll(st); err != nil { // to the server's FIN
				t.Fatal(err)
			}
			for range 5 {
				if _, err := st.Write(bytes.Repeat([]byte("l"), 100)); err != nil {
					t.Fatal(err)
				}
			}
			waitStream(t, reg, st.ID(), "the late frames", func(s *live.StreamSnap) bool { return s.Bytes[c2s] == uint64(tc.first+500) })
			cfg := live.FindingsConfig{Churn: -1}
			t0 := time.Now()
			reg.Evaluate(t0.Add(100*time.Millisecond), cfg)
			reg.Evaluate(t0.Add(time.Second), cfg) // past lateGrace, no UPD
			fs := reg.Snapshot().Findings
			if len(fs) != 1 || fs[0].Code != live.CodeDataAfterClose {
				t.Fatalf("findings %+v; want DATA_AFTER_CLOSE alone", fs)
			}
			id := fs[0].ID
			for _, s := range []string{fs[0].Text, fs[0].Advice} {
				if strings.Contains(s, "would have sent one: it called Close") || !strings.Contains(s, "CloseWrite and") {
					t.Errorf("%q: no UPD yet is Close, or a reader that has not read them yet", s)
				}
			}
			close(read)
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			if !tc.close {
				waitStream(t, reg, st.ID(), "the server's UPD", func(s *live.StreamSnap) bool { return s.Flow[c2s].HasUPD })
			}
			reg.Evaluate(t0.Add(2*time.Second), cfg)
			fs = reg.Snapshot().Findings
			switch tc.want {
			case "resolved":
				if len(fs) != 0 {
					t.Fatalf("findings %+v; want none: the server's UPD consumed the late bytes (it read all %d)", fs, tc.first+500)
				}
				var why string
				for _, r := range allRecords(reg) {
					if r.Kind == live.FindingResolved && r.Finding.ID == id {
						why = r.Finding.Why
					}
				}
				if !strings.Contains(why, "the server's UPD showed it read them: it had half-closed with CloseWrite") {
					t.Errorf("resolved %q; want the server's UPD showing it read them", why)
				}
			case "both", "open":
				if len(fs) != 1 || fs[0].ID != id {
					t.Fatalf("findings %+v; want DATA_AFTER_CLOSE %d open", fs, id)
				}
				f := fs[0]
				want := "or it half-closed with CloseWrite and has not read them yet"
				if tc.want == "both" {
					// Its UPD consumed the first part alone: the late
					// frames fit in what it reads with no UPD.
					want = "smux discards them if the server called Close, and delivers them only after CloseWrite — the wire does not show whether the server read them"
				}
				if !strings.Contains(f.Text, want) || strings.Contains(f.Text, "would have sent one: it called Close") {
					t.Errorf("text %q; want %q", f.Text, want)
				}
			}
		})
	}
}
