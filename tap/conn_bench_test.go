package tap

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// benchPair returns an smux client and server session over loopback TCP,
// both ends tapped (into one registry) or neither.
func benchPair(b *testing.B, version int, tapped bool) (*smux.Session, *smux.Session) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		b.Fatal("accept failed")
	}
	var client, server net.Conn = cc, sc
	if tapped {
		reg := live.New(live.Config{})
		client = Wrap(cc, live.Client, reg, "bench")
		server = Wrap(sc, live.Server, reg, "bench")
	}
	cfg := smux.DefaultConfig()
	cfg.Version = version
	cli, err := smux.Client(client, cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := smux.Server(server, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
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
				if callers == 1 {
					for b.Loop() {
						if err := randRequest(cli); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0))) // about callers goroutines in all
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
				for b.Loop() {
					if _, err := st.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				st.Close()
				wg.Wait()
			})
		}
	}
}

// memConn is a net.Conn over in-memory bytes: Write discards, Read serves src.
type memConn struct {
	net.Conn // nil: only Read, Write and the addresses are used
	src      []byte
}

func (c *memConn) Read(p []byte) (int, error) {
	n := copy(p, c.src)
	c.src = c.src[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *memConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *memConn) RemoteAddr() net.Addr        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *memConn) SetReadDeadline(time.Time) error {
	return nil
}

// TestConnZeroAllocs checks that a tapped Read and Write allocate nothing
// in steady state: RAND exchanges on ever new streams, past the point where
// closed streams are recycled.
func TestConnZeroAllocs(t *testing.T) {
	reg := live.New(live.Config{History: 1000, ClosedStreams: 100})
	mc := &memConn{}
	c := Wrap(mc, live.Client, reg, "allocs")
	var out, in [40]byte // SYN, PSH RAND, FIN → ; PSH 8, FIN ←
	p := make([]byte, 64)
	sid := uint32(1)
	exchange := func() {
		sid += 2
		h := decoder.MakeHeader(1, decoder.SYN, 0, sid)
		copy(out[0:], h[:])
		h = decoder.MakeHeader(1, decoder.PSH, 4, sid)
		copy(out[8:], h[:])
		copy(out[16:], "RAND")
		h = decoder.MakeHeader(1, decoder.FIN, 0, sid)
		copy(out[20:], h[:])
		h = decoder.MakeHeader(1, decoder.PSH, 8, sid)
		copy(in[0:], h[:])
		binary.BigEndian.PutUint64(in[8:], uint64(sid))
		h = decoder.MakeHeader(1, decoder.FIN, 0, sid)
		copy(in[16:], h[:])
		if _, err := c.Write(out[:8]); err != nil { // SYN alone, then the rest in one write
			t.Fatal(err)
		}
		if _, err := c.Write(out[8:28]); err != nil {
			t.Fatal(err)
		}
		mc.src = in[:24]
		if _, err := c.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 { // warm up past ClosedStreams
		exchange()
	}
	if allocs := testing.AllocsPerRun(1000, exchange); allocs != 0 {
		t.Errorf("allocs per RAND exchange = %v, want 0", allocs)
	}
	snap := reg.Snapshot()
	if got, want := snap.Totals.Cmd(decoder.SYN), uint64(1+500+1000); got != want {
		t.Errorf("SYN count = %d, want %d", got, want)
	}
}
