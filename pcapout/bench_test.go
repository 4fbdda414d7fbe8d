package pcapout_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// BenchmarkRecord measures the demo's request (open a stream, write RAND,
// read 8 bytes, close) over real smux, tapped at the client, without and
// with --write: what recording costs the data path. The writer goroutine
// runs beside it; what it could not keep up with is reported as
// dropped-B/op.
func BenchmarkRecord(b *testing.B) {
	for _, write := range []bool{false, true} {
		name := "tap"
		if write {
			name = "tap+write"
		}
		b.Run(name, func(b *testing.B) {
			reg := live.New(live.Config{})
			var opts []tap.Option
			var w *pcapout.Writer
			if write {
				var err error
				if w, err = pcapout.Create(filepath.Join(b.TempDir(), "b.pcapng"), 0); err != nil {
					b.Fatal(err)
				}
				opts = append(opts, tap.Record(w))
			}
			cli, srv := smuxtest.Pair(b, smuxtest.Config(1),
				func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "bench", opts...) }, nil)
			go serveRAND(srv)
			b.ReportAllocs()
			b.ResetTimer()
			buf := make([]byte, 8)
			for range b.N {
				st, err := cli.OpenStream()
				if err != nil {
					b.Fatal(err)
				}
				st.Write([]byte("RAND"))
				io.ReadFull(st, buf)
				st.Close()
			}
			b.StopTimer()
			if w != nil {
				cli.Close()
				w.Close()
				b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped-B/op")
			}
		})
	}
}

func serveRAND(s *smux.Session) {
	for {
		st, err := s.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			buf := make([]byte, 4)
			if _, err := io.ReadFull(st, buf); err != nil {
				return
			}
			st.Write([]byte{1, 2, 3, 4, 5, 6, 7, 8})
			st.SetDeadline(time.Now().Add(time.Second))
			io.Copy(io.Discard, st)
		}()
	}
}

// BenchmarkLiveWrite measures what recording a tapped conn's bytes into a
// Live costs the data path, per call of the recorder's Write with 64
// bytes (a frame of the demo's RAND request) and no time, as a tap calls
// it: with no viewer, and with one reading the stream over loopback HTTP. What the viewer's queue
// could not take, its writer behind this loop, is reported as
// dropped-B/op.
func BenchmarkLiveWrite(b *testing.B) {
	for _, viewers := range []int{0, 1} {
		name := "no-viewer"
		if viewers == 1 {
			name = "one-viewer"
		}
		b.Run(name, func(b *testing.B) {
			lc := pcapout.NewLive()
			srv := httptest.NewServer(lc)
			defer srv.Close()
			defer lc.Close()
			rec := lc.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now())
			if viewers == 1 {
				resp, err := http.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				go io.Copy(io.Discard, resp.Body) // ends with the stream
				for lc.Viewers() == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			p := make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec.Write(live.ClientToServer, time.Time{}, p) // as a tap calls it: no time read
			}
			b.StopTimer()
			b.ReportMetric(float64(lc.Dropped())/float64(b.N), "dropped-B/op")
		})
	}
}
