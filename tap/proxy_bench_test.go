//go:build unix

package tap

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// The benchmarks compare three ways from an smux client to its server:
// direct, through a plain user-space copy proxy, and through the tapping
// Proxy. Compare them with `benchstat -col /via`.
var vias = []string{"direct", "plain", "attach"}

// cpuTime returns the CPU time the process has used. On a shared machine
// it is steadier than the wall clock, which counts other jobs' time slices.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start, client, proxy and
// server together.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// dialVia starts what via needs in front of the upstream at addr and
// returns an smux client session through it.
func dialVia(b *testing.B, via, addr string) *smux.Session {
	b.Helper()
	switch via {
	case "plain":
		addr = startPlainProxy(b, addr)
	case "attach":
		reg := live.New(live.Config{})
		warmHistory(reg)
		addr = startProxy(b, ProxyConfig{Upstream: addr, Registry: reg}).Addr().String()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := smux.Client(c, smuxConfig(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	return cli
}

// BenchmarkProxyBulk measures the throughput of one stream carrying 64 KiB
// writes, up to the server's count of what it received.
func BenchmarkProxyBulk(b *testing.B) {
	for _, via := range vias {
		b.Run("via="+via, func(b *testing.B) {
			up := startUpstream(b, "", serveSmux(1, func(st *smux.Stream) {
				n, err := io.Copy(io.Discard, st)
				if err != nil {
					return
				}
				var out [8]byte
				binary.BigEndian.PutUint64(out[:], uint64(n))
				st.Write(out[:])
			}))
			cli := dialVia(b, via, up.addr())
			st, err := cli.OpenStream()
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			var sent uint64
			b.ResetTimer()
			cpu := cpuTime()
			for range b.N { // not b.Loop: it would stop the timer before the drain below
				if _, err := st.Write(buf); err != nil {
					b.Fatal(err)
				}
				sent += uint64(len(buf))
			}
			// Wait until the server has it all: nothing is left in flight.
			st.CloseWrite()
			var got [8]byte
			if _, err := io.ReadFull(st, got[:]); err != nil {
				b.Fatal(err)
			}
			if n := binary.BigEndian.Uint64(got[:]); n != sent {
				b.Fatalf("server received %d bytes, want %d", n, sent)
			}
			reportCPU(b, cpu)
			st.Close()
		})
	}
}

// BenchmarkProxyRAND measures the request rate of one caller.
func BenchmarkProxyRAND(b *testing.B) {
	for _, via := range vias {
		b.Run("via="+via, func(b *testing.B) {
			up := startUpstream(b, "", serveSmux(1, randServe))
			cli := dialVia(b, via, up.addr())
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := randRequest(cli); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkProxyRANDParallel measures the request rate of 64 concurrent
// callers sharing one session.
func BenchmarkProxyRANDParallel(b *testing.B) {
	const callers = 64
	for _, via := range vias {
		b.Run("via="+via, func(b *testing.B) {
			up := startUpstream(b, "", serveSmux(1, randServe))
			cli := dialVia(b, via, up.addr())
			b.ReportAllocs()
			b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer() // the setup above, a Registry's history included, is not the requests'
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := randRequest(cli); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, cpu)
		})
	}
}

// plainProxy is the baseline: a TCP proxy that copies through user-space
// buffers of the same size as Proxy's, without a tap.
type plainProxy struct {
	ln       net.Listener
	upstream string
	bufs     sync.Pool
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

// startPlainProxy starts a plain proxy in front of upstream and returns its
// address; cleanup stops it.
func startPlainProxy(b *testing.B, upstream string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &plainProxy{ln: ln, upstream: upstream}
	p.bufs.New = func() any { return new([copyBufSize]byte) }
	p.wg.Add(1)
	go p.serve()
	b.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return ln.Addr().String()
}

func (p *plainProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(up.(*net.TCPConn), c)
		go p.copy(c.(*net.TCPConn), up)
	}
}

// copy copies src to dst through a pooled buffer, then half-closes dst.
func (p *plainProxy) copy(dst *net.TCPConn, src net.Conn) {
	defer p.wg.Done()
	buf := p.bufs.Get().(*[copyBufSize]byte)
	defer p.bufs.Put(buf)
	// The wrappers hide ReadFrom and WriteTo, which would splice in the
	// kernel: the baseline copies through the buffer as Proxy must.
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf[:])
	dst.CloseWrite()
}
