package live_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// vclock is the virtual time a test's taps record at: the test moves it,
// so that a reader that reads 1 KiB every 200 ms does so in a moment.
type vclock struct {
	mu     sync.Mutex
	now    time.Time
	n      time.Duration // frames recorded at now: 1 µs apart, in order
	writes int
}

// vtap records what an end of a real smux or yamux session writes into
// sess at the virtual clock's time, as the tap does: before it goes out.
type vtap struct {
	net.Conn
	clk   *vclock
	sess  *live.Session
	dir   live.Dir
	smux  *decoder.Decoder
	yamux *yamux.Decoder
}

func (c *vtap) Write(p []byte) (int, error) {
	c.clk.mu.Lock()
	c.clk.writes++
	for q := p; len(q) > 0; {
		at := c.clk.now.Add(c.clk.n)
		c.clk.n += time.Microsecond
		if c.yamux != nil {
			n, f, err := c.yamux.Next(q)
			q = q[n:]
			if f != nil {
				c.sess.RecordYamux(c.dir, at, f)
			}
			if err != nil {
				c.clk.mu.Unlock()
				panic(err)
			}
			continue
		}
		n, f, err := c.smux.Next(q)
		q = q[n:]
		if f != nil {
			c.sess.Record(c.dir, at, f)
		}
		if err != nil {
			c.clk.mu.Unlock()
			panic(err)
		}
	}
	c.clk.mu.Unlock()
	return c.Conn.Write(p)
}

// quiet waits until neither end has written for 20 ms: what a read set
// off (a UPD, the writer's frames into the window it opened) is recorded.
func (c *vclock) quiet() {
	last := -1
	for {
		c.mu.Lock()
		w := c.writes
		c.mu.Unlock()
		if w == last {
			return
		}
		last = w
		time.Sleep(20 * time.Millisecond)
	}
}

// advance moves the clock to t.
func (c *vclock) advance(t time.Time) {
	c.mu.Lock()
	c.now, c.n = t, 0
	c.mu.Unlock()
}

// TestSlowReaderOneStall: a server pushes 1.5 MiB on a stream whose
// reader, the client, reads 1 KiB every 200 ms (5 KB/s) for 80 s, then
// catches up and reads the rest at once; real smux v2 and real yamux
// sessions, at their default windows, recorded at a virtual clock and
// evaluated every 200 ms at --stall-after 2 s. The reader reports each
// half window it reads (smux v2 a UPD every 32 KiB, 6.4 s; yamux a window
// update every 128 KiB, 25.6 s), after its writer was held all the while,
// and the writer fills what it opens at once: that is one WINDOW_STALL,
// open from the first hold until the reader catches up, when it resolves
// within --stall-after / 2. Before, each report resolved it and it opened
// again 2 s later: smux v2 opened 13 in the 80 s and yamux 4, each resolved after 4.4 s (smux v2)
// each, and an alert that waits 5 minutes for a stall never fired. A
// reader of 1 MB/s opens none. Its first report after the hold says
// that the reader paused, or reads far slower than its writer writes;
// its second, that it reads far slower: each told at once (before, the
// first said so already, which one report, after a pause, does not show:
// TestStallPausedReaderNotSlowReal).
func TestSlowReaderOneStall(t *testing.T) {
	const total = 1536 << 10
	for _, proto := range []string{"smux v2", "yamux"} {
		for _, slow := range []bool{true, false} {
			name := proto + "/fast reader"
			if slow {
				name = proto + "/slow reader"
			}
			t.Run(name, func(t *testing.T) {
				reg := live.New(live.Config{})
				clk := &vclock{now: t0}
				var sess *live.Session
				var a, b net.Conn     // the client's end, the server's
				mux := smuxtest.Mux{} // hashicorp/yamux, keepalive off: no pings at real times
				if proto == "yamux" {
					sess = reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
					a, b = net.Pipe()
				} else {
					sess = reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Client, Label: "test"}, t0)
					mux.Smux = smuxtest.Config(2)
					mux.Smux.KeepAliveDisabled = true // no NOPs at real times
					a, b = smuxtest.Conns(t)
				}
				tapped := func(c net.Conn, dir live.Dir) net.Conn {
					if mux.Yamux() {
						return &vtap{Conn: c, clk: clk, sess: sess, dir: dir, yamux: yamux.New(64)}
					}
					return &vtap{Conn: c, clk: clk, sess: sess, dir: dir, smux: decoder.New(64)}
				}
				cli, err := mux.Client(tapped(a, live.ClientToServer))
				if err != nil {
					t.Fatal(err)
				}
				srv, err := mux.Server(tapped(b, live.ServerToClient))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cli.Close(); srv.Close() })
				reader, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				reader.Write([]byte("GET"))
				writer, err := srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				go writer.Write(make([]byte, total)) // it pushes, as far as the window lets it
				// filled: the writer has filled the window it was given,
				// at the virtual clock's time, or written all it had.
				// clk.quiet's 20 ms without a write was not enough under
				// load: a writer that had not yet filled the window a
				// UPD opened showed it open at the evaluation, which
				// resolved the stall ("the window opened (a UPD)"), to
				// open again 2 s later.
				sid := smuxtest.StreamID(reader)
				filled := func() {
					t.Helper()
					smuxtest.Eventually(t, "the writer to fill its window", func() bool {
						ss := reg.Snapshot().Sessions
						if len(ss) != 1 {
							return false
						}
						st := ss[0].Stream(sid)
						return st != nil && (!st.Flow[live.ServerToClient].FullSince.IsZero() || st.Bytes[live.ServerToClient] == total)
					})
				}
				filled()
				cfg := live.FindingsConfig{StallAfter: 2 * time.Second, UnansweredAfter: time.Hour, Churn: -1} // --leak-after 30 s: the stream lives 80 s
				step := 200 * time.Millisecond
				per := 1 << 10 // 5 KB/s
				if !slow {
					per = 200 << 10 // 1 MB/s
				}
				buf := make([]byte, per)
				read := 0
				at := t0
				for ; at.Before(t0.Add(80*time.Second)) && read < total; at = at.Add(step) {
					clk.advance(at)
					clk.mu.Lock()
					before := clk.writes
					clk.mu.Unlock()
					n, err := io.ReadFull(reader, buf[:min(per, total-read)])
					if err != nil {
						t.Fatal(err)
					}
					read += n
					clk.mu.Lock()
					reported := clk.writes != before
					clk.mu.Unlock()
					if reported { // a UPD: the writer fills what it opened
						filled()
					}
					reg.Evaluate(at, cfg)
					for _, f := range reg.Snapshot().Findings {
						if f.Code != live.CodeWindowStall {
							t.Fatalf("at %v: %v: %s", at.Sub(t0), f.Code, f.Text)
						}
					}
				}
				stalls := func() (opened, resolved []*live.Finding) {
					recs, _ := reg.Frames(live.Query{From: 1}, nil)
					for _, r := range recs {
						if r.Finding != nil && r.Finding.Code == live.CodeWindowStall {
							switch r.Kind {
							case live.FindingOpened:
								opened = append(opened, r.Finding)
							case live.FindingResolved:
								resolved = append(resolved, r.Finding)
							}
						}
					}
					return
				}
				opened, resolved := stalls()
				if !slow {
					if len(opened) > 0 {
						t.Fatalf("a reader of 1 MB/s: %s", opened[0].Text)
					}
					return
				}
				if len(opened) != 1 || len(resolved) != 0 {
					for _, f := range append(opened, resolved...) {
						t.Logf("%v opened at %v, resolved at %v: %s (%s)", f.Code, f.Opened.Sub(t0), f.Resolved.Sub(t0), f.Text, f.Why)
					}
					t.Fatalf("a slow reader's 80 s: %d WINDOW_STALL opened, %d resolved; want one, open", len(opened), len(resolved))
				}
				open := reg.Snapshot().Findings
				if len(open) != 1 || open[0].Code != live.CodeWindowStall || open[0].Evidence.Slow < cfg.StallAfter ||
					!strings.Contains(open[0].Text, "reads, but far slower than it writes") {
					t.Fatalf("open at 80 s: %+v, want the one WINDOW_STALL, saying its reader reads slowly", open)
				}
				t.Logf("at 80 s: %s", open[0].Text)
				// While it is open, records tell that the reader read
				// again, after a pause or slowly, as the first report came
				// to a held writer, and that it reads slowly, as the
				// second did. Before, only its resolution said so.
				var updated []*live.Finding
				recs, _ := reg.Frames(live.Query{From: 1}, nil)
				for _, r := range recs {
					if r.Kind == live.FindingUpdated && r.Finding.Code == live.CodeWindowStall {
						updated = append(updated, r.Finding)
					}
				}
				for i, want := range []string{pausedWords, slowWords} {
					if len(updated) != 2 || updated[i].Evidence.Slow < cfg.StallAfter || !strings.Contains(updated[i].Text, want) {
						for _, f := range updated {
							t.Log(f.Text)
						}
						t.Fatalf("WINDOW_STALL updated %d times while open, want twice, saying its reader paused or reads slowly, then that it reads slowly", len(updated))
					}
				}
				// The reader catches up: it reads the rest at once.
				caught := at
				clk.advance(caught)
				if _, err := io.ReadFull(reader, make([]byte, total-read)); err != nil {
					t.Fatal(err)
				}
				clk.quiet()
				for ; !at.After(caught.Add(cfg.StallAfter)); at = at.Add(step) {
					reg.Evaluate(at, cfg)
				}
				if _, resolved = stalls(); len(resolved) != 1 || resolved[0].Resolved.After(caught.Add(cfg.StallAfter/2)) {
					t.Fatalf("the reader caught up at %v: resolved %v, want within --stall-after / 2", caught.Sub(t0), resolved)
				}
				t.Logf("resolved %v after the reader caught up: %s", resolved[0].Resolved.Sub(caught), resolved[0].Why)
				slowInJSON(t, reg, cfg.StallAfter)
			})
		}
	}
}

// slowInJSON checks the one WINDOW_STALL of a slow reader in reg's
// records as the JSON output writes them: opened with no slow (no report
// had come), resolved with slow, the writer's hold when the reader's
// latest report came, stallAfter or more; and, between the two, two
// finding-updated that tell it, with slow, as the plain output's UPDATED
// lines do with the texts that say the reader paused or reads slowly,
// then that it reads slowly.
func slowInJSON(t *testing.T, reg *live.Registry, stallAfter time.Duration) {
	t.Helper()
	var out bytes.Buffer
	if err := headless.NewPrinter(reg, &out, headless.JSON).Flush(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		typ, _ := m["type"].(string)
		if m["code"] != "WINDOW_STALL" || !strings.HasPrefix(typ, "finding-") {
			continue
		}
		seen[typ]++
		slow, has := m["slow"].(float64)
		switch {
		case typ == "finding-opened" && has:
			t.Errorf("opened with slow %v, before any report of the reader: %s", slow, line)
		case typ != "finding-opened" && slow < stallAfter.Seconds():
			t.Errorf("%s: slow = %#v, want the writer's hold at the reader's latest report, %v or more: %s", typ, m["slow"], stallAfter, line)
		}
	}
	if seen["finding-opened"] != 1 || seen["finding-updated"] != 2 || seen["finding-resolved"] != 1 {
		t.Errorf("WINDOW_STALL in the JSON: %v; want it opened, updated twice and resolved", seen)
	}
	out.Reset()
	if err := headless.NewPrinter(reg, &out, headless.Plain).Flush(); err != nil {
		t.Fatal(err)
	}
	var updated []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, " UPDATED ") && strings.Contains(line, " WINDOW_STALL ") {
			updated = append(updated, line)
		}
	}
	if len(updated) != 2 || !strings.Contains(updated[0], pausedWords) || !strings.Contains(updated[1], slowWords) {
		t.Errorf("plain: WINDOW_STALL's UPDATED lines %q, want one saying its reader paused or reads slowly, then one that it reads slowly", updated)
	}
}
