package capture_test

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// idleYamux records, as --write does, at the clients' taps, a real
// hashicorp/yamux v0.1.2 session whose client connects and then sends
// nothing for idle (as a yamux client does until it opens a stream),
// then asks for 10 bytes on a stream, with busy other sessions asking
// for size bytes (100 if 0) every 50 ms meanwhile (none if busy is 0). It
// returns the capture and the frames the taps counted.
func idleYamux(t *testing.T, idle time.Duration, busy, size int) ([]byte, uint64) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	// The server: each stream answers "REQ n" with n bytes, then closes.
	served := smuxtest.ServeYamux(ln, cfg, func(st net.Conn) {
		var n int
		if _, err := fmt.Fscanf(st, "REQ %d\n", &n); err == nil {
			st.Write(bytes.Repeat([]byte{'a'}, n))
		}
	})
	reg := live.New(live.Config{})
	session := func() *yamux.Session {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := yamux.Client(tap.Wrap(c, live.Client, reg, "idle", tap.Record(w)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ask := func(s *yamux.Session, n int) {
		st, err := s.OpenStream()
		if err != nil {
			t.Error(err)
			return
		}
		defer st.Close()
		fmt.Fprintf(st, "REQ %d\n", n)
		if _, err := io.ReadFull(st, make([]byte, n)); err != nil {
			t.Error(err)
		}
	}
	idler := session()
	var others sync.WaitGroup
	for range busy {
		others.Add(1)
		go func() {
			defer others.Done()
			s := session()
			defer s.Close()
			for end := time.Now().Add(idle); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				ask(s, cmp.Or(size, 100))
			}
		}()
	}
	time.Sleep(idle)
	ask(idler, 10)
	idler.Close()
	others.Wait()
	ln.Close()
	served()
	time.Sleep(50 * time.Millisecond) // the taps' last records
	var frames uint64
	for _, ss := range reg.Snapshot().Sessions {
		for d := range ss.Counts.TypeFrames {
			for _, n := range ss.Counts.TypeFrames[d] {
				frames += n
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), frames
}

// records returns every record of reg's history, oldest first.
func records(reg *live.Registry) []live.Record {
	var all []live.Record
	for next := uint64(0); ; {
		recs, n := reg.Frames(live.Query{From: next}, nil)
		all = append(all, recs...)
		if n == next {
			return all
		}
		next = n
	}
}

// TestOrderIdleSessionOpensAtItsSYN: a yamux client that connects and
// stays silent for longer than the order's bound (3 s) holds nothing
// past it, but alone in its capture, nothing was recorded meanwhile: its
// session still opens at its SYN, as keepalive's first interval counts
// from it.
func TestOrderIdleSessionOpensAtItsSYN(t *testing.T) {
	t.Parallel()
	data, frames := idleYamux(t, 3500*time.Millisecond, 0, 0)
	file, rd, reg := pcaptest.Open(t, bytes.NewReader(data), capture.Config{})
	var syn time.Time
	for {
		p, ci, err := file.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if syn.IsZero() {
			syn = ci.Timestamp
		}
		rd.Packet(p, ci, file.LinkType())
	}
	rd.Close()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	if ss := snap.Sessions[0]; !ss.Start.Equal(syn) {
		t.Errorf("the session opened at %v, its SYN was at %v", ss.Start.Format("15:04:05.000000"), syn.Format("15:04:05.000000"))
	}
	var n uint64
	for _, rec := range records(reg) {
		if rec.Kind == live.FrameRecord {
			n++
		}
	}
	if n != frames {
		t.Errorf("%d frames recorded, the tap counted %d", n, frames)
	}
}

// TestOrderLateSessionKeepsItsTimes: a yamux client that connects and
// stays silent for longer than the order's bound while two other
// sessions are busy holds their records for 3 s, no more; once it
// speaks, its records keep their capture times: its session opens at its
// SYN, behind the others' records of the 3.5 s since, the one step back
// the bound allows, and each session's records, and the busy sessions'
// among them, are in time order; no frame is lost. Stamped no earlier
// than the others' records (as a first cut did), it opened 3.5 s late,
// and the times its findings read were false (a frozen yamux client's
// unanswered ping, TestYamuxKeepaliveUnheard, opened no KEEPALIVE).
func TestOrderLateSessionKeepsItsTimes(t *testing.T) {
	t.Parallel()
	data, frames := idleYamux(t, 3500*time.Millisecond, 2, 0)
	slack := disorder(t, data)
	file, _, _ := pcaptest.Open(t, bytes.NewReader(data), capture.Config{})
	_, ci, err := file.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	syn := ci.Timestamp // the idle client's, which dialed first
	reg, _ := pcaptest.ReadAll(t, bytes.NewReader(data), capture.Config{})
	recs := records(reg)
	var late live.Record // the session opened last: the idle client's
	for _, rec := range recs {
		if rec.Kind == live.SessionOpened {
			late = rec
		}
	}
	if !late.At.Equal(syn) {
		t.Errorf("the idle client's session (%d) opened at %v, its SYN was at %v", late.Session, late.At.Format("15:04:05.000000"), syn.Format("15:04:05.000000"))
	}
	prev := map[bool]live.Record{}     // the latest of the late session's records, and of the others'
	prevOf := map[uint64]live.Record{} // by session
	var n uint64
	opened := 0
	for _, rec := range recs {
		switch rec.Kind {
		case live.FrameRecord:
			n++
		case live.SessionOpened:
			opened++
		}
		for _, p := range []live.Record{prev[rec.Session == late.Session], prevOf[rec.Session]} {
			if p.Seq != 0 && p.At.Sub(rec.At) > slack {
				t.Errorf("record %d (kind %v, session %d) at %v after one (kind %v, session %d) at %v",
					rec.Seq, rec.Kind, rec.Session, rec.At.Format("15:04:05.000000"), p.Kind, p.Session, p.At.Format("15:04:05.000000"))
			}
		}
		if p := prev[rec.Session == late.Session]; p.Seq == 0 || !rec.At.Before(p.At) {
			prev[rec.Session == late.Session] = rec
		}
		if p := prevOf[rec.Session]; p.Seq == 0 || !rec.At.Before(p.At) {
			prevOf[rec.Session] = rec
		}
	}
	if n != frames || opened != 3 {
		t.Errorf("%d frames recorded in %d sessions, the taps counted %d in 3", n, opened, frames)
	}
}

// disorder returns how far back in time the packets of the capture data
// go, at most: the taps that recorded it take a packet's time before the
// writer has it, so two sessions' packets can come a little out of
// order. Read's records may go back as far.
func disorder(t *testing.T, data []byte) time.Duration {
	t.Helper()
	file, _, _ := pcaptest.Open(t, bytes.NewReader(data), capture.Config{})
	var latest time.Time
	var back time.Duration
	for {
		_, ci, err := file.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		back = max(back, latest.Sub(ci.Timestamp))
		if ci.Timestamp.After(latest) {
			latest = ci.Timestamp
		}
	}
	if back > 100*time.Millisecond {
		t.Skipf("the capture's packets go back %v in time: the machine is too busy for its taps to record in order", back)
	}
	t.Logf("the capture's packets go back %v at most", back)
	return back
}

// TestOrderQuietReleases: as sniff reads a quiet interface, whose source
// says it is idle (capture.ErrIdle) between packets, a connection that
// sent only its SYN holds the records of a busy yamux session for 3 s of
// capture time, no more: the idle moments release them, without another
// packet.
func TestOrderQuietReleases(t *testing.T) {
	t.Parallel()
	data, _ := idleYamux(t, 300*time.Millisecond, 1, 0)
	ps := pcaptest.Read(t, bytes.NewReader(data))
	// The idler's connection, the first SYN's, is cut after its handshake:
	// a client that connected and never spoke.
	var idler layers.TCPPort
	var kept []pcaptest.Packet
	for _, p := range ps {
		tcp, _ := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatal("a packet without TCP")
		}
		if idler == 0 {
			idler = tcp.SrcPort
		}
		if (tcp.SrcPort == idler || tcp.DstPort == idler) && (len(tcp.Payload) > 0 || tcp.FIN || tcp.RST) {
			continue
		}
		kept = append(kept, p)
	}
	syn, last := kept[0].CI.Timestamp, kept[len(kept)-1].CI.Timestamp
	var ticks []time.Time
	for at := last.Add(250 * time.Millisecond); at.Before(syn.Add(5 * time.Second)); at = at.Add(250 * time.Millisecond) {
		ticks = append(ticks, at)
	}
	clock := new(capture.Clock)
	reg := live.New(live.Config{Clock: clock.Now})
	frames := func() (n uint64) {
		for _, rec := range records(reg) {
			if rec.Kind == live.FrameRecord {
				n++
			}
		}
		return n
	}
	var all uint64
	var releasedAt time.Time
	src := &quietSource{ps: kept, times: ticks, at: func(now time.Time) {
		if n := frames(); releasedAt.IsZero() && n > 0 && n == all {
			releasedAt = now
		}
	}}
	// The busy session's frames: the same capture read to its end.
	whole, _ := pcaptest.ReadAll(t, bytes.NewReader(data), capture.Config{})
	for _, ss := range whole.Snapshot().Sessions {
		if ss.Info.Client != fmt.Sprintf("127.0.0.1:%d", idler) {
			for d := range ss.Counts.TypeFrames {
				for _, n := range ss.Counts.TypeFrames[d] {
					all += n
				}
			}
		}
	}
	rd := capture.NewReader(capture.Config{Registry: reg, Clock: clock})
	if err := rd.Run(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	switch {
	case all < 10:
		t.Fatalf("the busy session has %d frames", all)
	case releasedAt.IsZero():
		t.Errorf("the busy session's %d frames were recorded only as the capture ended", all)
	case releasedAt.Sub(syn) > 3*time.Second+500*time.Millisecond:
		t.Errorf("the busy session's frames were all recorded %v after the silent client's SYN, want 3 s or so", releasedAt.Sub(syn))
	default:
		t.Logf("the busy session's %d frames all recorded %v after the silent client's SYN", all, releasedAt.Sub(syn))
	}
}

// TestOrderHeldBytesBounded: what the order holds is bounded in bytes as
// well as in time: a silent client's connection holds a bulk session's
// records, 4 MiB answers as fast as loopback carries them, until some
// 8 MiB are held, not for its 3 s: before the silent client speaks, 1 s
// after it connected, the bulk session's frames are recorded.
func TestOrderHeldBytesBounded(t *testing.T) {
	t.Parallel()
	data, _ := idleYamux(t, time.Second, 1, 4<<20)
	file, rd, reg := pcaptest.Open(t, bytes.NewReader(data), capture.Config{})
	var idler layers.TCPPort
	var carried int
	for {
		p, ci, err := file.ReadPacketData()
		if err == io.EOF {
			t.Fatal("the silent client never spoke")
		}
		if err != nil {
			t.Fatal(err)
		}
		tcp, _ := gopacket.NewPacket(p, file.LinkType(), gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatal("a packet without TCP")
		}
		if idler == 0 {
			idler = tcp.SrcPort
		}
		if tcp.SrcPort == idler && len(tcp.Payload) > 0 {
			break
		}
		carried += len(tcp.Payload)
		rd.Packet(p, ci, file.LinkType())
	}
	if carried < 12<<20 {
		t.Skipf("the bulk session carried %d bytes while the client was silent: too few to show the bound", carried)
	}
	var frames, got int
	for _, rec := range records(reg) {
		if rec.Kind == live.FrameRecord {
			frames++
			got += int(rec.PayloadLength())
		}
	}
	if got < carried-9<<20 {
		t.Errorf("before the silent client spoke, the bulk session carried %d bytes and %d frames of %d bytes were recorded: more than 8 MiB held", carried, frames, got)
	}
	t.Logf("before the silent client spoke, the bulk session carried %d bytes, %d frames of %d bytes recorded", carried, frames, got)
	rd.Close()
}
