package pcapout_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/pcapout"
)

// flushing is a middleware's ResponseWriter with Flush and no Unwrap:
// it flushes, and cannot reach the server's write deadline.
type flushing struct{ logging }

func (f *flushing) Flush() { f.ResponseWriter.(http.Flusher).Flush() }

// deadlined has a write deadline of its own and cannot flush.
type deadlined struct{ logging }

func (d *deadlined) SetWriteDeadline(time.Time) error { return nil }

// TestLiveRefusalNamesWhatIsMissing: a GET through a ResponseWriter
// that cannot stream the capture live is refused with a 500 whose one
// line names what it lacks — the write deadline of one that flushes
// (httptest.ResponseRecorder, a middleware with Flush and no Unwrap), the
// flush of one that takes a deadline, both of a middleware with neither —
// and its type; a HEAD through it is answered the same, not 200.
func TestLiveRefusalNamesWhatIsMissing(t *testing.T) {
	lc := pcapout.NewLive()
	t.Cleanup(func() { lc.Close() })
	cases := []struct {
		name       string
		rw         func(w http.ResponseWriter) http.ResponseWriter
		want, dont []string
	}{
		{"flushes, no deadline", func(w http.ResponseWriter) http.ResponseWriter { return &flushing{logging{ResponseWriter: w}} },
			[]string{"(*pcapout_test.flushing) can flush but not set a write deadline", "Unwrap"}, []string{"cannot flush"}},
		{"deadline, no flush", func(w http.ResponseWriter) http.ResponseWriter { return &deadlined{logging{ResponseWriter: w}} },
			[]string{"(*pcapout_test.deadlined) can set a write deadline but not flush", "Unwrap"}, []string{"cannot flush"}},
		{"neither", func(w http.ResponseWriter) http.ResponseWriter { return &logging{ResponseWriter: w} },
			[]string{"(*pcapout_test.logging) cannot flush or set a write deadline", "Unwrap"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { lc.ServeHTTP(c.rw(w), r) }))
			t.Cleanup(srv.Close)
			client := &http.Client{Timeout: 5 * time.Second}
			t.Cleanup(client.CloseIdleConnections)
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			line := strings.TrimSpace(string(body))
			if resp.StatusCode != http.StatusInternalServerError || strings.Contains(line, "\n") {
				t.Errorf("GET: %s %q; want 500 and one line", resp.Status, line)
			}
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("GET: %q; want it to say %q", line, w)
				}
			}
			for _, d := range c.dont {
				if strings.Contains(line, d) {
					t.Errorf("GET: %q says %q, which is not so", line, d)
				}
			}
			head, err := client.Head(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			head.Body.Close()
			if head.StatusCode != resp.StatusCode {
				t.Errorf("HEAD: %s; GET: %s", head.Status, resp.Status)
			}
		})
	}

	t.Run("httptest.ResponseRecorder", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			rec := httptest.NewRecorder()
			lc.ServeHTTP(rec, httptest.NewRequest(method, "/debug/muxtop/capture", nil))
			line := strings.TrimSpace(rec.Body.String())
			if rec.Code != http.StatusInternalServerError || (method == http.MethodGet && !strings.Contains(line, "(*httptest.ResponseRecorder) can flush but not set a write deadline")) {
				t.Errorf("%s: %d %q; want 500, and GET's body to say the recorder can flush but not set a write deadline", method, rec.Code, line)
			}
		}
	})
}

// TestLiveHeadWhenFull: with MaxViewers viewers served, a HEAD is
// answered 503 as a GET is, and takes no viewer's place: once the viewer
// leaves, HEAD and GET are served.
func TestLiveHeadWhenFull(t *testing.T) {
	lc := pcapout.NewLive()
	lc.MaxViewers = 1
	url := serveLive(t, lc)
	v := livecaptest.View(t, url)
	smuxtest.Eventually(t, "the viewer", func() bool { return lc.Viewers() == 1 })
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		resp, err := http.DefaultClient.Do(mustRequest(t, method, url))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s with the one viewer served: %s, want 503", method, resp.Status)
		}
	}
	v.Leave()
	smuxtest.Eventually(t, "the viewer to leave", func() bool { return lc.Viewers() == 0 })
	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD once the viewer left: %s, want 200", resp.Status)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLiveFullSays: a GET with MaxViewers viewers served is told how many
// in words that fit the number: "1 viewer", "2 viewers".
func TestLiveFullSays(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want string
	}{
		{1, "the capture has 1 viewer already, its most (pcapout.Live.MaxViewers): try again when one leaves\n"},
		{2, "the capture has 2 viewers already, its most (pcapout.Live.MaxViewers): try again when one leaves\n"},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			lc := pcapout.NewLive()
			lc.MaxViewers = tc.max
			url := serveLive(t, lc)
			for range tc.max {
				livecaptest.View(t, url)
			}
			smuxtest.Eventually(t, "the viewers", func() bool { return lc.Viewers() == tc.max })
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || string(b) != tc.want {
				t.Errorf("GET with MaxViewers (%d) served: %s %q, want 503 %q", tc.max, resp.Status, b, tc.want)
			}
		})
	}
}
