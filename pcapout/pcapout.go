// Package pcapout writes the bytes that pass through tapped connections as
// a pcapng capture that tcpdump and Wireshark open and follow: each
// connection becomes a TCP connection of synthesized Ethernet/IP/TCP
// packets, with a SYN handshake, sequence and acknowledgement numbers that
// count every byte, and a FIN for each direction that ends, or a RST from
// the end that reset the connection. A connection that never ended, as
// the tap saw it (an attach that stopped watching it), has neither: the
// capture stopped while it was open, and Close writes where it stopped
// (stopped), as dumpcap does. A connection the capture begins after
// it opened (Writer.Joined) is written as tcpdump begun then sees it: no
// handshake, made-up sequence numbers, its bytes from the first given.
//
// The packets are TCP whatever the tapped conn ran over: each connection
// is written under a pcapng interface of its transport's (ConnOver), named
// muxtop/tcp, muxtop/tls, muxtop/unix, muxtop/pipe, muxtop/udp, from which
// muxtop read gives its session the transport the tap saw, and words it
// as the tap does. What the tap was told of its end (tap.Told: the smux
// version it speaks, the protocol, the client's prefix) is the comment
// of the connection's interface (ConnTold), one interface per transport
// and thing told, and read decodes the connection as the tap did.
//
// Live serves such a capture over HTTP as it happens, to each viewer that
// asks (muxtop read URL), for a program that taps its own connections.
//
// The data path never waits for the file: Write copies the bytes into a
// bounded queue that one goroutine drains to the file. Bytes that find the
// queue full are not written and are counted (Dropped); the sequence
// numbers still count them, so a reader of the capture sees a loss there
// (muxtop read says so and marks the session incomplete) rather than a
// stream that silently skips. The file stops at its size limit: its last
// packet carries a comment that marks the cut (tapiface.LimitComment),
// which Wireshark shows and muxtop read takes for the capture's cut, and
// what comes after is counted apart (PastLimit).
//
// The writer goroutine flushes what it buffered within FlushEvery of
// buffering it, and every write of the file ends at a block boundary,
// including those of a buffer that filled sooner: the file is a readable
// capture of what passed up to about a second ago while it is still being
// written, what a kill loses is that second and never leaves half a
// block, and a file that cannot be written fails (and says so, OnError)
// then, not only at Close.
package pcapout

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/internal/monoclock"
	"github.com/muxtop/muxtop/internal/tapiface"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

var _ tap.ToldRecorder = (*Writer)(nil)
var _ tap.UnsentRecorder = (*Conn)(nil)

// DefaultLimit is the size a capture file stops growing at when Create is
// given 0.
const DefaultLimit = 1 << 30

// FlushEvery is how long the writer goroutine keeps written packets in its
// buffer at most before it flushes them to the file.
const FlushEvery = time.Second

// mss is the most payload a synthesized segment carries.
const mss = 32 << 10

// Queue bounds: what Write may have handed to the writer goroutine and
// it has not yet written. A Live viewer's Writer holds LiveQueueBytes.
// Data fills the queue only up to controlSlack events short of its
// end: those are kept for beginnings and ends (handshakes, FINs, RSTs,
// closes), which carry no payload, so that a queue full of data does
// not lose a connection's end, which would leave it open forever in
// the capture.
const (
	queueEvents  = 8192
	queueBytes   = 64 << 20
	controlSlack = 1024
)

// Writer writes a pcapng capture of the connections it is given. Conn,
// Write and End are safe for concurrent use and never block on the file;
// Close drains the queue and closes the file.
type Writer struct {
	out    io.Writer
	file   io.Closer        // nil if the caller owns out
	buf    *bufio.Writer    // the file's buffer: only whole blocks go in
	block  bytes.Buffer     // the block ng is writing, until commit
	ng     *pcapgo.NgWriter // writes to block
	limit  int64
	events chan event
	done   chan struct{}
	// flushEvery is how long run keeps written packets buffered at most.
	flushEvery time.Duration
	// beatEvery, if not 0, is how often run writes a heartbeat while it
	// has written no packet (a Live viewer's: LiveHeartbeatEvery); sent
	// says a packet was written since the last tick. The writer
	// goroutine's.
	beatEvery time.Duration
	sent      bool
	// wrote says a packet was written: Close then writes where the
	// capture stopped (stopped). The writer goroutine's, then Close's.
	wrote bool
	// last is the latest time of a packet written: a packet made up by
	// the writer (heldWrites) is never stamped before it. sampled is
	// heldWrites' list of the connections it looks at, with their writes
	// counts as it loaded them. The writer goroutine's.
	last    time.Time
	sampled []heldSample
	// sampledAt is when heldWrites took its latest sample (zero before
	// the first). The writer goroutine's.
	sampledAt time.Time
	// samples counts heldWrites' samples taken, for tests to wait on.
	samples atomic.Uint64
	// maxQueued bounds the payload bytes queued.
	maxQueued int64
	// tuples are the client and server addresses of the connections
	// being written, by the Conn written with them: a second connection
	// with the same (both ends of one connection tapped in one process)
	// is given made-up ones, else a reader would take both for one.
	tmu    sync.Mutex
	tuples map[[2]netip.AddrPort]*Conn
	// ifaces are the file's interfaces by the transport whose
	// connections they carry and what their taps were told: TCP's told
	// nothing, 0, written by New, the others as their first connection
	// comes. The writer goroutine's.
	ifaces map[ifaceKey]int
	// conns are the connections with a packet in the file, whose gaps
	// the limit moves past it (gapsPastLimit). The writer goroutine's.
	conns map[*Conn]struct{}

	queued    atomic.Int64 // bytes in the queue
	written   atomic.Int64 // bytes of the file
	dropped   atomic.Int64 // payload bytes not written before the limit: queue full, a failed write, after a FIN
	pastLimit atomic.Int64 // payload bytes not written as they came after the limit
	endsLost  atomic.Int64 // beginnings and ends not queued: even the slack was full
	made      madeUp
	seed      uint32 // the writer goroutine's first ISN state: random, nonzero
	closeOnce sync.Once
	mu        sync.Mutex // guards closed against Write's send
	closed    bool
	err       error // the first write error; read after done
	full      atomic.Bool
	onError   atomic.Pointer[func(error)]
	onFull    atomic.Pointer[func()]
}

// event is one thing for the writer goroutine to write.
type event struct {
	c    *Conn
	kind eventKind
	dir  live.Dir
	at   time.Time
	off  uint32 // the direction's byte offset of data, or of the FIN
	data []byte
	// offs are a shut's byte offsets of each direction's FIN.
	offs [2]uint32
	// drops is the direction's Conn.drops as the event was queued.
	drops int64
	// closed is a window event's: the receiver's window closed, or
	// open again.
	closed bool
}

type eventKind uint8

const (
	opened eventKind = iota
	joined           // a connection open before the capture began: no handshake
	data
	fin
	rst
	shut // the tap closed the connection: FINs for what has not ended
	// unsent: the direction's bytes from off on never went out (a failed
	// write): its receiver acknowledges only those before them.
	unsent
	// window: a capture saw the direction's receiver advertise a zero
	// TCP window (closed), or open it again (ReceiveWindow).
	window
)

// Create creates the file path and returns a Writer to it that stops
// writing packets once the file holds limit bytes (0 means DefaultLimit).
// It opens the file write-only: where path is a FIFO, the Writer is not
// one of its readers, and once its reader leaves the writes fail (EPIPE)
// rather than block. A FIFO with no reader yet is waited for, as
// CreateWaiting does with no end.
func Create(path string, limit int64) (*Writer, error) {
	return CreateWaiting(context.Background(), path, limit, nil)
}

// ErrNoReader is CreateWaiting's error where its context ended before
// the FIFO it was to write had a reader.
var ErrNoReader = errors.New("the FIFO had no reader yet")

// CreateWaiting is Create that, where path is a FIFO that no reader has
// open, calls noReader (if not nil) once and waits for one until ctx ends,
// when it returns ErrNoReader.
func CreateWaiting(ctx context.Context, path string, limit int64, noReader func()) (*Writer, error) {
	f, err := openFile(ctx, path, noReader)
	if err != nil {
		return nil, err
	}
	page := 0
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
		// A pipe takes a write a page at a time, as its reader frees
		// one: written a page at a time, Written grows with each, and
		// a slow reader shows as progress (countWriter).
		page = os.Getpagesize()
	}
	w, err := newPagedWriter(f, limit, bufSize, FlushEvery, queueBytes, 0, page)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.file = f
	return w, nil
}

// New returns a Writer that writes a pcapng capture to out, stopping at
// limit bytes (0 means DefaultLimit).
func New(out io.Writer, limit int64) (*Writer, error) {
	return newWriter(out, limit, bufSize, FlushEvery, queueBytes)
}

// bufSize is the file's buffer: what the writer goroutine gathers between
// two writes of the file.
const bufSize = 256 << 10

// newWriter is New with a buffer of size bytes, flushed at most every
// after it begins to hold packets, and a queue of at most queued payload
// bytes.
func newWriter(out io.Writer, limit int64, size int, every time.Duration, queued int64) (*Writer, error) {
	return newBeatingWriter(out, limit, size, every, queued, 0)
}

// newBeatingWriter is newWriter that writes a heartbeat every beat while
// it writes no packet (0: never).
func newBeatingWriter(out io.Writer, limit int64, size int, every time.Duration, queued int64, beat time.Duration) (*Writer, error) {
	return newPagedWriter(out, limit, size, every, queued, beat, 0)
}

// newPagedWriter is newBeatingWriter that, with page > 0 (a FIFO's),
// writes the file in pieces that end at its page boundaries and counts
// each piece as it is written (countWriter).
func newPagedWriter(out io.Writer, limit int64, size int, every time.Duration, queued int64, beat time.Duration, page int) (*Writer, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	w := &Writer{out: out, limit: limit, events: make(chan event, queueEvents), done: make(chan struct{}), flushEvery: every,
		beatEvery: beat, maxQueued: queued, tuples: map[[2]netip.AddrPort]*Conn{}, conns: map[*Conn]struct{}{}, ifaces: map[ifaceKey]int{{}: 0}, seed: rand.Uint32() | 1}
	w.made.init()
	w.buf = bufio.NewWriterSize(&countWriter{w: out, n: &w.written, page: int64(page)}, size)
	ng, err := pcapgo.NewNgWriterInterface(&w.block, iface(ifaceKey{}), pcapgo.DefaultNgWriterOptions)
	if err != nil {
		return nil, err
	}
	w.ng = ng
	if err := w.commit(); err != nil { // the section header and interface
		return nil, err
	}
	go w.run() // owned by the Writer: Close waits for it
	return w, nil
}

// ifaceKey tells the file's interfaces apart: the transport of their
// connections, as live.SessionInfo.Transport names it, and what their
// taps were told (zero where nothing: tap.Told.Any).
type ifaceKey struct {
	transport string
	told      tap.Told
}

// keyOf is the key of the interface of a connection over transport
// whose tap was told told.
func keyOf(transport string, told tap.Told) ifaceKey {
	if !told.Any() {
		told = tap.Told{} // the tapped end alone changes nothing a reader does
	}
	return ifaceKey{transport, told}
}

// iface is the interface of the connections tapped over k's transport
// whose taps were told k's told: one per transport, so that a reader of
// the file knows which a connection ran over (internal/tapiface), and
// Wireshark shows it; and one per thing told, in the interface's comment
// (tapiface.Comment), so that a reader decodes the connection as its tap
// did (a version the tapped end speaks), and Wireshark shows that too.
func iface(k ifaceKey) pcapgo.NgInterface {
	return pcapgo.NgInterface{Name: tapiface.Name(k.transport), Description: tapiface.Description(k.transport), Comment: tapiface.Comment(k.told),
		OS: runtime.GOOS, LinkType: layers.LinkTypeEthernet, TimestampResolution: 9}
}

// ifaceOf returns the index of the interface of k's connections, adding
// it to the file if it is its first: an interface description block,
// which pcapng allows anywhere in its section before the packets that
// name it. It belongs to the writer goroutine.
func (w *Writer) ifaceOf(k ifaceKey) (int, error) {
	if i, ok := w.ifaces[k]; ok {
		return i, nil
	}
	i, err := w.ng.AddInterface(iface(k))
	if err != nil {
		return 0, err
	}
	w.ifaces[k] = i
	return i, nil
}

// Dropped returns how many payload bytes were not written while the file
// was short of its limit. Those the full queue had no room for (the
// writer fell behind) are a hole in their direction's sequence numbers,
// which a reader of the file sees as lost; those that came after their
// direction's end are past its FIN, which a reader sees as no loss (those
// before the FIN's place that were queued after the close, as lost);
// after a failed write of the file, everything is dropped, and the file
// simply ends there. The bytes the full queue dropped that no packet of
// their direction follows as the file reaches its limit are no hole in it:
// they are PastLimit's, not these, as are those that came after it.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// PastLimit returns how many payload bytes were not written because the
// file had reached its size limit: those that came after its last packet,
// whose comment marks the cut, and those the full queue dropped before it
// that no packet of their direction written follows.
func (w *Writer) PastLimit() int64 { return w.pastLimit.Load() }

// EndsLost returns how many beginnings and ends of connections (a
// handshake, FIN, RST or the tap's close) were not queued: the room kept
// for them in the queue was full too, or the Writer was closed. A
// connection whose end was lost reads as open in the capture.
func (w *Writer) EndsLost() int64 { return w.endsLost.Load() }

// Written returns how many bytes of the file have been written so far
// (to a FIFO, a page at a time, as its pipe takes each: a slow reader's
// every page counts): a Close whose count still grows is making progress.
func (w *Writer) Written() int64 { return w.written.Load() }

// Queued returns how many payload bytes wait in the queue for the
// writer.
func (w *Writer) Queued() int64 { return w.queued.Load() }

// Full reports whether the file reached its size limit.
func (w *Writer) Full() bool { return w.full.Load() }

// OnError has f called with the first error writing the file meets, as
// soon as the writer meets it, from the writer's goroutine: from then on
// nothing more is written (Dropped counts what was not), and Close
// returns the same error. f is called at most once; it must not call
// Close. Set it before the Writer is given anything to write.
func (w *Writer) OnError(f func(error)) { w.onError.Store(&f) }

// OnFull has f called once, from the writer's goroutine, as the file
// reaches its size limit: from then on nothing more is written (PastLimit
// counts the payload bytes that were not; connections that begin later
// are not in the file at all). f must not call Close. Set it before the
// Writer is given anything to write.
func (w *Writer) OnFull(f func()) { w.onFull.Store(&f) }

// fail keeps err as the first error writing the file met, and says so
// once to OnError's function. Only the writer's goroutine, and Close
// after it has ended, call it.
func (w *Writer) fail(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	if f := w.onError.Load(); f != nil {
		(*f)(err)
	}
}

// Close writes what is queued, then where the capture stopped (an
// Interface Statistics Block with its end time, if it wrote a packet),
// flushes and closes the file (if Create opened it) and returns the
// first error writing it met. Writes after Close are dropped. It is
// idempotent.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		at := time.Now()
		w.mu.Lock()
		w.closed = true
		close(w.events)
		w.mu.Unlock()
		<-w.done
		w.stopped(at)
		if err := w.buf.Flush(); err != nil {
			w.fail(err)
		}
		if w.file != nil {
			if err := w.file.Close(); err != nil {
				w.fail(err)
			}
		}
	})
	return w.err
}

// stopped writes, after the last packet, where the capture stopped: an
// Interface Statistics Block of each interface, at time at, with its
// isb_endtime, as dumpcap writes one as it stops. A connection with no
// FIN or RST before it was still open when the capture stopped (an
// attach that stopped watching a session does not close it in the
// file); muxtop read takes the block as a heartbeat, its clock reaching
// the capture's end, where Wireshark shows the interface's end time. A
// file that wrote no packet, failed or reached its limit (packets past
// it not written) has none. Close calls it once the writer goroutine has
// ended.
func (w *Writer) stopped(at time.Time) {
	if !w.wrote || w.err != nil || w.full.Load() {
		return
	}
	ifaces := make([]int, 0, len(w.ifaces))
	for _, i := range w.ifaces {
		ifaces = append(ifaces, i)
	}
	slices.Sort(ifaces)
	for _, i := range ifaces {
		stats := pcapgo.NgInterfaceStatistics{LastUpdate: at, EndTime: at, PacketsReceived: pcapgo.NgNoValue64, PacketsDropped: pcapgo.NgNoValue64}
		if err := w.ng.WriteInterfaceStats(i, stats); err != nil {
			w.fail(err)
			return
		}
	}
	if err := w.commit(); err != nil {
		w.fail(err)
	}
}

// send queues e, a beginning or an end of a connection (no payload),
// unless even the room kept for those is full; it reports whether it
// did, and counts it in EndsLost if not.
func (w *Writer) send(e event) bool {
	if !w.push(e, 0, 0) {
		w.endsLost.Add(1)
		return false
	}
	return true
}

// reserve takes room for n payload bytes in the queue, if it has it and
// room for one more event short of the slack kept for ends: a Write that
// finds none drops its bytes before it copies them.
func (w *Writer) reserve(n int64) bool {
	if len(w.events) >= cap(w.events)-controlSlack {
		return false
	}
	if w.queued.Add(n) > w.maxQueued {
		w.queued.Add(-n)
		return false
	}
	return true
}

// push queues e, whose n payload bytes reserve took room for, unless the
// Writer is closed or the queue holds more than all but slack events
// (filled meanwhile); it reports whether it did. Pushes are serialized by
// mu and the writer only takes from the queue, so data, pushed with
// controlSlack, never takes the room kept for ends.
func (w *Writer) push(e event, n int64, slack int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(w.events) >= cap(w.events)-slack {
		w.queued.Add(-n)
		return false
	}
	select {
	case w.events <- e:
		return true
	default:
		w.queued.Add(-n)
		return false
	}
}

// Conn returns the recorder of a connection between client and server,
// addresses such as "127.0.0.1:9000"; one that is not an IP address and
// port is given a made-up one in 10.0.0.0/8 (madeUp). With it, a Writer is a
// tap.Recorder.
func (w *Writer) Conn(client, server string, at time.Time) tap.ConnRecorder {
	return w.ConnOver(client, server, "", at)
}

// ConnOver is Conn of a connection over transport, as
// live.SessionInfo.Transport names it ("" for TCP): its packets are
// written under an interface of that transport's (tapiface), which muxtop
// read gives its session, so that its words are the tap's. With it, a
// Writer is a tap.TransportRecorder.
func (w *Writer) ConnOver(client, server, transport string, at time.Time) tap.ConnRecorder {
	return w.ConnTold(client, server, transport, tap.Told{}, at)
}

// ConnTold is ConnOver of a connection whose tap was told told: its
// packets are written under an interface whose comment says so
// (tapiface.Comment), from which muxtop read decodes it as the tap did
// (a peer of another smux version than the tapped end's tap.Version is a
// VERSION_MISMATCH at its first frame). With it, a Writer is a
// tap.ToldRecorder.
func (w *Writer) ConnTold(client, server, transport string, told tap.Told, at time.Time) tap.ConnRecorder {
	return w.open(w.made.endpoints(client, server), keyOf(transport, told), opened, at, nil)
}

// Joined returns the recorder of a connection between client and server
// (addresses as Conn takes them) that was open before the capture began,
// as tcpdump begun then sees it: no handshake is written, its sequence
// numbers begin at a made-up point, and its bytes are those given from
// now on, the first at whatever place in its frames the connection was.
// muxtop read then decodes it as any connection it joined mid-stream:
// from the first frame boundary it finds, its streams open before as
// joined. Nothing is written until its first bytes or its end.
func (w *Writer) Joined(client, server string) *Conn {
	return w.open(w.made.endpoints(client, server), ifaceKey{}, joined, time.Time{}, nil)
}

// joinedEnded is Joined of a connection whose directions ended[d] had
// ended before the join: they send nothing more, the capture writes no
// FIN for them (it never saw one), and the other direction's End alone
// ends the recording and frees its ends. Its writes in progress are
// those writes counts (Conn.shared).
func (w *Writer) joinedEnded(ends [2]netip.AddrPort, k ifaceKey, ended [2]bool, writes *[2]atomic.Uint64) *Conn {
	c := &Conn{w: w, key: k, done: ended, gone: ended, shared: writes}
	var mask uint32
	for d, e := range ended {
		if e {
			mask |= 1 << d
		}
	}
	c.ended.Store(mask)
	return w.openConn(c, ends, event{kind: joined})
}

// open returns the recorder of a connection between ends written under
// k's interface, queueing its beginning: kind opened (a handshake at at)
// or joined (none); writes, if not nil, are its writes in progress
// (Conn.shared). Where a connection being written has the same ends
// (both ends of a connection tapped in one process), it is given made-up
// ones in 10.0.0.0/8.
func (w *Writer) open(ends [2]netip.AddrPort, k ifaceKey, kind eventKind, at time.Time, writes *[2]atomic.Uint64) *Conn {
	return w.openConn(&Conn{w: w, key: k, shared: writes}, ends, event{kind: kind, at: at})
}

// openConn is open of the Conn c, its beginning e.
func (w *Writer) openConn(c *Conn, ends [2]netip.AddrPort, e event) *Conn {
	w.tmu.Lock()
	for i := 0; w.tuples[ends] != nil && i < 1<<16; i++ {
		ends = w.made.endpoints("", "")
	}
	w.tuples[ends] = c
	w.tmu.Unlock()
	c.ends = ends
	e.c = c
	w.send(e)
	return c
}

// release frees c's ends for another connection: it has ended.
func (c *Conn) release() {
	if !c.released.CompareAndSwap(false, true) {
		return
	}
	c.w.tmu.Lock()
	defer c.w.tmu.Unlock()
	if c.w.tuples[c.ends] == c {
		delete(c.w.tuples, c.ends)
	}
}

// madeUp makes up the ends of connections: 10.A.B.1 for the client and
// 10.A.B.2 for the server, A.B drawn at random for each Writer and Live,
// their ports counted on from a random start. Two programs' captures,
// merged by time (muxtop read a.pcapng b.pcapng), then seldom hold the
// same made-up connection, which would read as one, the second's packets
// as retransmissions of the first's. The count moves B on every 50 000
// ports: one Writer's ends come round again only after millions of
// connections, long after the one that had them ended.
type madeUp struct {
	net  [2]byte
	next atomic.Uint32
}

// init draws m's addresses and first port.
func (m *madeUp) init() {
	r := rand.Uint64()
	m.net = [2]byte{byte(r >> 40), byte(r >> 32)}
	m.next.Store(uint32(r) % (madePorts * 256))
}

// madePorts is how many ports of one made-up address are counted through.
const madePorts = 50000

// endpoints returns the client's and the server's addresses of a
// connection, made up by m where either is not an IP address and port,
// or where one is IPv4 and the other IPv6.
func (m *madeUp) endpoints(client, server string) [2]netip.AddrPort {
	ends := [2]netip.AddrPort{m.endpoint(client, 1), m.endpoint(server, 2)}
	if ends[0].Addr().Is4() != ends[1].Addr().Is4() {
		ends = [2]netip.AddrPort{m.endpoint("", 1), m.endpoint("", 2)}
	}
	return ends
}

func (m *madeUp) endpoint(s string, host byte) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	i := m.next.Add(1)
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, m.net[0], m.net[1] + byte(i/madePorts), host}), uint16(10000+i%madePorts))
}

// Conn records one connection. Write and End of one direction must not
// be called concurrently; the two directions may be.
type Conn struct {
	w    *Writer
	ends [2]netip.AddrPort // client, server
	// key is what the connection ran over (ConnOver) and what its tap
	// was told (ConnTold): its packets' interface is theirs.
	key ifaceKey
	// off counts the bytes handed to Write per direction, dropped or
	// not: stored by the direction's Write only, loaded by Closed too,
	// which may run beside the other direction's Write.
	off  [2]atomic.Uint32
	done [2]bool
	// ended has bit 1<<dir set once dir ended (End), for either
	// direction's caller to see both; released, once the connection's
	// ends were freed (release).
	ended    atomic.Uint32
	released atomic.Bool
	// clock stamps each direction's Writes that come with no time (a
	// tap's): read here, only for bytes the queue has room for.
	clock [2]monoclock.Clock
	// writes counts, per direction, the writes of its bytes to the
	// connection begun, with whether one is in progress and whether the
	// latest failed (WriteStarted, WriteDone: heldSeq). The writer goroutine samples them
	// (heldWrites). shared, if not nil, are counts kept for it instead:
	// a Live's connection's, which each viewer's Writer samples.
	writes [2]atomic.Uint64
	shared *[2]atomic.Uint64
	// drops counts, per direction, the payload bytes the queue had no
	// room for (Dropped's), stored by the direction's Write; covered is
	// how many of them a packet of the direction written since follows
	// (the writer goroutine's): the rest are its gap, which no reader
	// sees where the file reaches its limit before a packet follows them.
	drops   [2]atomic.Int64
	covered [2]int64

	// The writer goroutine's own state.
	iface  int       // the index of its transport's interface
	ifaced bool      // iface is set
	seq    [2]uint32 // initial sequence numbers
	acked  [2]uint32 // the highest offset of each direction written
	fins   [2]bool
	// gone are the directions that ended before the capture joined:
	// nothing of them is written, not even a FIN at the close. Set as
	// the Conn is made, before its first event reaches the writer.
	gone  [2]bool
	reset bool // a RST was written: the connection is over
	begun bool // its beginning was written (a handshake, or a join)
	// zero says, per direction, that its receiver advertises a zero
	// window: every packet the receiver sends says so. byWrite says a
	// held write closed it (heldWrites), which its return opens, rather
	// than a capture (ReceiveWindow).
	zero    [2]bool
	byWrite [2]bool
	// heldSeen is the writes count heldWrites last saw of each
	// direction, and heldSince when it first saw that write in
	// progress (zero if not).
	heldSeen  [2]uint64
	heldSince [2]time.Time
	// heldFrom is when the write heldSince saw began, as near as the
	// writer knows (heldWrites), and dataAt the time of the latest bytes
	// of each direction written.
	heldFrom [2]time.Time
	dataAt   [2]time.Time
}

// Write records that p passed in direction dir at time at, or now if at
// is zero. p is copied.
func (c *Conn) Write(dir live.Dir, at time.Time, p []byte) {
	if len(p) == 0 || c.done[dir] {
		return
	}
	off := c.off[dir].Load()
	c.off[dir].Store(off + uint32(len(p)))
	// Room first: bytes that find the queue full are neither stamped,
	// copied nor allocated.
	n := int64(len(p))
	if c.w.full.Load() {
		c.w.pastLimit.Add(n)
		return
	}
	if !c.w.reserve(n) {
		c.drops[dir].Add(n)
		c.w.dropped.Add(n)
		return
	}
	if at.IsZero() {
		at = c.clock[dir].Now()
	}
	if !c.w.push(event{c: c, kind: data, dir: dir, at: at, off: off, data: append([]byte(nil), p...), drops: c.drops[dir].Load()}, n, controlSlack) {
		c.drops[dir].Add(n)
		c.w.dropped.Add(n)
	}
}

// End records that direction dir ended (a FIN) at time at.
func (c *Conn) End(dir live.Dir, at time.Time) {
	if c.done[dir] {
		return
	}
	c.done[dir] = true
	if !c.w.send(event{c: c, kind: fin, dir: dir, at: at, off: c.off[dir].Load()}) {
		return // the connection never ends in the capture: its ends stay taken
	}
	if c.ended.Or(1<<dir)|1<<dir == 3 {
		c.release()
	}
}

// Unsent records that the last n bytes Write was given in direction dir
// never went out: the tap's write of them failed at time at, or now if at
// is zero (tap.UnsentRecorder). They are in the capture, written before
// the write failed, or dropped: after them the receiver acknowledges only
// the bytes before them, a pure ACK that muxtop read of the capture takes
// as the tap does, those bytes taken back as unsent (Wireshark shows them
// unacknowledged). What the direction ends with next (its FIN, a RST)
// comes where they began.
func (c *Conn) Unsent(dir live.Dir, at time.Time, n int64) {
	if n <= 0 || c.done[dir] {
		return
	}
	off := c.off[dir].Load()
	cut := off - uint32(min(n, int64(off)))
	c.off[dir].Store(cut)
	if at.IsZero() {
		at = c.clock[dir].Now()
	}
	c.w.send(event{c: c, kind: unsent, dir: dir, at: at, off: cut})
}

// Reset records that the sender of direction dir reset the connection at
// time at: a RST from that end. What either direction sends or ends after
// it is not written.
func (c *Conn) Reset(dir live.Dir, at time.Time) {
	if c.w.send(event{c: c, kind: rst, dir: dir, at: at}) {
		c.release() // else it never ends in the capture: its ends stay taken
	}
}

// Closed records that the tap closed the connection at time at, its end
// the sender of direction dir (tap.ClosingRecorder): every direction
// that has not ended ends then, with a FIN, dir's first, and what either
// direction sends or ends after is not written. The capture shows what
// the tap saw: its end closed first, and nothing more came; what the
// peer did after (its FIN, or bytes its closed socket answered with a
// RST) the tap never saw. It may be called while the other direction's
// Write or End is.
func (c *Conn) Closed(dir live.Dir, at time.Time) {
	// Each FIN goes at its direction's offset, past any bytes dropped,
	// so that a reader sees them lost.
	if c.w.send(event{c: c, kind: shut, dir: dir, at: at, offs: [2]uint32{c.off[0].Load(), c.off[1].Load()}}) {
		c.release() // else it never ends in the capture: its ends stay taken
	}
}

// WriteStarted records that a write of direction dir's bytes to the
// connection begins, WriteDone that it returned (tap.HeldRecorder): one
// atomic load and store each. A write that has not returned for HeldAfter is its
// receiver not reading the connection, its socket buffer full: the
// capture shows it as a real one would, the receiver's ACK of what it
// has advertising a zero window, every packet it sends after saying
// so, until the write returns (the writer goroutine samples the count
// every HeldEvery). muxtop read of the capture then takes the sender's
// silence for the block's, and names it (SESSION_BLOCKED), as the tap
// did, in the tap's words (sign write: the interface says the capture is
// a tap's). It is not the wire's window: a receiver that reads on, far
// slower than the sender writes, holds the write as long, while the
// wire's window closes and opens many times a second. The ACK
// acknowledges every byte recorded, the held write's too, which the
// receiver has not all got: should the write then fail, the receiver's
// next ACK (Unsent's) acknowledges only those before it, and goes
// backwards.
func (c *Conn) WriteStarted(dir live.Dir) { writeStarted(&c.writes[dir&1]) }

// WriteDone ends what WriteStarted began; failed says the write returned
// an error (the connection closed under it: attach shut down, the peer
// reset): the receiver never took the bytes it held, and the capture
// does not show its window opening.
func (c *Conn) WriteDone(dir live.Dir, failed bool) { writeDone(&c.writes[dir&1], failed) }

// A direction's writes count is its writes begun (heldSeq on), whether
// one is in progress (heldBusy), and whether the latest returned an
// error (heldFailed). Only the direction's one writer changes it: a Load
// and a Store, no read-modify-write, each an atomic access.
const (
	heldBusy   = 1
	heldFailed = 2
	heldSeq    = 4
)

func writeStarted(v *atomic.Uint64) { v.Store(v.Load()&^(heldSeq-1) + heldSeq | heldBusy) }

func writeDone(v *atomic.Uint64, failed bool) {
	n := v.Load() &^ (heldSeq - 1)
	if failed {
		n |= heldFailed
	}
	v.Store(n)
}

// ReceiveWindow records that a capture saw the receiver of direction dir
// advertise a zero TCP window from at on (closed), or open it again
// (tap.WindowRecorder): written as an ACK of the receiver's with that
// window, and every packet it sends while closed says so.
func (c *Conn) ReceiveWindow(dir live.Dir, closed bool, at time.Time) {
	e := event{c: c, kind: window, dir: dir, at: at, closed: closed}
	if closed {
		c.w.push(e, 0, controlSlack) // lost, it leaves the window open: no block made up
	} else {
		c.w.push(e, 0, 0) // lost, it would leave the window closed for good
	}
}

// HeldAfter is how long a write must have been seen in progress, by the
// writer's samples HeldEvery apart, before the capture shows its
// receiver's window closed (WriteStarted). A write to a socket with room
// returns within microseconds; a receiver that reads on, even slowly,
// frees room within this.
const (
	HeldAfter = 100 * time.Millisecond
	HeldEvery = 50 * time.Millisecond
)

// countWriter counts the bytes written through it, n being the file's
// offset. With page set (a FIFO's: the pipe's page, os.Getpagesize), it
// writes in pieces that end at the file's page boundaries and counts each
// as it is written. A pipe's writer waits for its reader to free a page,
// so the count grows with a slow reader's every page (at 16 KB/s, 4 times
// a second) and not only once a whole flush of the buffer has gone (256
// KiB, 16 s at that rate, which a close took for no progress and a
// second signal cut). Ending at the file's page boundaries, a piece that
// finishes a page goes into the pipe's last, partly filled page (Linux
// merges a write of less than a page where it fits): every page in the
// pipe but the last is whole, as one large write leaves them. Pieces of a
// page each regardless of the offset left a page partly filled at every
// flush, and a pipe its writer can no longer write to held as little as
// 59984 of its 65536 bytes, all its pages in use.
type countWriter struct {
	w    io.Writer
	n    *atomic.Int64
	page int64 // 0: each write whole
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.page <= 0 {
		n, err := c.w.Write(p)
		c.n.Add(int64(n))
		return n, err
	}
	var n int
	for len(p) > 0 {
		k, err := c.w.Write(p[:min(int64(len(p)), c.page-c.n.Load()%c.page)])
		c.n.Add(int64(k))
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// run writes the queued events until Close, and flushes what it buffered
// within FlushEvery of buffering it: between events, so that the file ends
// with whole blocks. The timer runs only while something is buffered, and
// stops after a write failed: nothing more is written then. With
// beatEvery, it writes a heartbeat at each tick of it that follows one
// with no packet written (beat).
func (w *Writer) run() {
	defer close(w.done)
	s := newSynth(w.seed)
	flush := time.NewTimer(w.flushEvery)
	armed := true // the section header New wrote is buffered
	defer flush.Stop()
	held := time.NewTicker(HeldEvery)
	defer held.Stop()
	var beats <-chan time.Time
	if w.beatEvery > 0 {
		t := time.NewTicker(w.beatEvery)
		defer t.Stop()
		beats = t.C
	}
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				return // Close flushes
			}
			w.write(s, e)
		case <-flush.C:
			armed = false
			if w.err == nil && w.buf.Buffered() > 0 {
				if err := w.buf.Flush(); err != nil {
					w.fail(err)
				}
			}
		case <-beats:
			if !w.beat(s) {
				return // closed while it drained the queue: Close flushes
			}
		case <-held.C:
			if !w.heldWrites(s) {
				return // closed while it drained the queue: Close flushes
			}
		}
		// What an event, or a heartbeat's drain of the queue, buffered
		// goes out within flushEvery.
		if !armed && w.err == nil && w.buf.Buffered() > 0 {
			flush.Reset(w.flushEvery)
			armed = true
		}
	}
}

// HeartbeatSlack is how far behind the writer's clock a heartbeat's time
// is: room for a packet a tap stamped before the heartbeat was taken but
// had not queued yet (a goroutine descheduled between its stamp and its
// push on a loaded machine). One that comes later all the same is read at
// the heartbeat's time by muxtop read, whose clock never goes back.
const HeartbeatSlack = 100 * time.Millisecond

// beat writes a heartbeat if no packet was written since the last tick:
// a pcapng Interface Statistics Block whose timestamp is the time up to
// which every packet the taps recorded has been written, so that a
// reader's clock goes on while the program is idle (muxtop read takes it
// as the capture's time having reached it; Wireshark shows its
// statistics). The time is taken first, then everything queued by then
// is written, so that no packet stamped before the time, less
// HeartbeatSlack, comes after it. It reports false if the queue closed
// meanwhile. It belongs to the writer goroutine.
func (w *Writer) beat(s *synth) bool {
	if w.err != nil || w.full.Load() {
		return true
	}
	now := time.Now()
	if !w.drain(s) {
		return false
	}
	if w.sent {
		w.sent = false // the packets carry the time
		return true
	}
	at := now.Add(-HeartbeatSlack)
	stats := pcapgo.NgInterfaceStatistics{LastUpdate: at, PacketsReceived: pcapgo.NgNoValue64, PacketsDropped: pcapgo.NgNoValue64}
	if err := w.ng.WriteInterfaceStats(0, stats); err != nil {
		w.fail(err)
		return true
	}
	if err := w.commit(); err != nil {
		w.fail(err)
		return true
	}
	if err := w.buf.Flush(); err != nil { // now: it is the stream's only news
		w.fail(err)
	}
	return true
}

// drain writes every event queued; it reports false if the queue closed
// meanwhile. It belongs to the writer goroutine.
func (w *Writer) drain(s *synth) bool {
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				return false
			}
			w.write(s, e)
		default:
			return true
		}
	}
}

// heldSample is a connection heldWrites looks at, with its writes
// counts (Conn.writes) as it loaded them.
type heldSample struct {
	c *Conn
	v [2]uint64
}

// heldWrites samples the writes in progress of every connection being
// written (Conn.WriteStarted): one seen in progress, the same one, at
// samples HeldAfter apart or more has been held since the first, and
// its receiver's window is written closed, stamped when the write began:
// at its bytes, which the tap records as it begins, if it is the one
// write begun since the previous sample and they came after that sample,
// else at the first sample that saw it (or at the latest packet written,
// if later); once it returned, open again. Stamped at the first sample,
// the file's block was up to HeldEvery shorter than the write's, and
// shorter than attach's own, which counts from its first evaluation to
// see it (a 603 ms block was 586 ms in the file). A sample's counts are
// loaded at its time, before what was queued is written: that is written
// first, the held write's bytes before the window that holds the rest,
// and may take long (a 16 MiB frame under -race on a starved machine
// took 15 s); counts loaded after it were of a write begun meanwhile,
// which the sample before it timed from its own start, and the next
// sample closed the window of a write it had seen for 9 ms, from 18 s
// before. It reports false if the queue closed meanwhile. It belongs to
// the writer goroutine.
func (w *Writer) heldWrites(s *synth) bool {
	if w.err != nil || w.full.Load() {
		return true
	}
	now := time.Now()
	w.tmu.Lock()
	w.sampled = w.sampled[:0]
	for _, c := range w.tuples {
		hs := heldSample{c: c}
		counts := &c.writes
		if c.shared != nil {
			counts = c.shared
		}
		for d := range hs.v {
			hs.v[d] = counts[d].Load()
		}
		w.sampled = append(w.sampled, hs)
	}
	w.tmu.Unlock()
	if !w.drain(s) {
		clear(w.sampled)
		return false
	}
	for _, hs := range w.sampled {
		c := hs.c
		if !c.begun || c.reset {
			continue
		}
		for d := range live.Dir(2) {
			v := hs.v[d]
			busy := v&heldBusy != 0
			if !busy || v != c.heldSeen[d] {
				if c.zero[d] && c.byWrite[d] && v&heldFailed == 0 {
					w.receiveWindow(s, c, d, false, now) // the write returned
				}
				// The one write begun since the previous sample: the
				// bytes recorded since then are its own, a big write's
				// later chunks having none (tap's WriteProgress).
				first := v/heldSeq == c.heldSeen[d]/heldSeq+1
				c.heldSeen[d], c.heldSince[d] = v, time.Time{}
				if busy {
					c.heldSince[d], c.heldFrom[d] = now, now
					if at := c.dataAt[d]; first && at.After(w.sampledAt) && !at.After(now) {
						// Its bytes, recorded as it began, after the
						// previous sample, which did not see it.
						c.heldFrom[d] = at
					}
				}
				continue
			}
			if !c.zero[d] && !c.fins[d] && !c.heldSince[d].IsZero() && now.Sub(c.heldSince[d]) >= HeldAfter {
				w.receiveWindow(s, c, d, true, c.heldFrom[d])
				c.byWrite[d] = true
			}
		}
	}
	clear(w.sampled) // no Conn kept past its end
	w.sampledAt = now
	w.samples.Add(1)
	return true
}

// receiveWindow writes, at at or the latest packet's time if later, the
// ACK of direction d's receiver advertising its window closed (zero) or
// open again; the packets it sends from then on say the same. It belongs
// to the writer goroutine.
func (w *Writer) receiveWindow(s *synth, c *Conn, d live.Dir, closed bool, at time.Time) {
	c.zero[d], c.byWrite[d] = closed, false
	if c.gone[d] || c.gone[d.Reverse()] {
		return // nothing of a direction gone is written
	}
	if at.Before(w.last) {
		at = w.last // after what was written: the window changed since
	}
	w.packet(s, c, d.Reverse(), at, tcpACK, c.acked[d.Reverse()], nil)
}

// write writes one queued event; it belongs to the writer goroutine.
func (w *Writer) write(s *synth, e event) {
	w.queued.Add(-int64(len(e.data)))
	if w.err != nil || w.full.Load() {
		if e.kind != data {
			return
		}
		if w.err != nil {
			w.dropped.Add(int64(len(e.data)))
		} else {
			w.pastLimit.Add(int64(len(e.data))) // queued before the limit, come after it
		}
		return
	}
	c := e.c
	if c.reset {
		return // after the RST, nothing crossed: bytes fed before a write that failed
	}
	if !c.ifaced {
		// At its first event, its beginning unless that found no room:
		// its packets are its transport's whatever comes first.
		i, err := w.ifaceOf(c.key)
		if err != nil {
			w.fail(err)
			return
		}
		c.iface, c.ifaced = i, true
		w.conns[c] = struct{}{}
	}
	switch e.kind {
	case opened:
		c.begun = true
		c.seq = [2]uint32{s.isn(), s.isn()}
		w.packet(s, c, live.ClientToServer, e.at, tcpSYN, 0, nil)
		w.packet(s, c, live.ServerToClient, e.at, tcpSYN|tcpACK, 0, nil)
		w.packet(s, c, live.ClientToServer, e.at, tcpACK, 0, nil)
	case joined:
		// Nothing to write: the first segment of either direction, at
		// its made-up sequence number, is where the capture joins it.
		c.begun = true
		c.seq = [2]uint32{s.isn(), s.isn()}
	case data:
		if c.fins[e.dir] {
			// After the direction's FIN: bytes the tap saw after it
			// closed, or bytes before the FIN's place queued after
			// the close. Not written, and counted: those before the
			// FIN read as lost, as their gap says.
			w.dropped.Add(int64(len(e.data)))
			return
		}
		if c.zero[e.dir] && c.byWrite[e.dir] {
			// The held write returned, and more came: the receiver
			// took what it held, its window open again.
			w.receiveWindow(s, c, e.dir, false, e.at)
		}
		p := e.data
		for off := e.off; len(p) > 0; {
			if w.full.Load() {
				// The limit was reached in the middle of them.
				w.pastLimit.Add(int64(len(p)))
				return
			}
			n := min(len(p), mss)
			if off == e.off {
				// A packet after the drops before it: a reader sees
				// their gap.
				c.covered[e.dir] = e.drops
			}
			w.packet(s, c, e.dir, e.at, tcpACK|tcpPSH, off, p[:n])
			p, off = p[n:], off+uint32(n)
		}
		c.acked[e.dir] = e.off + uint32(len(e.data))
		c.dataAt[e.dir] = e.at
	case fin:
		if c.fins[e.dir] {
			return // ended by shut already
		}
		c.acked[e.dir] = e.off
		c.covered[e.dir] = c.drops[e.dir].Load() // the FIN follows them all
		w.packet(s, c, e.dir, e.at, tcpACK|tcpFIN, e.off, nil)
		c.fins[e.dir] = true
		// The other end acknowledges the FIN.
		w.packet(s, c, e.dir.Reverse(), e.at, tcpACK, c.acked[e.dir.Reverse()], nil)
	case rst:
		// At the end of what the resetting end sent: the reader
		// takes the connection as reset, by that end.
		c.reset = true
		w.packet(s, c, e.dir, e.at, tcpACK|tcpRST, c.acked[e.dir], nil)
	case unsent:
		if c.fins[e.dir] || int32(c.acked[e.dir]-e.off) <= 0 {
			return // ended already, or none of them written (dropped)
		}
		c.acked[e.dir] = e.off
		w.packet(s, c, e.dir.Reverse(), e.at, tcpACK, c.acked[e.dir.Reverse()], nil)
	case window:
		if !c.begun || c.fins[e.dir] || c.fins[e.dir.Reverse()] || c.zero[e.dir] == e.closed {
			return
		}
		w.receiveWindow(s, c, e.dir, e.closed, e.at)
	case shut:
		for _, d := range []live.Dir{e.dir, e.dir.Reverse()} {
			if !c.fins[d] && !c.gone[d] {
				// Past the bytes written and the bytes dropped; a
				// data event queued before the close may have
				// taken the direction further than Closed read.
				if int32(e.offs[d]-c.acked[d]) > 0 {
					c.acked[d] = e.offs[d]
				}
				c.covered[d] = c.drops[d].Load()
				w.packet(s, c, d, e.at, tcpACK|tcpFIN, c.acked[d], nil)
				c.fins[d] = true
				w.packet(s, c, d.Reverse(), e.at, tcpACK, c.acked[d.Reverse()], nil)
			}
		}
	}
	if c.reset || c.fins[0] && c.fins[1] {
		delete(w.conns, c) // no gap of it can be past the limit
	}
}

// TCP flags of a synthesized segment.
const (
	tcpFIN = 1 << iota
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
)

// packet writes one segment of c in direction dir carrying payload at the
// direction's byte offset off, unless the file reached its limit. The
// packet that reaches it is the file's last: it carries the mark of the
// cut, a comment (opt_comment, tapiface.LimitComment), and OnFull's
// function is called.
func (w *Writer) packet(s *synth, c *Conn, dir live.Dir, at time.Time, flags int, off uint32, payload []byte) {
	if w.full.Load() {
		return
	}
	src, dst := c.ends[dir], c.ends[dir.Reverse()]
	seq := c.seq[dir] + 1 + off
	switch {
	case flags&tcpSYN != 0:
		seq = c.seq[dir]
	case c.fins[dir] && flags&tcpFIN == 0:
		seq++ // after its FIN, which takes a sequence number: the ACK of the other FIN, a RST
	}
	var ack uint32
	if flags&tcpACK != 0 {
		// The other direction's bytes written so far, its SYN and its FIN.
		r := dir.Reverse()
		ack = c.seq[r] + 1 + c.acked[r]
		if c.fins[r] {
			ack++
		}
	}
	// The sender's receive window: that of the other direction's
	// receiver, closed while it is held (zero).
	win := uint16(65535)
	if c.zero[dir.Reverse()] {
		win = 0
	}
	b, err := s.segment(src, dst, seq, ack, flags, win, payload)
	if err != nil {
		w.fail(err)
		return
	}
	ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(b), Length: len(b), InterfaceIndex: c.iface}
	// An Enhanced Packet Block without options is 32 bytes and the
	// packet's, padded to 4.
	last := w.written.Load()+int64(w.buf.Buffered()+w.block.Len()+32+(len(b)+3)&^3) >= w.limit
	var opts pcapgo.NgPacketOptions
	if last {
		opts.Comments = []string{tapiface.LimitComment(w.limit)}
	}
	if err := w.ng.WritePacketWithOptions(ci, b, opts); err != nil {
		w.fail(err)
		return
	}
	w.sent, w.wrote = true, true
	if at.After(w.last) {
		w.last = at
	}
	if err := w.commit(); err != nil {
		w.fail(err)
	}
	if last {
		w.full.Store(true)
		w.gapsPastLimit()
		if f := w.onFull.Load(); f != nil {
			(*f)()
		}
	}
}

// gapsPastLimit moves, as the file reaches its limit, each connection
// direction's drops that no packet of it written follows (its gap) from
// Dropped to PastLimit: they fall after the file's last packet, where
// no reader sees them as lost. It belongs to the writer goroutine.
func (w *Writer) gapsPastLimit() {
	for c := range w.conns {
		for dir := range 2 {
			if gap := c.drops[dir].Load() - c.covered[dir]; gap > 0 {
				c.covered[dir] += gap
				w.dropped.Add(-gap)
				w.pastLimit.Add(gap)
			}
		}
	}
	w.conns = nil
}

// commit moves the blocks ng wrote into the file's buffer so that every
// write to the file ends at a block boundary: a block that does not fit
// in what is left of the buffer has the buffer flushed before it, and
// one larger than the whole buffer goes to the file whole, in one write.
// A kill at any time then leaves a file of whole blocks. It belongs to
// the writer goroutine (and New, before it starts).
func (w *Writer) commit() error {
	if err := w.ng.Flush(); err != nil { // ng's own small buffer, into block
		return err
	}
	b := w.block.Bytes()
	defer w.block.Reset()
	if len(b) > w.buf.Available() && w.buf.Buffered() > 0 {
		if err := w.buf.Flush(); err != nil {
			return err
		}
	}
	// With the buffer empty, bufio writes a block larger than it
	// straight to the file in one call.
	_, err := w.buf.Write(b)
	return err
}

// synth builds packets; it belongs to the writer goroutine.
type synth struct {
	buf   gopacket.SerializeBuffer
	eth   layers.Ethernet
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	state uint32
}

// newSynth returns a synth whose ISNs begin at the nonzero state seed:
// random for each Writer, so that two programs' captures of connections
// with the same ends still differ.
func newSynth(seed uint32) *synth {
	s := &synth{buf: gopacket.NewSerializeBuffer(), state: seed}
	s.eth = layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}}
	return s
}

// isn returns an initial sequence number: made up, but not all alike, as
// real ones are not.
func (s *synth) isn() uint32 {
	s.state ^= s.state << 13
	s.state ^= s.state >> 17
	s.state ^= s.state << 5
	return s.state
}

var errMixed = errors.New("pcapout: a connection between an IPv4 and an IPv6 address") // Conn prevents it

func (s *synth) segment(src, dst netip.AddrPort, seq, ack uint32, flags int, win uint16, payload []byte) ([]byte, error) {
	s.tcp = layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, Window: win,
		FIN: flags&tcpFIN != 0, SYN: flags&tcpSYN != 0, RST: flags&tcpRST != 0, PSH: flags&tcpPSH != 0, ACK: flags&tcpACK != 0,
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	switch {
	case src.Addr().Is4() && dst.Addr().Is4():
		s.eth.EthernetType = layers.EthernetTypeIPv4
		a, b := src.Addr().As4(), dst.Addr().As4()
		s.ip4 = layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: a[:], DstIP: b[:], Flags: layers.IPv4DontFragment}
		if err := s.tcp.SetNetworkLayerForChecksum(&s.ip4); err != nil {
			return nil, err
		}
		err = gopacket.SerializeLayers(s.buf, opts, &s.eth, &s.ip4, &s.tcp, gopacket.Payload(payload))
	case src.Addr().Is6() && dst.Addr().Is6():
		s.eth.EthernetType = layers.EthernetTypeIPv6
		a, b := src.Addr().As16(), dst.Addr().As16()
		s.ip6 = layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: a[:], DstIP: b[:]}
		if err := s.tcp.SetNetworkLayerForChecksum(&s.ip6); err != nil {
			return nil, err
		}
		err = gopacket.SerializeLayers(s.buf, opts, &s.eth, &s.ip6, &s.tcp, gopacket.Payload(payload))
	default:
		return nil, errMixed
	}
	if err != nil {
		return nil, err
	}
	return s.buf.Bytes(), nil
}
