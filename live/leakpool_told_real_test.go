package live_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/live"
)

// TestLeakPoolWordsToldReal: the HTTP pool words come and go with the
// streams a LEAK names, and a record tells each change, the count the
// same or not (real smux v2 and yamux, net/http over the session, Bodies
// never closed, beside raw streams the server opens and leaves open):
// HTTP streams A and B and raw stream R leak (count 3, no pool words);
// R closes as HTTP stream C crosses the threshold: count 3 still, every
// named stream HTTP, the pool words, told by a finding-updated naming
// [A B C]. Before, nothing told it until the count moved, 5 s later:
// the records held the words without the pool and R, closed.
func TestLeakPoolWordsToldReal(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			reg, m := poolSession(t, name)
			_, client := httpOverPair(t, m, 0, time.Minute, false)
			var bodies []io.Closer
			get := func() {
				resp, err := client.Get("http://backend.example/hello")
				if err != nil {
					t.Fatal(err)
				}
				bodies = append(bodies, resp.Body)
			}
			ev := func(label string) {
				reg.Evaluate(time.Now(), leakWordsCfg)
				for _, f := range leaksOf(reg) {
					t.Logf("%s: LEAK id %d count %d stream %d pool %d sids %v poolwords=%v", label, f.ID, f.Evidence.Count, f.Stream, f.Evidence.Pool, f.StreamIDs, strings.Contains(f.Advice, "HTTP/1.1 exchange"))
				}
			}
			get()
			get()
			rc, rs := rawAsk(t, m, "REQ 1\n", "ANS 1\n")
			time.Sleep(1300 * time.Millisecond)
			ev("A,B,R")
			time.Sleep(1100 * time.Millisecond)
			ev("A,B,R again")
			get() // C
			time.Sleep(1200 * time.Millisecond)
			rs.Close()
			rc.Close()
			time.Sleep(300 * time.Millisecond)
			ev("R closed, C crossed (same count)")
			time.Sleep(1100 * time.Millisecond)
			ev("idle")
			r2c, r2s := rawAsk(t, m, "REQ 2\n", "ANS 2\n")
			time.Sleep(1200 * time.Millisecond)
			ev("R2 crossed")
			r2s.Close()
			r2c.Close()
			time.Sleep(300 * time.Millisecond)
			ev("R2 closed")
			time.Sleep(1100 * time.Millisecond)
			ev("idle2")
			for _, b := range bodies {
				b.Close()
			}
			time.Sleep(500 * time.Millisecond)
			ev("bodies closed")
			ev("again")
			var told []string // each LEAK record: kind, count, pool words
			for _, r := range allRecords(reg) {
				if r.Finding == nil || r.Finding.Code != live.CodeLeak {
					continue
				}
				f := r.Finding
				t.Logf("REC %s id %d count %d stream %d pool %d sids %v poolwords=%v why=%q", r.Kind, f.ID, f.Evidence.Count, f.Stream, f.Evidence.Pool, f.StreamIDs, strings.Contains(f.Advice, "HTTP/1.1 exchange"), r.Detail)
				told = append(told, fmt.Sprintf("%s %d %v", r.Kind, f.Evidence.Count, strings.Contains(f.Advice, "HTTP/1.1 exchange")))
			}
			want := []string{"finding-opened 3 false", "finding-updated 3 true", "finding-updated 4 false", "finding-updated 3 true", "finding-resolved 3 true"}
			if !slices.Equal(told, want) {
				t.Errorf("LEAK records (kind, count, pool words) %q; want %q", told, want)
			}
			var out bytes.Buffer
			if err := headless.NewPrinter(reg, &out, headless.JSON).Flush(); err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.Contains(l, "LEAK") {
					i := strings.Index(l, "\"advice\"")
					t.Logf("JSON %.300s ... pool=%v", l, strings.Contains(l, "HTTP/1.1 exchange"))
					_ = i
				}
			}
			snap := reg.Snapshot()
			t.Logf("open findings at end: %d", len(snap.Findings))
			_ = http.StatusOK
		})
	}
}

// rawAsk: the server opens a stream (the client session has no listener), sends req, client answers.
func rawAsk(t *testing.T, m livecaptest.Pair, req, ans string) (io.Closer, io.Closer) {
	t.Helper()
	s, err := m.Srv.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(s, req)
	c, err := m.Cli.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(req))
	io.ReadFull(c, buf)
	io.WriteString(c, ans)
	return s, c
}
