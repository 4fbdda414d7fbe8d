package pcapout

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// smuxFrame is an smux v1 frame: cmd, stream sid, payload p.
func smuxFrame(cmd byte, sid uint32, p []byte) []byte {
	b := []byte{1, cmd, byte(len(p)), byte(len(p) >> 8), byte(sid), byte(sid >> 8), byte(sid >> 16), byte(sid >> 24)}
	return append(b, p...)
}

// watch has one viewer watch l, and returns what it was sent once l is
// closed.
func watch(t *testing.T, l *Live) func() []byte {
	t.Helper()
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- b
	}()
	for l.Viewers() != 1 {
		time.Sleep(time.Millisecond)
	}
	return func() []byte { l.Close(); return <-got }
}

// A viewer that joins connections half-closed before it came, whose other
// direction then ends, frees their 4-tuples: a later connection between
// the same addresses is written with them, not with made-up 10.x ends.
func TestLiveJoinedHalfClosedFreesTuple(t *testing.T) {
	l := NewLive()
	defer l.Close()
	now := time.Now()
	var cs []*liveConn
	for i := range 100 {
		c := l.Conn(fmt.Sprintf("127.0.0.1:%d", 40000+i), "127.0.0.1:9", now).(*liveConn)
		c.End(live.ClientToServer, now) // half-closed before the viewer comes
		cs = append(cs, c)
	}
	watch(t, l)
	for _, c := range cs {
		c.End(live.ServerToClient, now)
	}
	c2 := l.Conn("127.0.0.1:40000", "127.0.0.1:9", now).(*liveConn)
	l.mu.Lock()
	w := l.viewers[0].w
	l.mu.Unlock()
	w.tmu.Lock()
	n := len(w.tuples)
	w.tmu.Unlock()
	if n != 1 {
		t.Errorf("the viewer's Writer holds %d 4-tuples, want 1: the new conn's", n)
	}
	if ends := (*c2.views.Load())[0].c.ends; ends[0].String() != "127.0.0.1:40000" {
		t.Errorf("a conn on the ends of one that ended was written with made-up ends %v", ends)
	}
}

// A viewer joins a connection whose client had sent its FIN before: the
// capture never saw that FIN, and when the tap later closes the
// connection no FIN of the client is written then (it would say the
// client ended at the close), only the server's.
func TestLiveJoinedNoFINForDirectionEndedBefore(t *testing.T) {
	l := NewLive()
	now := time.Now()
	c := l.Conn("127.0.0.1:40000", "127.0.0.1:9", now).(*liveConn)
	c.End(live.ClientToServer, now)
	stop := watch(t, l)
	c.Write(live.ServerToClient, now, smuxFrame(3, 0, nil))
	c.Closed(live.ServerToClient, now)
	fins := map[uint16]int{}
	for _, p := range pcaptest.Read(t, bytes.NewReader(stop())) {
		if p.TCP.FIN {
			fins[uint16(p.TCP.SrcPort)]++
		}
	}
	if fins[40000] != 0 || fins[9] != 1 {
		t.Errorf("FINs by source port %v, want none from the client (it ended before the join) and one from the server", fins)
	}
}

// Bytes of a direction the queue dropped just before the connection
// ended read as lost, whether End ended it or the tap closed it
// (Closed): the FIN is written past them, at the direction's offset, not
// at the bytes written.
func TestClosedFINAfterDroppedBytes(t *testing.T) {
	for _, closed := range []bool{false, true} {
		var buf bytes.Buffer
		w, err := newWriter(&buf, math.MaxInt64, bufSize, time.Hour, 100)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*Conn)
		c.Write(live.ClientToServer, now, append(smuxFrame(0, 1, nil), smuxFrame(2, 1, bytes.Repeat([]byte{1}, 40))...))
		// Each of the server's writes is more than the queue's 100 bytes on
		// its own, so it is dropped however much of the client's 56 the
		// writer goroutine has taken from the queue meanwhile.
		c.Write(live.ServerToClient, now, smuxFrame(2, 1, bytes.Repeat([]byte{2}, 120)))
		c.Write(live.ServerToClient, now, smuxFrame(2, 1, bytes.Repeat([]byte{3}, 500)))
		c.End(live.ClientToServer, now)
		if closed {
			c.Closed(live.ClientToServer, now)
		} else {
			c.End(live.ServerToClient, now)
		}
		w.Close()
		read, _ := pcaptest.ReadAll(t, bytes.NewReader(buf.Bytes()), capture.Config{})
		snap := read.Snapshot()
		if want := [2]int64{0, 636}; w.Dropped() != 636 || snap.Lost != want {
			t.Errorf("closed=%v: the Writer dropped %d bytes, read reports lost %v, want %v", closed, w.Dropped(), snap.Lost, want)
		}
	}
}

// Bytes handed to Write after the tap closed the connection are not
// written (the tap saw them after it closed) and are counted as dropped.
func TestWriteAfterClosedCounted(t *testing.T) {
	var buf bytes.Buffer
	w, err := newWriter(&buf, math.MaxInt64, bufSize, time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*Conn)
	c.Closed(live.ClientToServer, now)
	c.Write(live.ServerToClient, now, smuxFrame(3, 0, nil))
	w.Close()
	for _, p := range pcaptest.Read(t, bytes.NewReader(buf.Bytes())) {
		if len(p.Payload) > 0 {
			t.Errorf("bytes written after the close: %x", p.Payload)
		}
	}
	if w.Dropped() != 8 {
		t.Errorf("Dropped %d, want the 8 bytes written after the close", w.Dropped())
	}
}

// stalled is a viewer that reads nothing until open is closed.
type stalled struct {
	open chan struct{}
	buf  bytes.Buffer
}

func (g *stalled) Write(p []byte) (int, error) { <-g.open; return g.buf.Write(p) }

// A viewer stalls while a conn ends and the tap closes it, its queue
// full of another conn's data: the end is still queued (data leaves room
// for ends), so the conn reads as ended, not live forever.
func TestEndQueuedWhenDataFillsQueue(t *testing.T) {
	g := &stalled{open: make(chan struct{})}
	w, err := newWriter(g, math.MaxInt64, 4096, time.Millisecond, LiveQueueBytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*Conn)
	c.Write(live.ClientToServer, now, append(smuxFrame(0, 1, nil), smuxFrame(2, 1, []byte("hello"))...))
	other := w.Conn("127.0.0.1:1001", "127.0.0.1:2000", now).(*Conn)
	for range 2 * queueEvents { // the stalled viewer's queue fills
		other.Write(live.ClientToServer, time.Time{}, smuxFrame(3, 0, nil))
	}
	if w.Dropped() == 0 {
		t.Fatal("the queue never filled")
	}
	c.End(live.ClientToServer, now)
	c.Closed(live.ClientToServer, now)
	other.Closed(live.ClientToServer, now)
	close(g.open)
	w.Close()
	read, _ := pcaptest.ReadAll(t, bytes.NewReader(g.buf.Bytes()), capture.Config{})
	if snap := read.Snapshot(); snap.LiveSessions != 0 || w.EndsLost() != 0 {
		t.Errorf("conns the tap closed read as live: %d of %d sessions; ends lost %d", snap.LiveSessions, len(snap.Sessions), w.EndsLost())
	}
}

// When even the room kept for ends is full, an end that finds no room
// is counted (EndsLost) and its conn keeps its 4-tuple: it never ended in
// the capture, so a later conn on the same ends must not merge with it.
func TestEndLostKeepsTuple(t *testing.T) {
	g := &stalled{open: make(chan struct{})}
	w, err := newWriter(g, math.MaxInt64, 4096, time.Millisecond, LiveQueueBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(g.open); w.Close() }()
	now := time.Now()
	c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*Conn)
	for i := range 2 * queueEvents { // handshakes fill the whole queue
		w.Conn("127.0.0.1:1001", fmt.Sprintf("127.0.0.1:%d", 3000+i), now)
	}
	lost := w.EndsLost()
	c.End(live.ClientToServer, now)
	c.Closed(live.ClientToServer, now)
	w.tmu.Lock()
	_, held := w.tuples[c.ends]
	w.tmu.Unlock()
	if w.EndsLost()-lost != 2 || !held {
		t.Errorf("ends lost %d (want 2: the FIN and the close), tuple held %v (want true)", w.EndsLost()-lost, held)
	}
}

// A FIN takes a sequence number: every segment an end sends after its
// FIN (the ACK of the other end's FIN, a RST) is at the FIN's plus one,
// whether End, Closed or Reset ends the connection.
func TestSegmentsAfterFINAreOnePast(t *testing.T) {
	for _, end := range []string{"End", "Closed", "Reset"} {
		var buf bytes.Buffer
		w, err := newWriter(&buf, math.MaxInt64, bufSize, time.Hour, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		c := w.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*Conn)
		c.Write(live.ClientToServer, now, smuxFrame(3, 0, nil))
		c.Write(live.ServerToClient, now, smuxFrame(3, 0, nil))
		c.End(live.ClientToServer, now)
		switch end {
		case "End":
			c.End(live.ServerToClient, now)
		case "Closed":
			c.Closed(live.ServerToClient, now)
		case "Reset":
			c.Reset(live.ClientToServer, now)
		}
		w.Close()
		fin := map[uint16]uint32{} // each source port's FIN's seq
		for _, p := range pcaptest.Read(t, bytes.NewReader(buf.Bytes())) {
			src := uint16(p.TCP.SrcPort)
			if f, ok := fin[src]; ok && p.TCP.Seq != f+1 {
				t.Errorf("%s: port %d sent seq %d (flags ACK %v RST %v) after its FIN at %d, want %d", end, src, p.TCP.Seq, p.TCP.ACK, p.TCP.RST, f, f+1)
			}
			if p.TCP.FIN {
				fin[src] = p.TCP.Seq
			}
		}
	}
}

// A Live viewer whose queue, even the room kept for ends, is full loses
// a conn's ends: Live.EndsLost says how many, as Dropped says the bytes,
// and still does once the viewer left.
func TestLiveEndsLostCounted(t *testing.T) {
	lc := NewLive()
	g := &stalled{open: make(chan struct{})}
	w, err := newWriter(g, math.MaxInt64, 4096, time.Millisecond, LiveQueueBytes)
	if err != nil {
		t.Fatal(err)
	}
	v := &viewer{w: w, rc: http.NewResponseController(httptest.NewRecorder())}
	if _, ok := lc.take(); !ok || !lc.attach(v) {
		t.Fatal("the viewer was not attached")
	}
	now := time.Now()
	c := lc.Conn("127.0.0.1:1000", "127.0.0.1:2000", now).(*liveConn)
	for i := range 2 * queueEvents { // handshakes fill the whole queue
		lc.Conn("127.0.0.1:1001", fmt.Sprintf("127.0.0.1:%d", 3000+i), now)
	}
	lost := w.EndsLost()
	c.End(live.ClientToServer, now)
	c.Closed(live.ClientToServer, now)
	if got := lc.EndsLost(); got != w.EndsLost() || w.EndsLost()-lost != 2 {
		t.Errorf("Live.EndsLost %d, its viewer's writer's %d (%d of them the conn's FIN and close, want 2)", got, w.EndsLost(), w.EndsLost()-lost)
	}
	want := w.EndsLost()
	lc.detach(v)
	close(g.open)
	w.Close()
	lc.left(v)
	lc.serving.Done()
	if got := lc.EndsLost(); got != want {
		t.Errorf("Live.EndsLost once the viewer left: %d, want %d", got, want)
	}
	lc.Close()
}

// A conn whose beginning found no room in the queue is still written
// under its transport's interface, from its first bytes on: read joins
// it mid-stream, over TLS, not over TCP.
func TestBeginningLostKeepsTransport(t *testing.T) {
	g := &stalled{open: make(chan struct{})}
	w, err := newWriter(g, math.MaxInt64, 4096, time.Millisecond, LiveQueueBytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 2 * queueEvents { // handshakes fill the whole queue
		w.Conn("127.0.0.1:1001", fmt.Sprintf("127.0.0.1:%d", 3000+i), now)
	}
	lost := w.EndsLost()
	c := w.ConnOver("127.0.0.1:1000", "127.0.0.1:443", "tls", now).(*Conn)
	if w.EndsLost() != lost+1 {
		t.Fatal("the TLS conn's handshake found room")
	}
	close(g.open)
	smuxtest.Eventually(t, "the writer's drain of the handshakes", func() bool { return len(w.events) == 0 })
	c.Write(live.ClientToServer, now, smuxFrame(0, 1, nil))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewSource(bytes.NewReader(g.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, smuxFrame(0, 1, nil)) {
			continue
		}
		tr := "none: TCP"
		for _, a := range ci.AncillaryData {
			if t, ok := a.(capture.Transport); ok {
				tr = string(t)
			}
		}
		got = append(got, tr)
	}
	if len(got) != 1 || got[0] != "tls" {
		t.Errorf("the TLS conn's bytes were written over %q, want one packet over tls", got)
	}
}
