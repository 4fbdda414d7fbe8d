//go:build unix

package tap

import (
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// benchPair returns an smux client and server session over loopback TCP,
// both ends tapped (into one registry) or neither.
func benchPair(b *testing.B, version int, tapped bool) (*smux.Session, *smux.Session) {
	b.Helper()
	return benchPairTapped(b, version, tapped, tapped)
}

// benchPairTapped is benchPair with a choice of ends to tap: a program
// that uses muxtop taps its own end, so one end is the deployed cost, and
// both ends in one process, with one registry, twice that.
func benchPairTapped(b *testing.B, version int, client, server bool) (*smux.Session, *smux.Session) {
	b.Helper()
	if !client && !server {
		return smuxtest.Pair(b, smuxtest.Config(version), nil, nil)
	}
	reg := live.New(live.Config{})
	warmHistory(reg)
	var wrapClient, wrapServer func(net.Conn) net.Conn
	if client {
		wrapClient = func(c net.Conn) net.Conn { return Wrap(c, live.Client, reg, "bench") }
	}
	if server {
		wrapServer = func(c net.Conn) net.Conn { return Wrap(c, live.Server, reg, "bench") }
	}
	return smuxtest.Pair(b, smuxtest.Config(version), wrapClient, wrapServer)
}

// warmHistory writes one lap of reg's history, as any capture has done
// after its first History frames. The first lap pays the page faults of
// memory the OS hands out as it is first written (about 40 MB at the
// defaults, once); measuring only that lap would charge it to every frame.
func warmHistory(reg *live.Registry) {
	s := reg.Open(live.SessionInfo{Label: "warm-up"}, time.Now())
	f := &decoder.Frame{Header: decoder.MakeHeader(1, decoder.NOP, 0, 0), Payload: make([]byte, reg.Config().Snaplen)}
	for range reg.Config().History {
		s.Record(live.ClientToServer, time.Now(), f)
	}
	s.End(time.Now(), live.Shutdown, nil)
}

var variants = []struct {
	name   string
	tapped bool
}{{"untapped", false}, {"tapped", true}}

// BenchmarkRAND measures the demo's request: open a stream, write RAND,
// read 8 bytes, close; untapped and tapped on both ends, side by side.
func BenchmarkRAND(b *testing.B) {
	for _, callers := range []int{1, 64} {
		for _, v := range variants {
			b.Run(v.name+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				cli, srv := benchPair(b, 1, v.tapped)
				go serveRAND(srv)
				b.ReportAllocs()
				cpu := cpuTime()
				defer reportCPU(b, cpu)
				if callers == 1 {
					for b.Loop() {
						if err := randRequest(cli); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0))) // about callers goroutines in all
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := randRequest(cli); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkBulk measures one smux stream carrying 64 KiB writes.
func BenchmarkBulk(b *testing.B) {
	for _, version := range []int{1, 2} {
		for _, v := range variants {
			b.Run("v"+strconv.Itoa(version)+"/"+v.name, func(b *testing.B) {
				cli, srv := benchPair(b, version, v.tapped)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := srv.AcceptStream()
					if err != nil {
						return
					}
					io.Copy(io.Discard, st)
					st.Close()
				}()
				st, err := cli.OpenStream()
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 64<<10)
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				for range b.N {
					if _, err := st.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				// Timed up to the reader's end, so that bytes still in
				// buffers count as not yet moved.
				st.Close()
				wg.Wait()
				reportCPU(b, cpu)
			})
		}
	}
}
