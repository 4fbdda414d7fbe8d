package live_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestLeakHTTPPooledAfterContinueReal: a POST sent with Expect:
// 100-continue, the server's 100 Continue and then its answer, the
// connection idle in the Transport's pool (real smux v2 and yamux): the
// LEAK gets the pool words, the final status line cut by the 32 bytes
// kept ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1."). Before, HTTP1KeepAlive
// saw the interim's code and the advice was only a forgotten Close's.
// Its twin, a handler that hangs after the 100 Continue, keeps the
// no-answer words (TestLeakHTTPInterimReal) and no pool words.
func TestLeakHTTPPooledAfterContinueReal(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"smux-v2", "yamux"} {
		for _, hang := range []bool{true, false} {
			t.Run(name+map[bool]string{true: "/hang", false: "/answered"}[hang], func(t *testing.T) {
				reg, m := poolSession(t, name)
				block := make(chan struct{})
				t.Cleanup(func() { close(block) })
				poolServe(t, m, func(w http.ResponseWriter, r *http.Request) {
					io.ReadAll(r.Body) // sends 100 Continue
					if hang {
						<-block
					}
					io.WriteString(w, "done\n")
				}, false)
				tr := poolTransport(m, false)
				t.Cleanup(tr.CloseIdleConnections)
				go func() {
					req, _ := http.NewRequest("POST", "http://backend.example/up", strings.NewReader("payload"))
					req.Header.Set("Expect", "100-continue")
					resp, err := (&http.Client{Transport: tr}).Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
				time.Sleep(1800 * time.Millisecond)
				for range 3 {
					reg.Evaluate(time.Now(), leakWordsCfg)
					time.Sleep(200 * time.Millisecond)
				}
				leaks := 0
				for _, f := range reg.Snapshot().Findings {
					t.Logf("%s pool=%d heads=%q\n TEXT %s\n ADVICE %s", f.Code, f.Evidence.Pool, headsOf(f), f.Text, f.Advice)
					if f.Code != live.CodeLeak {
						continue
					}
					leaks++
					words := strings.Contains(f.Advice, "is an HTTP/1.1 exchange")
					interim := strings.Contains(f.Text, "only an interim HTTP response (1xx) back")
					if hang && (words || !interim) || !hang && (!words || interim) {
						t.Errorf("hang %v: pool words %v, interim words %v; want the pool words only where the answer came", hang, words, interim)
					}
				}
				if leaks != 1 {
					t.Errorf("%d LEAK findings, want 1", leaks)
				}
			})
		}
	}
}

// headsOf is f's named streams' first bytes each way, as text.
func headsOf(f *live.Finding) []string {
	var out []string
	for _, h := range f.Heads {
		out = append(out, string(h[0].Bytes())+" | "+string(h[1].Bytes()))
	}
	return out
}
