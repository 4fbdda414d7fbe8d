// Command attachload is the load side of bench/attach-vs-proxy.sh, which
// compares `muxtop attach` with a plain TCP proxy. It has four roles, the
// first argument:
//
//	attachload upstream [-version 1]        an smux server for RAND and BULK streams
//	attachload proxy -upstream ADDR         the baseline: a plain io.Copy TCP proxy
//	attachload rand -addr ADDR [-callers 64 -duration 3s -version 1]
//	attachload bulk -addr ADDR [-duration 3s -version 1]
//
// upstream and proxy listen on a free loopback port, print "listening
// ADDR" on stdout, and serve until killed or until -lifetime passes. rand
// runs -callers goroutines that each repeat the demo's request on one smux
// session (open a stream, write RAND, read 8 bytes, close) for -duration;
// bulk writes 64 KiB chunks on one stream for -duration, then waits for
// the upstream's count of what it received. Both print one line:
//
//	rand requests=N seconds=S rate=R req/s
//	bulk bytes=N seconds=S rate=R MB/s
//
// Everything stays on 127.0.0.1, and every role stops by itself.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtaci/smux"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	role, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	version := fs.Int("version", 1, "smux protocol version")
	lifetime := fs.Duration("lifetime", 2*time.Minute, "upstream, proxy: exit after this long")
	upstream := fs.String("upstream", "", "proxy: the address to forward to")
	addr := fs.String("addr", "", "rand, bulk: the address to connect to")
	callers := fs.Int("callers", 64, "rand: concurrent callers on one session")
	duration := fs.Duration("duration", 3*time.Second, "rand, bulk: how long to load")
	fs.Parse(args)

	var err error
	switch role {
	case "upstream":
		err = serve(*lifetime, func(c net.Conn) { serveSmux(c, *version) })
	case "proxy":
		if *upstream == "" {
			usage()
		}
		err = serve(*lifetime, func(c net.Conn) { proxy(c, *upstream) })
	case "rand":
		err = runRAND(*addr, *version, *callers, *duration)
	case "bulk":
		err = runBulk(*addr, *version, *duration)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "attachload "+role+":", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: attachload upstream|proxy|rand|bulk [flags]; see the package doc")
	os.Exit(2)
}

// serve listens on a free loopback port, says which, and hands each conn
// to handle until lifetime passes.
func serve(lifetime time.Duration, handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	time.AfterFunc(lifetime, func() { os.Exit(0) })
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go handle(c)
	}
}

func smuxConfig(version int) *smux.Config {
	cfg := smux.DefaultConfig()
	cfg.Version = version
	cfg.KeepAliveDisabled = true
	return cfg
}

// serveSmux answers each stream by its first four bytes: RAND gets 8
// bytes, BULK is read to its end and answered with the count of bytes
// after BULK.
func serveSmux(c net.Conn, version int) {
	sess, err := smux.Server(c, smuxConfig(version))
	if err != nil {
		c.Close()
		return
	}
	defer sess.Close()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var cmd [4]byte
			if _, err := io.ReadFull(st, cmd[:]); err != nil {
				return
			}
			var out [8]byte
			switch string(cmd[:]) {
			case "RAND":
				binary.BigEndian.PutUint64(out[:], uint64(time.Now().UnixNano()))
			case "BULK":
				n, err := io.Copy(io.Discard, st)
				if err != nil {
					return
				}
				binary.BigEndian.PutUint64(out[:], uint64(n))
			default:
				return
			}
			st.Write(out[:])
		}()
	}
}

// proxy copies c to a new conn to upstream and back through 32 KiB
// buffers, as `muxtop attach` does, without decoding anything.
func proxy(c net.Conn, upstream string) {
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		c.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		// The wrappers hide ReadFrom and WriteTo, which would splice in
		// the kernel: the baseline copies through user space as attach must.
		io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
		dst.(*net.TCPConn).CloseWrite()
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
	c.Close()
	up.Close()
}

func dial(addr string, version int) (*smux.Session, error) {
	if addr == "" {
		return nil, errors.New("no -addr")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	sess, err := smux.Client(c, smuxConfig(version))
	if err != nil {
		c.Close()
	}
	return sess, err
}

func runRAND(addr string, version, callers int, d time.Duration) error {
	sess, err := dial(addr, version)
	if err != nil {
		return err
	}
	defer sess.Close()
	var (
		done     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := request(sess); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("rand requests=%d seconds=%.3f rate=%.1f req/s\n", done.Load(), secs, float64(done.Load())/secs)
	return nil
}

// request is the demo's RAND: open a stream, write RAND, read 8 bytes, close.
func request(sess *smux.Session) error {
	st, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Write([]byte("RAND")); err != nil {
		return err
	}
	var out [8]byte
	_, err = io.ReadFull(st, out[:])
	return err
}

func runBulk(addr string, version int, d time.Duration) error {
	sess, err := dial(addr, version)
	if err != nil {
		return err
	}
	defer sess.Close()
	st, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Write([]byte("BULK")); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	var sent uint64
	start := time.Now()
	for time.Since(start) < d {
		n, err := st.Write(buf)
		sent += uint64(n)
		if err != nil {
			return err
		}
	}
	// Timed up to the upstream's count, so that bytes still in buffers
	// count as not yet moved.
	if err := st.CloseWrite(); err != nil {
		return err
	}
	var got [8]byte
	if _, err := io.ReadFull(st, got[:]); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if n := binary.BigEndian.Uint64(got[:]); n != sent {
		return fmt.Errorf("upstream received %d bytes, want %d", n, sent)
	}
	fmt.Printf("bulk bytes=%d seconds=%.3f rate=%.1f MB/s\n", sent, secs, float64(sent)/secs/1e6)
	return nil
}
