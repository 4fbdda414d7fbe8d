package tap

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// smuxFrame is an smux frame of version ver: its header, then payload.
func smuxFrame(ver uint8, cmd decoder.Cmd, sid uint32, payload string) []byte {
	h := decoder.MakeHeader(ver, cmd, uint16(len(payload)), sid)
	return append(h[:], payload...)
}

// writeLog is a conn that keeps a copy of every byte written through it.
type writeLog struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *writeLog) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.out = append(c.out, p[:max(n, 0)]...)
	c.mu.Unlock()
	return n, err
}

func (c *writeLog) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out)
}

// realServerBytes returns what a real smux server of version v wrote to
// its client over a session of RAND requests whose answers are of every
// size up to 5000 bytes, across a header's and a read-ahead's lengths.
func realServerBytes(t *testing.T, v int) []byte {
	t.Helper()
	var log *writeLog
	cli, srv := smuxtest.Pair(t, smuxtest.Config(v), nil, func(c net.Conn) net.Conn {
		log = &writeLog{Conn: c}
		return log
	})
	rnd := rand.New(rand.NewPCG(1, uint64(v)))
	go func() {
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				defer st.Close()
				b := make([]byte, 2)
				if _, err := io.ReadFull(st, b); err != nil {
					return
				}
				st.Write(make([]byte, int(b[0])<<8|int(b[1])))
			}()
		}
	}()
	for i := range 40 {
		size := []int{0, 1, 7, 8, 9, readAhead - 8, readAhead, readAhead + 1, 5000}[i%9] + rnd.IntN(3)
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte{byte(size >> 8), byte(size)})
		if got, err := io.ReadAll(st); err != nil || len(got) != size {
			t.Fatalf("request %d: %d bytes, %v; want %d", i, len(got), err, size)
		}
		st.Close()
	}
	cli.Close()
	srv.Close()
	return log.bytes()
}

// chunkConn serves src to its Reads in chunks of at most the sizes its
// chunk func gives, and counts the Reads and what each asked for.
type chunkConn struct {
	memConn
	chunk func() int
	reads int
	asked []int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	c.reads++
	c.asked = append(c.asked, len(p))
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.src[:min(len(c.src), max(c.chunk(), 1))])
	c.src = c.src[n:]
	return n, nil
}

// TestReadAheadAnyChunking: real smux v1 and v2 server bytes, served to a
// tapped client in random chunks (as TCP delivers them) and read by its
// end in random lengths, from 1 byte to more than a read-ahead: the end
// reads exactly the bytes sent, then the EOF, and the tap's counts equal
// those of a tap whose end read the whole stream in one Read (no
// read-ahead), frame for frame.
func TestReadAheadAnyChunking(t *testing.T) {
	for _, v := range []int{1, 2} {
		wire := realServerBytes(t, v)
		oracle := func() live.Counts {
			reg := live.New(live.Config{})
			c := Wrap(&memConn{src: wire}, live.Client, reg, "whole")
			if n, err := c.Read(make([]byte, len(wire)+1)); n != len(wire) || err != nil {
				t.Fatalf("one read: %d, %v", n, err)
			}
			return reg.Snapshot().Sessions[0].Counts
		}()
		if walked := walkSmux(wire); oracle.Frames[live.ServerToClient] != walked || oracle.FramesDir(live.ServerToClient) < 70 {
			t.Fatalf("v%d: one read counted frames by command %v; a walk of the bytes %v (70 or more)", v, oracle.Frames[live.ServerToClient], walked)
		}
		for seed := range uint64(30) {
			rnd := rand.New(rand.NewPCG(seed, uint64(v)))
			reg := live.New(live.Config{})
			cc := &chunkConn{memConn: memConn{src: wire}, chunk: func() int { return 1 + rnd.IntN(6000) }}
			c := Wrap(cc, live.Client, reg, "chunked")
			var got []byte
			var err error
			for err == nil {
				p := make([]byte, []int{1 + rnd.IntN(8), 8, 1 + rnd.IntN(readAhead), readAhead + rnd.IntN(3000)}[rnd.IntN(4)])
				var n int
				n, err = c.Read(p)
				got = append(got, p[:n]...)
			}
			if !errors.Is(err, io.EOF) || !bytes.Equal(got, wire) {
				t.Fatalf("v%d seed %d: the end read %d bytes (equal: %v), then %v; want the %d sent, then EOF", v, seed, len(got), bytes.Equal(got, wire), err, len(wire))
			}
			if counts := reg.Snapshot().Sessions[0].Counts; counts != oracle {
				t.Fatalf("v%d seed %d: counts %+v; read in one: %+v", v, seed, counts, oracle)
			}
		}
	}
}

// TestReadAheadSavesReads: smux's reads of a header and then its payload
// take one Read of the wrapped conn where the frame came whole; a Read of
// a read-ahead or more goes to the wrapped conn as it is.
func TestReadAheadSavesReads(t *testing.T) {
	var wire []byte
	for sid := uint32(1); sid <= 10; sid++ {
		wire = append(wire, smuxFrame(1, decoder.PSH, sid, "payload")...)
	}
	reg := live.New(live.Config{})
	cc := &chunkConn{memConn: memConn{src: wire}, chunk: func() int { return len(wire) }}
	c := Wrap(cc, live.Client, reg, "reads")
	for range 10 {
		if _, err := io.ReadFull(c, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len("payload"))); err != nil {
			t.Fatal(err)
		}
	}
	if cc.reads != 1 || cc.asked[0] != readAhead {
		t.Errorf("the wrapped conn was read %d times, asked for %v; want once, for %d", cc.reads, cc.asked, readAhead)
	}
	if n := reg.Snapshot().Sessions[0].Counts.Frames[live.ServerToClient][decoder.PSH]; n != 10 {
		t.Errorf("the tap counted %d frames, want 10", n)
	}
	big := make([]byte, readAhead+1)
	cc.src = append(cc.src, wire...)
	if n, err := c.Read(big); n != len(wire) || err != nil || cc.asked[len(cc.asked)-1] != len(big) {
		t.Errorf("a Read of %d bytes: %d, %v, the wrapped conn asked for %d; want all %d, straight through", len(big), n, err, cc.asked[len(cc.asked)-1], len(wire))
	}
	// After a big Read (a bulk transfer's payload), a header's Read asks
	// the wrapped conn for the header alone: the payload after it goes
	// straight into the end's buffer. Then small again, ahead again.
	cc.src = append(cc.src, wire...)
	before := len(cc.asked)
	for _, size := range []int{8, 7, 8, 7} {
		if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cc.asked[before:]; !slices.Equal(got, []int{8, readAhead}) {
		t.Errorf("after a big Read, the wrapped conn was asked for %v; want the header's 8, then a read-ahead", got)
	}
}

// TestReadAheadStampsWhenRead: two frames come in one segment; the end
// reads the first, and the second 150 ms later. The tap stamps each as
// its end read it, as without the read-ahead: the second frame's record
// comes 150 ms after the first's.
func TestReadAheadStampsWhenRead(t *testing.T) {
	wire := append(smuxFrame(1, decoder.PSH, 1, "one"), smuxFrame(1, decoder.PSH, 1, "two")...)
	reg := live.New(live.Config{})
	c := Wrap(&memConn{src: wire}, live.Client, reg, "stamps")
	frame := make([]byte, len(wire)/2)
	io.ReadFull(c, frame)
	time.Sleep(150 * time.Millisecond)
	io.ReadFull(c, frame)
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var at []time.Time
	for _, r := range recs {
		if r.Kind == live.FrameRecord {
			at = append(at, r.At)
		}
	}
	if len(at) != 2 || at[1].Sub(at[0]) < 150*time.Millisecond {
		t.Errorf("frame records at %v; want two, the second 150 ms or more after the first", at)
	}
}

// TestReadAheadEOFAfterData: the wrapped conn returns the last frame and
// io.EOF from one Read. The end reads the frame and then the EOF; the tap
// records the frame before the peer's half-close.
func TestReadAheadEOFAfterData(t *testing.T) {
	reg := live.New(live.Config{})
	c := Wrap(&errWith{memConn{src: smuxFrame(1, decoder.PSH, 1, "last")}, io.EOF}, live.Client, reg, "eof")
	hdr := make([]byte, 8)
	if n, err := c.Read(hdr); n != 8 || err != nil {
		t.Fatalf("header: %d, %v; want 8, nil: the EOF comes after the bytes", n, err)
	}
	if n, err := c.Read(make([]byte, 64)); n != 4 || !errors.Is(err, io.EOF) {
		t.Fatalf("payload: %d, %v; want 4, EOF", n, err)
	}
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var kinds []live.Kind
	for _, r := range recs {
		if r.Kind != live.SessionOpened {
			kinds = append(kinds, r.Kind)
		}
	}
	if len(kinds) < 2 || kinds[0] != live.FrameRecord || kinds[1] != live.SessionHalfClosed {
		t.Errorf("records %v; want the frame, then the half-close", kinds)
	}
}

// errWith returns all of src and err from one Read.
type errWith struct {
	memConn
	err error
}

func (c *errWith) Read(p []byte) (int, error) {
	n := copy(p, c.src)
	c.src = c.src[n:]
	return n, c.err
}

// TestReadAheadAtClose: a client's end has read a frame's header, and
// its payload waits in the tap's read-ahead as the session closes. The
// tap does not decode it, as it did not decode bytes left in the socket:
// the end never read it before its close (the header's 8 bytes count as
// unparsed, a frame cut by this end's close, no TRUNCATED). The payload
// is dropped with the conn, as a closed socket's unread bytes are: the
// end's Read after the Close fails, as the wrapped conn's does.
func TestReadAheadAtClose(t *testing.T) {
	wire := append(smuxFrame(1, decoder.SYN, 2, ""), smuxFrame(1, decoder.PSH, 2, "answer")...) // a stream the server opens
	reg := live.New(live.Config{})
	mc := &closable{memConn: memConn{src: wire}}
	c := Wrap(mc, live.Client, reg, "close")
	if _, err := io.ReadFull(c, make([]byte, 16)); err != nil { // the SYN and the PSH's header
		t.Fatal(err)
	}
	c.Close()
	if n, err := c.Read(make([]byte, 64)); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("the Read after Close: %d bytes, %v; want none and the closed conn's error", n, err)
	}
	ss := reg.Snapshot().Sessions[0]
	if got := ss.Counts.Frames[live.ServerToClient][decoder.PSH]; got != 0 || ss.Unparsed[live.ServerToClient] != 8 || len(ss.Anomalies) != 0 {
		t.Errorf("PSH %d, unparsed %v, anomalies %v; want none decoded, the header's 8 bytes unparsed, no TRUNCATED", got, ss.Unparsed, ss.Anomalies)
	}
}

// TestReadAheadTimeoutWithData: the wrapped conn returns bytes and a
// deadline's error from one Read; the end's Read gets the error with the
// bytes, as the wrapped conn gave it, and the next Read the rest, without
// it.
func TestReadAheadTimeoutWithData(t *testing.T) {
	reg := live.New(live.Config{})
	c := Wrap(&errWith{memConn{src: smuxFrame(1, decoder.PSH, 1, "data")}, os.ErrDeadlineExceeded}, live.Client, reg, "timeout")
	n, err := c.Read(make([]byte, 8))
	if n != 8 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read 1: %d, %v; want 8 and the deadline's error", n, err)
	}
	if n, err = c.Read(make([]byte, 8)); n != 4 || err != nil {
		t.Errorf("Read 2: %d, %v; want the 4 bytes left, no error", n, err)
	}
}

// closable is a memConn whose Reads fail once it is closed.
type closable struct {
	memConn
	closed bool
}

func (c *closable) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.memConn.Read(p)
}

func (c *closable) Close() error { c.closed = true; return nil }

// TestReadAheadRealSession: a real smux session over loopback TCP, both
// ends tapped, a RAND load: each end's tap counts, frame by frame and
// command by command, what the other end's smux wrote, as a walk of the
// raw bytes written below the other tap counts it.
func TestReadAheadRealSession(t *testing.T) {
	for _, v := range []int{1, 2} {
		reg := live.New(live.Config{})
		var wrote [2]*writeLog // by the client, by the server
		cli, srv := smuxtest.Pair(t, smuxtest.Config(v),
			func(c net.Conn) net.Conn {
				wrote[0] = &writeLog{Conn: c}
				return Wrap(wrote[0], live.Client, reg, "cli")
			},
			func(c net.Conn) net.Conn {
				wrote[1] = &writeLog{Conn: c}
				return Wrap(wrote[1], live.Server, reg, "srv")
			})
		go serveRAND(srv)
		for range 200 {
			if err := randRequest(cli); err != nil {
				t.Fatal(err)
			}
		}
		// Open: each end's smux reads every frame the other wrote.
		var read [2][5]uint64 // by the server's tap, by the client's
		var walked [2][5]uint64
		ok := func() bool {
			snap := reg.Snapshot()
			if len(snap.Sessions) != 2 {
				return false
			}
			for _, ss := range snap.Sessions {
				if ss.Info.Tap == live.Client {
					read[1] = ss.Counts.Frames[live.ServerToClient]
				} else {
					read[0] = ss.Counts.Frames[live.ClientToServer]
				}
			}
			walked = [2][5]uint64{walkSmux(wrote[0].bytes()), walkSmux(wrote[1].bytes())}
			return read == walked && walked[1][decoder.PSH] >= 200
		}
		for deadline := time.Now().Add(5 * time.Second); !ok() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if read != walked {
			t.Errorf("v%d: the taps counted frames by command (→ at the server, ← at the client) %v; the raw bytes written hold %v", v, read, walked)
		}
		cli.Close()
		srv.Close()
	}
}

// walkSmux counts the smux frames in b by command, walking their headers.
func walkSmux(b []byte) (n [5]uint64) {
	for len(b) >= 8 {
		length := int(b[2]) | int(b[3])<<8
		if b[1] < 5 {
			n[b[1]]++
		}
		b = b[min(8+length, len(b)):]
	}
	return n
}
