package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/reassembly"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/tap"
)

// Bounds on what reassembly holds while it waits for missing segments:
// pages of 1900 bytes. A connection that reaches its bound has the hole
// it waits at counted as lost, and decoding goes on after it.
const (
	maxPagesPerConn = 256 // about 480 KB
	// flushAfter is how long, in capture time, reassembly waits for a
	// missing segment that no ACK has shown lost before counting it lost.
	flushAfter = 2 * time.Second
	// idleAfter is how long, in capture time, a connection that carried
	// no SYN and no byte (the ACKs after a close) is kept.
	idleAfter = 10 * time.Second
	// probeMax is how many bytes of a connection are looked at to tell
	// whether it is smux or yamux: enough for a chain of
	// resynchronisation headers of the largest frames of either.
	probeMax = max(decoder.ResyncWindow, yamux.ResyncWindow) + 1<<10
	// orientWait is how long, in capture time, a connection joined
	// mid-stream is held for a stream-opening frame to tell its client
	// from its server, before the port guess decides.
	orientWait = 2 * time.Second
	// orientMax bounds the bytes a connection holds meanwhile: a bulk
	// stream that opens none must not hold a probe's worth of bytes in
	// each of many connections.
	orientMax = 64 << 10
	// probeWait is how long, in capture time, a picked connection whose
	// probes can find no verdict in what one direction sent waits for the
	// other, silent direction's first bytes, which might still begin a
	// frame (probesDone).
	probeWait = 2 * time.Second
	// alignWait and alignMax bound, in capture time and bytes, how long a
	// connection joined mid-stream is held for a chain of frame headers to
	// show where frames begin in each direction, so that both directions'
	// frames are recorded in time order (aligning).
	alignWait = 2 * time.Second
	alignMax  = 256 << 10
)

// Config configures a Reader.
type Config struct {
	// Registry records the sessions found. It is required; its Clock should
	// be the Reader's Clock, so that ages are measured in capture time.
	Registry *live.Registry
	// Filter picks the connections to decode whatever their bytes look
	// like; with an empty one, every connection whose bytes look like a mux
	// Protocol allows is decoded (a chain of plausible smux or yamux frame
	// headers at its start, or, joined mid-stream, anywhere in its first
	// bytes, or, from its start, after a prefix each end sends first:
	// prefixed.go), the rest counted and skipped.
	Filter Filter
	// Names are the names of a merge's files (Merged), by index: the
	// notice of a file cut at its writer's --write-limit names its file
	// where there are two or more. nil names none.
	Names []string
	// Protocol is what connections are decoded as: tap.Detect (the zero
	// value) decides per connection, by which protocol's frames its bytes
	// chain up as, or for a connection the filter picked that neither
	// does, by its first byte as a tap does.
	Protocol tap.Protocol
	// Skip is how many bytes of prefix the client sends before the mux, at
	// the start of each connection (Consul's RPC-type byte); a connection
	// joined mid-stream is past it.
	Skip int
	// Prefix, if not empty, is the exact prefix each client sends before
	// the mux (Consul's RPCMultiplexV2 byte, 0x04); Skip is then its
	// length. A connection whose client, from its SYN, sent other bytes
	// there is another protocol on the port (Consul's raft, 0x01, beside
	// its yamux): skipped with a notice, picked by the filter or not.
	Prefix []byte
	// Label names the sessions' origin; "" means "read".
	Label string
	// Clock, if not nil, is set to the time of each packet read, or,
	// while a connection is held undecided, of the records made: up to 3 s
	// behind (order.go).
	Clock *Clock
	// Recorder, if not nil, records the bytes of every connection decoded
	// (muxtop sniff --write).
	Recorder tap.Recorder
	// Evaluate, if not nil, brings the registry's findings up to date at a
	// capture time (live.Registry.Evaluate). The Reader calls it every
	// EvaluateEvery of capture time, before the first packet past each
	// step (the first record, while the order holds them: order.go), and
	// once at the capture's end (Close): what a capture is
	// diagnosed with then depends on its packets alone, not on how fast it
	// is read. Within a silence longer than maxEvalSteps steps it steps
	// that many times, then evaluates at the silence's end.
	Evaluate func(now time.Time)
	// Conclude, if not nil, is the evaluation at the capture's end, in
	// Evaluate's stead (live.Registry.Conclude): no evaluation comes after
	// it, so it also resolves the findings of the sessions that ended.
	Conclude func(now time.Time)
	// EvaluateEvery is the capture time between two evaluations; 0 means
	// 100 ms, as the live front ends evaluate (metrics.EvaluateEvery).
	EvaluateEvery time.Duration
	// Pace, if not nil, is called before every packet by Run and may wait:
	// a file is read as fast as the disk allows, and a printer of every
	// record can ask the reader to let it keep up. It must be cheap.
	Pace func(context.Context)
}

// Clock is the time of the latest packet read: a live.Config.Clock for
// a registry that a Reader feeds. It is safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// Now returns the time of the latest packet, or the zero time before one.
func (c *Clock) Now() time.Time {
	ns := c.ns.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Set sets the clock to t unless it is earlier than the clock: a capture's
// packets are not always in time order.
func (c *Clock) Set(t time.Time) {
	ns := t.UnixNano()
	if ns > c.ns.Load() {
		c.ns.Store(ns)
	}
}

// Stats counts what a Reader read. Read it with Reader.Stats.
type Stats struct {
	Packets     uint64 // packets read
	Bytes       uint64 // their captured bytes
	NotTCP      uint64 // packets that carry no TCP segment muxtop can read
	Connections uint64 // TCP connections seen
	Decoded     uint64 // connections decoded as smux or yamux
	Skipped     uint64 // connections skipped: not picked by the filter, or not a mux
	// LimitCut is the capture time of the packet after which the
	// capture's writer stopped at its size limit (a pcapout file cut by
	// --write-limit: LimitCut), zero if none was met; in a merge of
	// several files so cut, the earliest of their cuts (each has its
	// notice).
	LimitCut time.Time
	// Cut counts packets the capture kept only the start of: its snapshot
	// length (tcpdump -s) was shorter than they were.
	Cut uint64
}

// Reader reassembles the TCP connections of captured packets and decodes
// the smux and yamux sessions in them into a live.Registry. Feed it packets with
// Packet, or a whole Source with Run, then call Close, which decodes what
// reassembly still holds. Its records come in capture-time order across
// connections: while a connection is told apart (smux, yamux or neither),
// the others' records of that time wait, up to 3 s of capture time
// (order.go), and Close makes every one. A Reader is not safe for
// concurrent use, except Stats.
type Reader struct {
	cfg   Config
	conns map[flowKey]*connAsm // by the flow of either direction
	// ended holds, by the flow of either direction, the capture time at
	// which each connection that ended (FIN or RST) was forgotten, for
	// endedFor: a late segment of it (one sent before its peer's RST came)
	// is not another connection.
	ended  map[flowKey]time.Time
	ac     assemblerContext
	closed bool

	parsers map[layers.LinkType]*gopacket.DecodingLayerParser
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	lo      layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	decoded []gopacket.LayerType

	lastFlush time.Time
	// latest is the latest packet time read; nextEval the capture time of
	// the next evaluation (zero before the first packet).
	latest   time.Time
	nextEval time.Time
	// evaluatedAt is the capture time of the latest evaluation evaluateAt
	// made between the steps.
	evaluatedAt time.Time
	// quietAt is the latest quiet moment of a live source (ErrIdle):
	// capture time went on to it, and a packet older than it that comes
	// after is read at it.
	quietAt time.Time
	stats   struct {
		packets, bytes, notTCP, conns, decoded, skipped, cut atomic.Uint64
		// limitCut is Stats.LimitCut in Unix nanoseconds (0: none).
		limitCut atomic.Int64
	}
	// file is the index, in a merge of captures (Merged), of the file of
	// the packet being read; 0 for a single capture.
	file int
	// cuts are the marks of the captures cut by their writer's
	// --write-limit, by file (Reader.file): only a connection whose
	// latest packet came from such a file was open at its cut.
	cuts map[int]writerCut
	order
	// notMux counts the connections skipped as neither smux nor yamux
	// (skippedNotMux); filtered those skipped as the filter does not pick
	// them (filterSummary).
	notMux, filtered int
	// cutSaid and headersCutSaid: cutNotice has said why, of a packet cut
	// in its payload, and of one cut in its headers.
	cutSaid, headersCutSaid bool
}

// connAsm is one TCP connection's reassembly: an assembler of its own, so
// that a hole the capture lost can be skipped in it alone (conn.Accept).
type connAsm struct {
	asm  *reassembly.Assembler
	conn *conn // set by factory.New
	key  flowKey
}

// flowKey names one direction of a TCP connection.
type flowKey struct{ net, tcp gopacket.Flow }

type assemblerContext struct{ ci gopacket.CaptureInfo }

func (a *assemblerContext) GetCaptureInfo() gopacket.CaptureInfo { return a.ci }

// NewReader returns a Reader configured by cfg.
func NewReader(cfg Config) *Reader {
	if cfg.Label == "" {
		cfg.Label = "read"
	}
	if cfg.EvaluateEvery <= 0 {
		cfg.EvaluateEvery = defaultEvaluateEvery
	}
	if len(cfg.Prefix) > 0 {
		cfg.Skip = len(cfg.Prefix)
	}
	return &Reader{cfg: cfg, conns: make(map[flowKey]*connAsm), ended: make(map[flowKey]time.Time), parsers: make(map[layers.LinkType]*gopacket.DecodingLayerParser),
		order: order{merging: -1, ctx: context.Background()}}
}

// Stats returns what the Reader has read so far.
func (r *Reader) Stats() Stats {
	return Stats{
		Packets: r.stats.packets.Load(), Bytes: r.stats.bytes.Load(), NotTCP: r.stats.notTCP.Load(),
		Connections: r.stats.conns.Load(), Decoded: r.stats.decoded.Load(), Skipped: r.stats.skipped.Load(),
		Cut: r.stats.cut.Load(), LimitCut: unixNano(r.stats.limitCut.Load()),
	}
}

// unixNano is the time of ns Unix nanoseconds, the zero time for 0.
func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// ErrTruncated is Run's error for a capture that ends in the middle of a
// packet.
var ErrTruncated = errors.New("capture: the file ends in the middle of a packet (was it still being written?)")

// Run reads every packet of src until it ends or ctx is done, then
// Closes the Reader. A damaged capture is an error after the packets
// before the damage were read.
func (r *Reader) Run(ctx context.Context, src Source) error {
	defer r.Close()
	r.ctx = ctx
	link := src.LinkType()
	if _, err := r.parser(link); err != nil {
		return err
	}
	files, _ := src.(interface{ File() int }) // a merge's: which file a packet is of
	for i := 0; ; i++ {
		if r.cfg.Pace != nil {
			r.cfg.Pace(ctx)
		}
		if i%256 == 0 && ctx.Err() != nil {
			return nil
		}
		data, ci, err := src.ReadPacketData()
		if files != nil {
			r.file = files.File()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, ErrIdle) {
			r.quiet(ci.Timestamp)
			continue
		}
		if errors.Is(err, ErrStill) {
			r.still(ci.Timestamp)
			continue
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return ErrTruncated
			}
			return err // a file's say "capture:" (zeroCopy), a live source's its own
		}
		if l, ok := packetLink(ci); ok {
			r.Packet(data, ci, l)
		} else {
			r.Packet(data, ci, link)
		}
		if limitCutOf(ci) {
			// The writer's last packet: what its connections did after
			// is not in the capture (Close says so).
			at := ci.Timestamp
			if at.Before(r.quietAt) {
				at = r.quietAt // as Packet read it
			}
			if prev := r.stats.limitCut.Load(); prev == 0 || at.UnixNano() < prev {
				r.stats.limitCut.Store(at.UnixNano())
			}
			if r.cuts == nil {
				r.cuts = make(map[int]writerCut)
			}
			r.cuts[r.file] = writerCut{at: at, packet: r.stats.packets.Load()}
		}
	}
}

// packetLink returns the link type a packet of a pcapng capture of mixed
// link types carries (pcapgo.NgReaderOptions.WantMixedLinkType).
func packetLink(ci gopacket.CaptureInfo) (layers.LinkType, bool) {
	if len(ci.AncillaryData) == 0 {
		return 0, false
	}
	l, ok := ci.AncillaryData[0].(layers.LinkType)
	return l, ok
}

// parser returns the layer parser for a link type.
func (r *Reader) parser(link layers.LinkType) (*gopacket.DecodingLayerParser, error) {
	if p := r.parsers[link]; p != nil {
		return p, nil
	}
	first, err := firstLayer(link)
	if err != nil {
		return nil, err
	}
	p := gopacket.NewDecodingLayerParser(first, &r.eth, &r.dot1q, &r.sll, &r.sll2, &r.lo, &r.ip4, &r.ip6, &r.tcp)
	p.IgnoreUnsupported = true
	r.parsers[link] = p
	return p, nil
}

// firstLayer returns the first layer of a packet of link type link, or
// the error of a link type that is not decoded.
func firstLayer(link layers.LinkType) (gopacket.LayerType, error) {
	switch link {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, nil
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, nil
	case layers.LinkTypeLinuxSLL2: // tcpdump -i any, since libpcap 1.10
		return layers.LayerTypeLinuxSLL2, nil
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, nil
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, nil
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, nil
	case layers.LinkTypeRaw:
		return layers.LayerTypeIPv4, nil // Packet picks IPv6 by the version nibble
	default:
		name := fmt.Sprintf("%d", uint(link))
		if n := link.String(); !strings.HasPrefix(n, "Unknown") {
			name += " (" + n + ")"
		}
		return 0, fmt.Errorf("capture: link type %s is not supported: capture on an Ethernet, loopback, Linux \"any\" or raw-IP (tun, WireGuard, IPIP) interface", name)
	}
}

// CheckLinkType returns the error Reader.Run returns for a capture of
// link type link, nil if it decodes it.
func CheckLinkType(link layers.LinkType) error {
	_, err := firstLayer(link)
	return err
}

// Packet reads one captured packet of link type link. data is not retained.
func (r *Reader) Packet(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
	if ci.Timestamp.Before(r.quietAt) {
		// A live source passed this packet's time in a quiet moment (a
		// pipe's packet still on its way, Live): capture time went on to
		// the moment, its evaluations made, and does not go back. The
		// packet is read then, as the capture would have taken it.
		ci.Timestamp = r.quietAt
	}
	r.stats.packets.Add(1)
	r.stats.bytes.Add(uint64(len(data)))
	r.moment(ci.Timestamp)
	defer r.release()
	cut := ci.CaptureLength < ci.Length
	if cut {
		r.stats.cut.Add(1)
	}
	p, err := r.parser(link)
	if err != nil {
		r.stats.notTCP.Add(1)
		r.idle(ci.Timestamp)
		return
	}
	if link == layers.LinkTypeRaw && len(data) > 0 && data[0]>>4 == 6 {
		p, _ = r.parser(layers.LinkTypeIPv6)
	}
	r.decoded = r.decoded[:0]
	_ = p.DecodeLayers(data, &r.decoded) // an error leaves decoded short: the checks below
	var netFlow gopacket.Flow
	haveIP, haveTCP, carriesTCP := false, false, false
	for _, t := range r.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			netFlow, haveIP = r.ip4.NetworkFlow(), r.ip4.Flags&layers.IPv4MoreFragments == 0 && r.ip4.FragOffset == 0
			carriesTCP = r.ip4.Protocol == layers.IPProtocolTCP
		case layers.LayerTypeIPv6:
			netFlow, haveIP = r.ip6.NetworkFlow(), true
			carriesTCP = r.ip6.NextHeader == layers.IPProtocolTCP
		case layers.LayerTypeTCP:
			haveTCP = true
		}
	}
	// A cut packet of another protocol over IP (a DNS reply over UDP past
	// -s 96) loses no frame and cuts no TCP header: nothing to say.
	if cut && (haveTCP || !haveIP || carriesTCP) {
		r.cutNotice(ci, data, haveIP && carriesTCP && !haveTCP)
	}
	if !haveIP || !haveTCP {
		// Capture time passes by this packet too: on an interface whose
		// other traffic is not TCP (DNS, a VXLAN overlay's UDP), the live
		// source is never idle, and the waits end by these.
		r.stats.notTCP.Add(1)
		r.idle(ci.Timestamp)
		return
	}
	r.ac.ci = ci
	key := flowKey{netFlow, r.tcp.TransportFlow()}
	ca := r.conns[key]
	if ca == nil {
		if _, ok := r.ended[key]; ok {
			if !r.tcp.SYN {
				// A segment of a connection that ended, sent before the
				// peer's RST reached its sender, or the RST answering it:
				// joined, it would open a second session, at once reset.
				r.idle(ci.Timestamp)
				return
			}
			delete(r.ended, key) // a new connection between the same ends
			delete(r.ended, flowKey{netFlow.Reverse(), key.tcp.Reverse()})
		}
		ca = &connAsm{key: key}
		ca.asm = reassembly.NewAssembler(reassembly.NewStreamPool(factory{r, ca}))
		ca.asm.MaxBufferedPagesPerConnection = maxPagesPerConn
		r.conns[key] = ca
		r.conns[flowKey{netFlow.Reverse(), key.tcp.Reverse()}] = ca
	}
	ac := &r.ac
	if c := ca.conn; c != nil && c.framedFromSYN(ci.Timestamp) {
		// Quiet until this packet, which may begin a chain of frames: decided
		// on what came before, as a sweep in the quiet would have.
		c.probed(ci.Timestamp)
	}
	if c := ca.conn; c != nil {
		d := c.dirOf(netFlow, &r.tcp)
		// A direction begun at a probe's sequence: its sender's next
		// segment, or its peer's ACK, shows its next byte one after.
		// The accepted price: a real loss of one sequence unit right
		// after a bare ACK at a joined direction's very start (a lost
		// 1-byte segment, as yamux can send for a 1-byte body, or a lost
		// FIN) shows the same, and is taken for a probe's byte: not
		// counted lost. Only there, and only one unit.
		if c.bareStart[d] && reassembly.Sequence(r.tcp.Seq) == c.next[d].Add(1) {
			c.moveStart(ca, d, netFlow, key.tcp)
		}
		if rv := d.Reverse(); r.tcp.ACK && c.bareStart[rv] && reassembly.Sequence(r.tcp.Ack) == c.next[rv].Add(1) {
			c.moveStart(ca, rv, netFlow.Reverse(), key.tcp.Reverse())
		}
		if r.tcp.ACK && c.holeAcked(d, &r.tcp) {
			// The peer acknowledged bytes the capture never had: they will
			// not come. Skip to what reassembly holds after them, before
			// this segment is delivered, so that nothing it answers comes
			// first.
			ca.asm.FlushWithOptions(reassembly.FlushOptions{T: everything})
			c.lostAcked(d, &r.tcp, ci.Timestamp)
		}
		if c.saved(d, &r.tcp) {
			// Reassembly keeps the context of a segment it holds, behind a
			// hole, and stamps its bytes with it when they are delivered: a
			// context of its own, or it would carry the time of the packet
			// that delivers them (r.ac is every packet's), later than the
			// segment's, and a reply held behind bytes the capture lost
			// would be recorded after the FIN that answered it.
			ac = &assemblerContext{ci: ci}
		}
	}
	ca.asm.AssembleWithContext(netFlow, &r.tcp, ac)
	if c := ca.conn; c != nil && r.tcp.RST && c.rst && c.ended[c.rstDir] && !c.complete {
		// A reset its direction's reassembly took (or one after its FIN)
		// ends the whole connection: the other direction sends no FIN,
		// and waiting for one kept the session alive, silent and leaking,
		// until the capture ended.
		ca.asm.FlushAll()
	}
	if c := ca.conn; c != nil {
		r.startHolding(c)
		if c.complete {
			r.forget(ca)
		}
	}
	r.idle(ci.Timestamp)
}

// moment begins a packet's, or a live source's quiet moment's, work at
// capture time t: capture time goes on to t, or to the horizon while a
// connection is held (order.go).
func (r *Reader) moment(t time.Time) {
	if t.After(r.latest) {
		r.latest = t
	}
	r.expireHeld(t)
	if h, held := r.horizon(); held {
		r.advance(minTime(h, t))
		return
	}
	r.advance(t)
}

// notice records a notice at capture time at, in the order's turn.
func (r *Reader) notice(at time.Time, text string) {
	r.emit(at, 0, func(at time.Time) { r.cfg.Registry.Notice(at, text) })
}

// defaultEvaluateEvery is Config.EvaluateEvery's default: how often the
// live front ends evaluate (metrics.EvaluateEvery).
const defaultEvaluateEvery = 100 * time.Millisecond

// maxEvalSteps bounds the evaluations of one silence in the capture: 100
// s of 100 ms steps, longer than any threshold's default but LEAK's, whose
// findings then open at the silence's end.
const maxEvalSteps = 1000

// evaluateTo calls Config.Evaluate at each step of capture time up to t,
// the time of the packet about to be read: everything read so far is
// older. Packets out of time order evaluate nothing.
func (r *Reader) evaluateTo(t time.Time) {
	if !t.After(r.evalAt) {
		return
	}
	r.evalAt = t
	if r.cfg.Evaluate == nil {
		return
	}
	if r.nextEval.IsZero() {
		r.nextEval = t.Add(r.cfg.EvaluateEvery)
		return
	}
	for n := 0; !t.Before(r.nextEval); n++ {
		if n == maxEvalSteps {
			r.nextEval = t
		}
		r.cfg.Evaluate(r.nextEval)
		r.nextEval = r.nextEval.Add(r.cfg.EvaluateEvery)
	}
}

// evaluateAt calls Config.Evaluate at capture time at, between the steps
// of EvaluateEvery, where no evaluation was made at or after it: before a
// zero window opens again (conn.window), so that one closed for
// BlockedAfter or longer is SESSION_BLOCKED however the steps fall. The
// steps see a window only while it is closed: one closed for 586 ms, past
// a BlockedAfter of 500 ms, that opened before the step 500 ms after it
// closed (1 in 7 such windows, whose steps fall anywhere) made no
// evaluation see it closed that long, and read said nothing of the block
// attach had named live.
func (r *Reader) evaluateAt(at time.Time) {
	if r.cfg.Evaluate == nil || r.nextEval.IsZero() || !at.After(r.nextEval.Add(-r.cfg.EvaluateEvery)) || !at.After(r.evaluatedAt) {
		return
	}
	r.evaluatedAt = at // windows of several connections opening at one instant: one evaluation
	r.cfg.Evaluate(at)
}

// quiet is a live source's moment without packets (ErrIdle) at capture
// time now: the clock and the evaluations run on to it, as a packet at now
// would take them, and the waits that count capture time end by it.
func (r *Reader) quiet(now time.Time) {
	if now.After(r.quietAt) {
		r.quietAt = now
	}
	r.moment(now)
	r.idle(now)
	r.release()
}

// idle is a moment at capture time now: a packet's, TCP or not, or one
// without packets (ErrIdle). The waits that count capture time end by it.
func (r *Reader) idle(now time.Time) {
	if now.Sub(r.lastFlush) > time.Second {
		r.sweep(now)
	}
}

// everything is a flush time after every page's.
var everything = time.Unix(1<<40, 0)

// sweep counts as lost the holes older than flushAfter, which will not be
// filled, settles the connections held orienting for longer than
// orientWait, and forgets the connections that are over.
func (r *Reader) sweep(now time.Time) {
	r.lastFlush = now
	for k, at := range r.ended {
		if now.Sub(at) > endedFor {
			delete(r.ended, k)
		}
	}
	for k, ca := range r.conns {
		if k != ca.key {
			continue // the reverse direction's entry
		}
		ca.asm.FlushWithOptions(reassembly.FlushOptions{T: now.Add(-flushAfter)})
		if c := ca.conn; c != nil {
			c.expire(now)
		}
		if c := ca.conn; c == nil || c.complete || (!c.seen && now.Sub(c.last) > idleAfter) {
			r.forget(ca)
		}
	}
}

// endedFor is how long, in capture time, the late segments of a
// connection that ended are taken for its own: Linux's TIME_WAIT.
const endedFor = time.Minute

// forget drops a connection's reassembly; one that ended is remembered
// for endedFor (Reader.ended).
func (r *Reader) forget(ca *connAsm) {
	rev := flowKey{ca.key.net.Reverse(), ca.key.tcp.Reverse()}
	delete(r.conns, ca.key)
	delete(r.conns, rev)
	if c := ca.conn; c != nil && c.complete {
		r.ended[ca.key], r.ended[rev] = r.latest, r.latest
	}
}

// Close decodes what reassembly still holds: holes it waited at count as
// lost. Connections the capture saw no end of stay open in the registry,
// as they were when it ended. Close is idempotent.
func (r *Reader) Close() {
	if r.closed {
		return
	}
	r.closed = true
	for k, ca := range r.conns {
		if k == ca.key {
			ca.asm.FlushAll()
		}
	}
	cut := r.openAtCut()
	clear(r.conns)
	clear(r.ended)
	r.releaseAll()
	for _, text := range []string{r.filterSummary(), r.skipSummary()} {
		if text != "" {
			r.notice(r.latest, text)
		}
	}
	switch {
	case r.latest.IsZero():
	case r.cfg.Conclude != nil:
		r.cfg.Conclude(r.latest) // the capture as it ends, nothing after it
	case r.cfg.Evaluate != nil:
		r.cfg.Evaluate(r.latest) // the capture as it ends
	}
	r.limitCut(cut)
}

// writerCut is where a capture's writer stopped at its size limit: the
// capture time and the number (the Reader's packets count) of its last
// packet, which carries the mark (LimitCut).
type writerCut struct {
	at     time.Time
	packet uint64
}

// openAtCut returns, for each capture cut by its writer at its size
// limit (Stats.LimitCut), the connections it wrote that were open then:
// those of a tap's capture (pcapout's) whose latest packet is of that
// capture, and no later than its cut by position, not time: pcapout
// stamps a packet as its bytes pass, before it queues it, so the file's
// packets are not in time order across connections, and a connection
// open at the cut may have a last packet stamped after the cut's. In a
// merge, the connections of the other captures are not cut by it.
func (r *Reader) openAtCut() map[int][]*conn {
	if len(r.cuts) == 0 {
		return nil
	}
	open := make(map[int][]*conn, len(r.cuts))
	for k, ca := range r.conns {
		c := ca.conn
		if k != ca.key || c == nil || !c.tapped {
			continue
		}
		if cut, ok := r.cuts[c.lastFile]; ok && c.lastPacket <= cut.packet {
			open[c.lastFile] = append(open[c.lastFile], c)
		}
	}
	return open
}

// limitCut marks the sessions open at each writer's cut (openAtCut) cut
// there, after the capture's last evaluation, which judged them as the
// capture left them, and says so in a notice at each cut.
func (r *Reader) limitCut(open map[int][]*conn) {
	if r.cfg.Registry == nil {
		return
	}
	files := slices.Sorted(maps.Keys(r.cuts))
	for _, f := range files {
		at := r.cuts[f].at
		n := 0
		for _, c := range open[f] {
			// c.sess is read now, after Close released what the order
			// held: a session whose opening waited then is cut as well.
			if c.sess != nil && c.sess.WriterCut(at) {
				n++
			}
		}
		name := ""
		if len(r.cfg.Names) > 1 && f < len(r.cfg.Names) {
			name = r.cfg.Names[f]
		}
		r.cfg.Registry.Notice(at, limitCutNotice(name, n))
	}
}

// limitCutNotice is the notice of a capture cut by its writer's size
// limit with n sessions open then; name, if not "", is the file's, in a
// merge.
func limitCutNotice(name string, n int) string {
	text := "the capture was cut here: the muxtop that wrote it (--write) reached its --write-limit, and wrote nothing after this packet, though the connections went on"
	if name != "" {
		text = "the capture " + printable.Text(name) + " was cut here: the muxtop that wrote it (--write) reached its --write-limit, and wrote nothing more of it after this packet, though the connections went on"
	}
	switch n {
	case 0:
		return text + "; no session was open then"
	case 1:
		return text + "; the session open then is cut here (INCOMPLETE): it did not end, what it did after is not in the capture"
	}
	return text + fmt.Sprintf("; the %d sessions open then are cut here (INCOMPLETE): they did not end, what they did after is not in the capture", n)
}

// factory makes a conn for each TCP connection reassembly meets.
type factory struct {
	r  *Reader
	ca *connAsm
}

func (f factory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	r := f.r
	srcIP, _ := netip.AddrFromSlice(netFlow.Src().Raw())
	dstIP, _ := netip.AddrFromSlice(netFlow.Dst().Raw())
	a := netip.AddrPortFrom(srcIP.Unmap(), uint16(tcp.SrcPort))
	b := netip.AddrPortFrom(dstIP.Unmap(), uint16(tcp.DstPort))
	ci := ac.GetCaptureInfo()
	c := &conn{r: r, a: a, b: b, transport: transportOf(ci), tapped: tappedOf(ci), told: toldOf(ci), skip: r.cfg.Skip}
	// What its tap was told of the protocol and the client's prefix
	// (tap.WithProtocol, tap.Skip) it decodes as the tap did, unless
	// the flags say how to decode the capture's connections (--protocol,
	// --skip, --prefix).
	flags := r.cfg.Protocol != tap.Detect || r.cfg.Skip != 0 || len(r.cfg.Prefix) != 0
	toldProto := !flags && c.told.Proto != tap.Detect
	if toldProto {
		c.toldBy = live.ToldByTap
		if c.told.Attach {
			c.toldBy = live.ToldByAttach
		}
	}
	if !flags && c.told.Skip > 0 {
		c.skip = int(c.told.Skip)
		c.skipBy = live.ToldByTap
		if c.told.Attach {
			c.skipBy = live.ToldByAttach
		}
	}
	c.want, c.forced = r.cfg.Prefix, r.cfg.Protocol
	if !flags {
		// attach's --prefix: a client that began with other bytes was
		// another protocol to it, forwarded and not decoded; so here.
		c.want, c.forced = []byte(c.told.Prefix), c.told.Proto
	}
	f.ca.conn = c
	// Who is the client: the end that sent the first SYN; without one, the
	// end not on the filter's port; without that, the end that opens
	// odd-numbered streams (orient), or, if none opens, the end with the
	// higher port, as ephemeral ports are high.
	switch {
	case tcp.SYN && !tcp.ACK:
		c.clientIsA = true
	case tcp.SYN:
		c.clientIsA = false
	case r.cfg.Filter.isServer(a, b):
		c.clientIsA = true
	case r.cfg.Filter.isServer(b, a):
		c.clientIsA = false
	default:
		c.clientIsA = a.Port() > b.Port()
		c.guessed = true
	}
	switch {
	case !r.cfg.Filter.Empty() && !r.cfg.Filter.Match(a, b):
		c.state = skipped
	case !r.cfg.Filter.Empty() && r.cfg.Protocol != tap.Detect && len(r.cfg.Prefix) == 0:
		// With a prefix, probed: its client's first bytes may show
		// another protocol, which is skipped.
		c.state = picked
		c.proto = r.cfg.Protocol
	case toldProto && len(c.want) == 0:
		// The tap was told what it speaks: it decoded it so from its
		// first byte (past its prefix), as the filter's pick with
		// --protocol is decoded, a PROTOCOL finding saying what the ends
		// speak if it is not that.
		c.state = picked
		c.proto = c.told.Proto
	default:
		// Probe: which protocol do the bytes chain up as? A connection the
		// filter picked is decoded whatever the answer; one told its
		// protocol and prefix (attach's) too, unless its client began
		// with another prefix.
		c.state = probing
		c.pick = !r.cfg.Filter.Empty() || toldProto
		if c.forced != tap.Yamux {
			c.probe = [2]*decoder.Decoder{decoder.New(0), decoder.New(0)}
		}
		if c.forced != tap.Smux {
			c.yprobe = [2]*yamux.Decoder{yamux.New(0), yamux.New(0)}
		}
	}
	return c
}

type connState uint8

const (
	probing   connState = iota // looking at the first bytes: smux, yamux or neither?
	orienting                  // a mux joined mid-stream, held until a frame that opens a stream tells its client (scanRoles)
	aligning                   // a mux joined mid-stream, held until each direction shows where its frames begin (align)
	picked                     // picked by the filter: decoded from its first SYN or byte
	decoding                   // a mux: fed to a session
	skipped                    // not picked, or not a mux
)

// conn is one TCP connection of the capture.
type conn struct {
	r    *Reader
	a, b netip.AddrPort // a sent the first packet reassembly saw
	// transport is what the connection ran over where the capture says
	// (Transport): its session's SessionInfo.Transport.
	transport string
	// tapped: a tap wrote the connection (pcapout): its ACKs acknowledge
	// exactly what passed the tap the other way, and one that goes back
	// behind what reassembly delivered says that those bytes never went
	// out (pcapout.Conn.Unsent). unsent is, per direction, that it did.
	tapped bool
	unsent [2]bool
	// told is what the tap that wrote the connection was told of its end
	// (tap.Version, tap.WithProtocol, tap.Skip), where the capture says it
	// (toldOf): its session is decoded as the tap decoded it. skip is the
	// bytes of prefix its client sends before the mux: --skip's (--prefix's),
	// else its tap's.
	told      tap.Told
	skip      int
	clientIsA bool
	guessed   bool // clientIsA is the port guess: no SYN or filter port told
	state     connState
	syn       [2]bool // by live.Dir: the direction's SYN was seen, so its bytes begin a stream
	// synAt is when the client's SYN came, if the capture has it: the
	// session began about then, not at its first frame, which comes a
	// keepalive interval later on a session that is idle at first.
	synAt   time.Time
	started [2]bool // by live.Dir: the direction's first bytes have come
	ended   [2]bool
	rst     bool
	rstDir  live.Dir         // the direction of the latest RST
	rstAt   time.Time        // when it came
	rec     tap.ConnRecorder // nil, or where the decoded connection is recorded (--write)
	last    time.Time
	// lastPacket is the number of its latest packet in the capture
	// (the Reader's packets count as it came), lastFile the capture of
	// a merge it came from (Reader.file).
	lastPacket uint64
	lastFile   int
	complete   bool // reassembly is done with it
	// bareStart is, by direction, whether it began, joined mid-stream,
	// at a bare ACK's sequence and no byte of it has come since: maybe
	// a window or keepalive probe's, a byte behind (moveStart).
	bareStart [2]bool
	// next is, per direction, the sequence number of the next byte
	// reassembly will deliver; an ACK beyond it shows bytes the capture lost.
	next      [2]reassembly.Sequence
	nextKnown [2]bool
	// ahead is, per direction, how many bytes after next were counted
	// lost when the peer acknowledged them (lostAcked), before reassembly
	// skips them, which it does only when bytes after them come.
	ahead [2]int64
	// end is, per direction, the highest sequence number the capture
	// shows was sent: its FIN's, or else the other side's highest ACK.
	end      [2]reassembly.Sequence
	endKnown [2]bool
	finSeen  [2]bool
	// finFirst is the direction whose FIN the capture saw first, if
	// finAny: its sender closed its side of the connection first.
	finFirst live.Dir
	finAny   bool
	finAt    time.Time // when finFirst's FIN came
	// zeroSince is, per direction, since when its receiver has advertised
	// a zero TCP window (zero while it advertises room): it stopped
	// reading the connection (Session.ReceiveWindow).
	zeroSince [2]time.Time

	// heard is, per direction, that the capture holds a TCP segment of
	// its sender, payload-less ACKs included. ackBase is, per direction,
	// the ACK number of its sender's first ACK-flagged segment in the
	// capture (ackKnown), and unheardAcked, per direction, how many bytes
	// of its sender's the other end's ACKs acknowledge past that while the
	// capture holds no segment of it: the evidence that it did send them,
	// and that the capture is of one direction (oneWay). toldUnseen: the
	// notice of it was made.
	heard        [2]bool
	ackBase      [2]reassembly.Sequence
	ackKnown     [2]bool
	unheardAcked [2]int
	toldUnseen   bool

	// seen: the connection carried a SYN or a byte. Reassembly meets the
	// ACKs that follow a connection's close as a connection of their own:
	// those are not counted.
	seen bool

	sess  *live.Session
	feed  [2]tap.Feeder
	proto tap.Protocol // what the feeders decode

	// While probing: decoders per direction and protocol that look for
	// frames (nil for a protocol not looked for), the bytes so far, to
	// replay into the session if it is a mux, and how many bytes of the
	// client's prefix the probes have still to pass.
	probe  [2]*decoder.Decoder
	yprobe [2]*yamux.Decoder
	pick   bool // the filter picked it: decoded even if no probe finds frames
	// synHeld: picked with the protocol forced, its client's SYN seen and
	// nothing since; its session opens at the next packet (openHeld).
	synHeld bool
	// pastAt is when the probes of a picked connection were all past
	// their directions' first bytes while a direction had sent nothing
	// (probesDone).
	pastAt time.Time
	// triedAt is the time of the latest packet when framedFromSYN last
	// looked at the held bytes: it looks again only once more came.
	triedAt time.Time
	// start is, per direction that began at its SYN and is probed for
	// yamux, its frames followed from the first byte by the rule for a
	// known boundary (bigFromStart).
	start [2]*walker
	// after is, per direction that began at its SYN, where its probes
	// found its first chain of headers past its first byte, plus 1 (0:
	// none), and afterProto of which protocol: a mux after a prefix each
	// end sends first (prefixed.go).
	after      [2]int64
	afterProto [2]tap.Protocol
	// doubt is, per direction joined mid-stream, its first chain of
	// headers while it is doubted (doubt.go).
	doubt  [2]*doubt
	prefix int
	// prefixSeen is how many bytes of the client's prefix, from its SYN,
	// were found to be want's; otherPrefix says they were not: another
	// protocol on the port. want is Config.Prefix, else the prefix the
	// connection's tap was told (attach's --prefix); forced is
	// Config.Protocol, else the protocol its tap was told.
	prefixSeen  int
	otherPrefix []byte
	want        []byte
	forced      tap.Protocol
	// toldBy is who told the protocol the connection is decoded as, where
	// its tap did and no flag overrides it (SessionInfo.ToldBy): the
	// program's, or attach.
	toldBy live.ToldBy
	// skipBy is who told the client's prefix the connection's decoding
	// skips, where its tap did and no flag overrides it
	// (SessionInfo.SkipBy).
	skipBy  live.ToldBy
	pending []chunk
	held    int
	// The order (order.go): inHolds, the connection is in the reader's
	// holds, held from holdFrom; late, it held the others for longer than
	// the order's bounds allow, and holds them no more (its records keep
	// their times, behind what was released meanwhile); inLates, it is
	// in the reader's lates (expireLate).
	inHolds  bool
	late     bool
	inLates  bool
	holdFrom time.Time

	// While orienting: since when (capture time), and per direction the
	// decoder of the connection's protocol that looks for a frame that
	// opens a stream.
	orientAt time.Time
	orient   [2]*decoder.Decoder
	yorient  [2]*yamux.Decoder

	// While aligning: since when (capture time), and per direction the
	// decoder of the connection's protocol that looks for the first frame
	// boundary in its bytes (nil for a direction that began at its SYN, or
	// once it looked), and what it found: the boundary's offset, and
	// whether it found one before any byte was lost. The directions are
	// then decoded from there (tap.Feeder.ResyncAt), in time order.
	alignAt  time.Time
	align    [2]*decoder.Decoder
	yalign   [2]*yamux.Decoder
	boundary [2]int64
	found    [2]bool
	// restart is, per direction, where aligning looks for the first
	// boundary from when a doubt followed the first chain to a break in a
	// frame of the connection's own protocol (doubt.go): past it, as the
	// chain lay inside a same-protocol tunnel's frame.
	restart [2]restart
}

// chunk is bytes of one direction held while probing, a loss, or the
// direction's end.
type chunk struct {
	dir    live.Dir
	at     time.Time
	data   []byte
	lost   int64
	unsent int64 // the direction's last bytes never went out (a tap's failed write)
	end    bool
	report bool // of an end: as endDir's
	fin    bool // of an end: as endDir's
}

// dir maps reassembly's direction, which follows the first packet seen,
// to muxtop's, which follows the smux roles.
func (c *conn) dir(d reassembly.TCPFlowDirection) live.Dir {
	if (d == reassembly.TCPDirClientToServer) == c.clientIsA {
		return live.ClientToServer
	}
	return live.ServerToClient
}

func (c *conn) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	c.last = ci.Timestamp
	c.lastPacket = c.r.stats.packets.Load() // this packet's number
	c.lastFile = c.r.file
	d := c.dir(dir)
	if !c.heard[d] {
		c.heard[d] = true
		if c.state == decoding {
			c.r.emit(ci.Timestamp, 0, func(time.Time) { c.sess.Unseen(d, false) })
		}
	}
	if tcp.ACK {
		a := reassembly.Sequence(tcp.Ack)
		if !c.ackKnown[d] {
			c.ackBase[d], c.ackKnown[d] = a, true
		} else if rv := d.Reverse(); !c.heard[rv] {
			if n := c.ackBase[d].Difference(a); n > c.unheardAcked[rv] {
				c.unheardAcked[rv] = n
				c.oneWay(ci.Timestamp)
			}
		}
	}
	if tcp.SYN {
		c.syn[d] = true
		if !tcp.ACK && c.synAt.IsZero() {
			c.synAt = ci.Timestamp
		}
	}
	if !c.seen && (tcp.SYN || len(tcp.Payload) > 0) {
		c.seen = true
		c.r.stats.conns.Add(1)
		switch c.state {
		case skipped: // only the filter skips a connection this early
			c.r.stats.skipped.Add(1)
			c.r.filtered++
		case picked:
			// Opened before the capture, or after it began without the
			// client's SYN (a SYN-ACK first): a direction that did not begin
			// at its SYN is framed from a boundary found. At the client's
			// SYN, the server's SYN-ACK is still to come: the session opens
			// at the connection's next packet (synHeld).
			switch {
			case tcp.SYN && !tcp.ACK:
				c.synHeld = true
			case c.guessed:
				// Joined with no SYN and no filter's port to tell the
				// client (a told connection a Live viewer joined, or
				// one a "host ADDR" filter picked with --protocol): the
				// stream ids its ends open tell it, as they do for one
				// probed (scanRoles), before it is aligned. What the tap
				// was told goes on the directions once they are known
				// (open).
				c.startOrienting(ci.Timestamp)
			case !c.startAligning(ci.Timestamp):
				c.opening(ci.Timestamp)
			}
		}
	}
	if !c.nextKnown[d] {
		// Where reassembly starts the direction: after its SYN, or at its
		// first segment (*start below). ReassembledSG moves it on.
		switch {
		case nextSeq != -1: // reassembly's invalidSequence: not started
			c.next[d] = nextSeq
		case tcp.SYN:
			c.next[d] = reassembly.Sequence(tcp.Seq).Add(1)
		default:
			c.next[d] = reassembly.Sequence(tcp.Seq)
			c.bareStart[d] = !tcp.FIN && !tcp.RST && len(tcp.Payload) == 0
		}
		c.nextKnown[d] = true
	}
	if tcp.FIN {
		c.end[d], c.endKnown[d], c.finSeen[d] = reassembly.Sequence(tcp.Seq).Add(len(tcp.Payload)), true, true
		if !c.finAny {
			c.finFirst, c.finAny, c.finAt = d, true, ci.Timestamp
		}
	}
	if rv := d.Reverse(); tcp.ACK && !c.finSeen[rv] && c.nextKnown[rv] {
		if a := reassembly.Sequence(tcp.Ack); !c.endKnown[rv] || c.end[rv].Difference(a) > 0 {
			c.end[rv], c.endKnown[rv] = a, true
		}
	}
	if rv := d.Reverse(); c.tapped && tcp.ACK && !tcp.SYN && c.state == decoding && c.nextKnown[rv] && !c.unsent[rv] && !c.ended[rv] {
		// The bytes of rv delivered past this ACK never went out: the
		// tap's write of them failed. Taken back as the tap took them.
		if n := int64(reassembly.Sequence(tcp.Ack).Difference(c.next[rv])); n > 0 {
			c.unsent[rv] = true
			c.r.emit(ci.Timestamp, 0, func(at time.Time) { c.feed[rv].Unsent(at, n) })
		}
	}
	if rv := d.Reverse(); c.tapped && tcp.ACK && !tcp.SYN && c.state != decoding && c.state != skipped && c.nextKnown[rv] && !c.unsent[rv] && !c.ended[rv] {
		// Held undecided: replayed in its place (settle).
		if n := int64(reassembly.Sequence(tcp.Ack).Difference(c.next[rv])); n > 0 {
			c.unsent[rv] = true
			c.pending = append(c.pending, chunk{dir: rv, at: ci.Timestamp, unsent: n})
		}
	}
	if tcp.RST {
		c.rst, c.rstDir, c.rstAt = true, d, ci.Timestamp
	}
	if c.synHeld && !(tcp.SYN && !tcp.ACK) {
		c.openHeld(ci.Timestamp, len(tcp.Payload) > 0)
	}
	if tcp.ACK && !tcp.SYN && !tcp.RST {
		c.window(d.Reverse(), tcp.Window == 0, ci.Timestamp) // the sender's own receive window
	}
	// A connection that was open when the capture began has no SYN to
	// start at: start at the first segment, and resynchronise.
	*start = true
	return true // a skipped connection's bytes are dropped as they come, not left to pile up
}

func (c *conn) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	rdir, _, end, skip := sg.Info()
	d := c.dir(rdir)
	n, _ := sg.Lengths()
	if n > 0 || skip > 0 || end {
		c.bareStart[d] = false
	}
	c.next[d] = c.next[d].Add(max(skip, 0) + n)
	if c.state == skipped {
		return
	}
	// Of the bytes skipped, and then of those delivered, the first ahead
	// were counted lost already (lostAcked).
	skip = max(skip, 0)
	var drop int
	if a := c.ahead[d]; a > 0 {
		pre := min(int64(skip), a)
		skip -= int(pre)
		drop = int(min(a-pre, int64(n)))
		c.ahead[d] = a - pre - int64(drop)
	}
	at := c.last
	if ac != nil {
		at = ac.GetCaptureInfo().Timestamp
	} else if n > 0 {
		at = sg.CaptureInfo(0).Timestamp
	}
	if (skip > 0 || n > 0) && !c.started[d] {
		c.started[d] = true
		c.begin(d)
	}
	if skip > 0 {
		c.lost(d, int64(skip), at)
	}
	if n > drop {
		c.data(d, sg.Fetch(n)[drop:], at)
	}
	if end {
		c.endDir(d, at, true, !c.rst) // a FIN, unless the connection was reset
	}
}

func (c *conn) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	c.complete = true
	at := c.last
	if c.synHeld {
		c.openHeld(at, false) // the client's SYN alone, unanswered
	}
	if c.state == probing && c.seen {
		c.decide()
	}
	if c.state == orienting {
		c.orientLast(true) // nothing more will come
	}
	if c.state == aligning {
		for d := range live.Dir(2) {
			c.alignEnd(d) // nothing more will come
		}
		c.settle() // decoded from what was found
	}
	if c.state != decoding {
		return true
	}
	finished := c.rst || (c.ended[0] && c.ended[1])
	if c.rst {
		rstDir := c.rstDir
		c.r.emit(at, 0, func(at time.Time) {
			if c.rec != nil {
				c.rec.Reset(rstDir, at) // written as the capture saw it end: reset, by that end
			}
		})
	}
	for d := range live.Dir(2) {
		// Bytes sent, as a FIN or the peer's ACK shows, that the capture
		// never had, at the end where nothing came after them.
		if !c.ended[d] && c.endKnown[d] && c.nextKnown[d] {
			if n := int64(c.next[d].Difference(c.end[d])) - c.ahead[d]; n > 0 {
				c.lost(d, n, at)
			}
		}
		c.endDir(d, at, finished, false)
	}
	if finished {
		reason, err := live.EOF, error(nil)
		switch {
		case c.rst:
			// Who reset, as attach says it, and who had closed first.
			reason = live.Reset
			closed, before := "", time.Duration(0)
			if c.finAny && !c.finAt.After(c.rstAt) {
				closed, before = c.peer(c.finFirst), c.rstAt.Sub(c.finAt)
			}
			err = tap.ResetBy(c.peer(c.rstDir), closed, before)
		case c.finAny:
			err = tap.ClosedFirst(c.peer(c.finFirst)) // as attach says it
		}
		c.r.emit(at, 0, func(at time.Time) { c.sess.End(at, reason, err) })
	}
	return true
}

// window notes the TCP receive window that direction d's receiver
// advertised at: closed (zero) or not. A receiver that stops reading the
// connection closes it once its socket buffer is full, and the sender can
// send nothing more: the session is told, so that the silence is not
// taken for the sender's, and a window closed for long is SESSION_BLOCKED.
// On a tap's interface the zero window is the tap's write held, written so
// (pcapout), and SESSION_BLOCKED says what the tap said of it
// (live.Session.HeldWindow).
func (c *conn) window(d live.Dir, closed bool, at time.Time) {
	if closed == !c.zeroSince[d].IsZero() {
		return
	}
	since := c.zeroSince[d]
	c.zeroSince[d] = time.Time{}
	if closed {
		c.zeroSince[d] = at
	}
	if c.state == decoding {
		c.r.emit(at, 0, func(at time.Time) {
			if !closed && at.Sub(since) >= c.r.cfg.EvaluateEvery {
				// What the window held until now, for a window closed a
				// step or longer, so that one that flaps costs no
				// evaluation of its own (a --blocked-after under a step,
				// 100 ms, is judged by the steps alone).
				c.r.evaluateAt(at)
			}
			if c.tapped {
				// A tap's recording: its write held, which is all the
				// tap saw (pcapout writes it as the zero window).
				c.sess.HeldWindow(d, closed, at)
			} else {
				c.sess.ReceiveWindow(d, closed, at)
			}
			c.feed[d].ReceiveWindow(closed, at) // sniff --write writes the window it saw
		})
	}
}

// holeAcked reports whether tcp, a segment of the connection in direction
// d, acknowledges bytes of the other direction that reassembly has not
// delivered: bytes the receiver had and the capture lost (at a single
// capture point data usually passes before its acknowledgement; a
// capture merged from two interfaces, or taken on a multi-queue host,
// can have the ACK first, and whole data then counts lost: a known
// defect, README "Bytes the capture lost").
func (c *conn) holeAcked(d live.Dir, tcp *layers.TCP) bool {
	rv := d.Reverse()
	return c.nextKnown[rv] && !c.ended[rv] && c.next[rv].Difference(reassembly.Sequence(tcp.Ack)) > 0
}

// lostAcked counts as lost, at capture time at, the bytes of the other
// direction that tcp, a segment in direction d, acknowledges beyond what reassembly has delivered
// and what was counted before. holeAcked's flush has delivered what
// reassembly held after a hole; bytes acknowledged past that are the
// direction's latest, with nothing after them, which reassembly would
// skip only when its next segment comes: after this one, which may answer
// them (a v2 UPD that consumed a lost PSH is then no anomaly).
func (c *conn) lostAcked(d live.Dir, tcp *layers.TCP, at time.Time) {
	rv := d.Reverse()
	if !c.nextKnown[rv] || c.ended[rv] || c.state == picked || c.state == skipped {
		return // not yet opened, or not decoded: reassembly's skip counts them
	}
	ack := reassembly.Sequence(tcp.Ack)
	if c.finSeen[rv] && c.end[rv].Difference(ack) > 0 {
		ack = c.end[rv] // a FIN takes a sequence number, not a byte
	}
	if n := int64(c.next[rv].Difference(ack)) - c.ahead[rv]; n > 0 {
		c.ahead[rv] += n
		c.lost(rv, n, at)
	}
}

// moveStart moves direction d, which began at a bare ACK's sequence and
// has had no byte since (bareStart), one byte on: its sender's next
// segment, or its peer's ACK, shows its next byte one after. The bare
// ACK was a window or keepalive probe (Linux's tcp_xmit_probe_skb),
// which carries snd_una-1, a byte sent and acknowledged before. Left
// there, the direction was a byte behind its sender for good: the peer's
// ACK counted the byte lost, and the sender's RST, at its true sequence,
// was out of order and ignored (RFC 5961), so a session joined while its
// server's window was closed (demo --fault hol) did not end at the
// client's reset, and the server's silence after it was KEEPALIVE.
// netFlow and tcpFlow are d's.
func (c *conn) moveStart(ca *connAsm, d live.Dir, netFlow, tcpFlow gopacket.Flow) {
	c.bareStart[d] = false
	next := c.next[d].Add(1)
	if ca.asm.MoveStart(netFlow, tcpFlow, next) {
		c.next[d] = next
	}
}

// saved reports whether reassembly will hold tcp, a segment of the
// connection in direction d, rather than deliver it at once: bytes that do not begin
// where its direction's delivered bytes end.
func (c *conn) saved(d live.Dir, tcp *layers.TCP) bool {
	return len(tcp.Payload) > 0 && c.nextKnown[d] && reassembly.Sequence(tcp.Seq) != c.next[d]
}

// dirOf returns the direction of tcp, a segment of the connection.
func (c *conn) dirOf(netFlow gopacket.Flow, tcp *layers.TCP) live.Dir {
	srcIP, _ := netip.AddrFromSlice(netFlow.Src().Raw())
	if netip.AddrPortFrom(srcIP.Unmap(), uint16(tcp.SrcPort)) == c.a {
		return c.dir(reassembly.TCPDirClientToServer)
	}
	return c.dir(reassembly.TCPDirServerToClient)
}

// begin starts a direction's decoding: from a frame boundary found by
// resynchronisation unless its SYN was seen.
func (c *conn) begin(d live.Dir) {
	switch {
	case c.state == probing:
		// Even from a SYN: a mux is told by a chain of plausible headers,
		// which must then begin at offset 0, after the client's prefix.
		if c.probe[d] != nil {
			c.probe[d].Resync()
		}
		if c.yprobe[d] != nil {
			c.yprobe[d].Resync()
			if c.syn[d] {
				c.start[d] = &walker{yamux: true, atStart: true, valid: -1}
			}
		}
		if c.syn[d] && d == live.ClientToServer {
			c.prefix = c.skip
		}
	case c.state == decoding && !c.syn[d]:
		c.r.emit(c.last, 0, func(time.Time) { c.feed[d].Resync() })
	}
}

func (c *conn) lost(d live.Dir, n int64, at time.Time) {
	switch c.state {
	case orienting:
		gap(c.orient[d], c.yorient[d], n)
		c.hold(chunk{dir: d, at: at, lost: n})
	case aligning:
		c.alignGap(d, n)
		c.hold(chunk{dir: d, at: at, lost: n})
	case probing:
		if d == live.ClientToServer {
			c.prefix = 0
		}
		gap(c.probe[d], c.yprobe[d], n)
		c.hold(chunk{dir: d, at: at, lost: n})
		c.start[d] = nil
		if dt := c.doubt[d]; dt != nil {
			dt.walk.lose(n)
			c.resolve(d, false)
			c.probed(at)
		}
	case decoding:
		if c.r.now(at) {
			c.feed[d].Gap(n, at)
			return
		}
		c.r.hold(at, 0, func(at time.Time) { c.feed[d].Gap(n, at) })
	}
}

// hold keeps ch, a chunk of a connection held while probing, orienting
// or aligning, for settle to replay: a copy of its bytes, which are
// reassembly's only during the call.
func (c *conn) hold(ch chunk) {
	if ch.data != nil {
		ch.data = append([]byte(nil), ch.data...)
		c.held += len(ch.data)
	}
	c.pending = append(c.pending, ch)
}

func (c *conn) data(d live.Dir, p []byte, at time.Time) {
	switch c.state {
	case decoding:
		if c.r.now(at) {
			c.feed[d].Feed(p, at)
			return
		}
		q := append([]byte(nil), p...) // reassembly's only during the call
		c.r.hold(at, len(q), func(at time.Time) { c.feed[d].Feed(q, at) })
		return
	case skipped:
		return
	}
	if d == live.ClientToServer && c.syn[d] && c.prefixSeen < len(c.want) && c.state != decoding && c.otherPrefixIn(p) {
		c.state = skipped
		c.settle()
		return
	}
	switch c.state {
	case orienting:
		c.hold(chunk{dir: d, at: at, data: p})
		c.scanRoles(d, p)
		if c.state == orienting && (c.held > orientMax || c.heldTooLong(at)) {
			c.orientLast(false) // more may come: the port guess stands
		}
		return
	case aligning:
		c.hold(chunk{dir: d, at: at, data: p})
		c.alignWith(d, p)
		if c.aligned() || c.held > alignMax || c.heldTooLong(at) {
			c.settle() // decoded from the boundaries found: those not found are hunted for as they come
		}
		return
	}
	c.hold(chunk{dir: d, at: at, data: p})
	if d == live.ClientToServer && c.prefix > 0 {
		n := min(c.prefix, len(p))
		c.prefix -= n
		p = p[n:]
	}
	c.probeWith(d, p)
	c.doubtOver(at, c.held > probeMax)
	if c.state == probing && (c.held > probeMax || c.probesDone(at)) {
		c.state = skipped
	}
	c.probed(at)
}

// otherPrefixIn reports whether p, the client's next bytes from its SYN,
// differ from the prefix wanted (want) where they fall within it, keeping
// those bytes of the client's prefix in otherPrefix if so.
func (c *conn) otherPrefixIn(p []byte) bool {
	want := c.want
	n := min(len(p), len(want)-c.prefixSeen)
	if bytes.Equal(p[:n], want[c.prefixSeen:c.prefixSeen+n]) {
		c.prefixSeen += n
		return false
	}
	c.otherPrefix = append(append([]byte(nil), want[:c.prefixSeen]...), p[:n]...)
	return true
}

// probed acts, at capture time at, on the verdict the probes may have
// reached.
func (c *conn) probed(at time.Time) {
	if c.state == decoding && c.guessed {
		c.startOrienting(c.verdictAt(at)) // settles when the held bytes tell the roles
		return
	}
	c.settle()
}

// probesDone reports, at capture time now, whether the probes of a
// connection the filter picked can give no verdict any more, so that it
// is decoded now, as a tap decodes it, not when it ends or has carried
// probeMax bytes. Each direction must have begun at its SYN (joined
// mid-stream, a frame anywhere is the verdict), lost nothing, and have
// its probes past its first byte (a frame found after it is no verdict:
// verdict); a direction that has sent nothing must have ended, or stayed
// silent for probeWait since the others were past their first bytes. An
// HTTP client at a mux port, whose smux server says nothing (the protocol
// fault), is then PROTOCOL 2 to 3 s after its request (the reader sweeps
// once a second), not at its end.
func (c *conn) probesDone(now time.Time) bool {
	if !c.pick {
		return false
	}
	silent := false
	for d := range live.Dir(2) {
		switch {
		case !c.syn[d]:
			return false
		case !c.started[d]:
			silent = silent || !c.ended[d]
		case c.probe[d] != nil && !pastStart(c.probe[d].Skipped(), c.probe[d].Lost()),
			c.yprobe[d] != nil && !pastStart(c.yprobe[d].Skipped(), c.yprobe[d].Lost()):
			return false
		}
	}
	if !silent {
		return true
	}
	if c.pastAt.IsZero() {
		c.pastAt = now
	}
	return now.Sub(c.pastAt) > probeWait
}

// framedFromSYN decides, at capture time now, a connection still probed
// whose every direction that sent bytes began at its SYN, and that has
// been quiet for probeWait, if its held bytes frame, in each direction,
// from its first byte to its last as one protocol: fewer frames than a
// chain, as the probes wait for, but all of them. A yamux writer that
// fills its first window at once sends two headers, the stream's and one
// Data frame of 256 KiB, and if its reader does not read, nothing more
// until the next keepalive, 30 s later: the session and its WINDOW_STALL
// would wait for it. The rule is the one the probes apply to what they
// hold when the connection ends (Flush).
func (c *conn) framedFromSYN(now time.Time) bool {
	if c.state != probing || now.Sub(c.last) <= probeWait || c.triedAt.Equal(c.last) {
		return false
	}
	c.triedAt = c.last
	var proto tap.Protocol
	framed := false
	for d := range live.Dir(2) {
		if !c.started[d] {
			continue
		}
		if !c.syn[d] {
			return false
		}
		p, ok := c.framesWhole(d)
		if !ok || (framed && p != proto) {
			return false
		}
		proto, framed = p, true
	}
	if framed {
		c.state, c.proto = decoding, proto
	}
	return framed
}

// framesWhole reports whether the bytes held of direction d, which began
// at its SYN, frame from the first to the last as smux or yamux (the
// protocols its probes look for), and as which.
func (c *conn) framesWhole(d live.Dir) (tap.Protocol, bool) {
	var s *decoder.Decoder
	var y *yamux.Decoder
	if c.probe[d] != nil {
		s = decoder.New(0)
		s.Resync()
	}
	if c.yprobe[d] != nil {
		y = yamux.New(0)
		y.Resync()
	}
	skip := 0
	if d == live.ClientToServer {
		skip = c.skip
	}
	var sf *decoder.Frame
	var yf *yamux.Frame
	var sbad, ybad bool
	for _, ch := range c.pending {
		if ch.dir != d || ch.end {
			continue
		}
		if ch.lost > 0 {
			return 0, false
		}
		p := ch.data
		n := min(skip, len(p))
		p, skip = p[n:], skip-n
		if s != nil && sf == nil && !sbad {
			sf, sbad = scan(s, p, everyFrame)
		}
		if y != nil && yf == nil && !ybad {
			yf, ybad = scan(y, p, everyFrame)
		}
	}
	if s != nil && sf == nil && !sbad {
		s.Flush()
		sf, _ = scan(s, nil, everyFrame)
	}
	if y != nil && yf == nil && !ybad {
		y.Flush()
		yf, _ = scan(y, nil, everyFrame)
	}
	switch {
	case sf != nil && sf.Offset == 0:
		return tap.Smux, true
	case yf != nil && yf.Offset == 0:
		return tap.Yamux, true
	}
	return 0, false
}

// pastStart reports whether a probe that skipped and lost so many bytes
// has rejected its direction's first byte as a frame's, with nothing lost.
func pastStart(skipped, lost int64) bool { return skipped > 0 && lost == 0 }

// verdict says what a probe for proto's first frame (framed false after a
// violation), at offset off, makes the connection: its protocol, unless
// the direction began at a SYN and the frame is not at its start, which
// the capture did not lose: then a mux after a prefix each end sends
// first, or not a mux (prefixed).
func (c *conn) verdict(d live.Dir, proto tap.Protocol, framed bool, off, lost int64) connState {
	switch {
	case !framed:
		return skipped
	case c.syn[d] && off != 0 && lost == 0:
		return c.prefixed(d, proto, off)
	}
	return decoding
}

// decide settles a connection still probing at its end: smux if a probe
// finds frames in what it holds.
func (c *conn) decide() {
	for d := range live.Dir(2) {
		if pr := c.probe[d]; pr != nil {
			pr.Flush()
		}
		if pr := c.yprobe[d]; pr != nil {
			pr.Flush()
		}
		c.probeWith(d, nil)
	}
	c.doubtOver(c.last, true) // nothing more will come
	if c.state == probing {
		c.state = skipped
	}
	if c.state == decoding && c.guessed {
		c.startOrienting(c.last)
		if c.state == orienting {
			c.orientLast(true) // nothing more will come
		}
		return
	}
	c.settle() // as it is: nothing more will come
}

// settle acts on a probe's verdict: a probe whose stream began at a SYN
// must find its first frame at offset 0.
func (c *conn) settle() {
	if c.state == probing {
		return
	}
	c.restarts()
	c.doubt = [2]*doubt{} // the verdict is in
	switch c.state {
	case orienting:
		c.orient, c.yorient = [2]*decoder.Decoder{}, [2]*yamux.Decoder{}
	case aligning:
		c.align, c.yalign = [2]*decoder.Decoder{}, [2]*yamux.Decoder{}
	case skipped:
		// A connect the server answered with a RST, no SYN-ACK (refused,
		// or a firewall's reset), opened no session, picked or not: with
		// --port, each was decoded as a session "reset by the server",
		// and a client retrying against a server that is down opened
		// CHURN, its advice to keep a pool.
		if !c.pick || c.otherPrefix != nil || c.resetBeforeOpen() && len(c.bytesFrom(live.ClientToServer, 0)) == 0 {
			c.r.stats.skipped.Add(1)
			c.skippedNotMux()
			c.pending, c.probe, c.yprobe, c.start = nil, [2]*decoder.Decoder{}, [2]*yamux.Decoder{}, [2]*walker{}
			return
		}
		// Picked, but no probe found frames: decoded as a tap decodes,
		// by the protocol forced (or told) or the first byte.
		c.proto = c.forced
	}
	if c.state != aligning && c.startAligning(c.last) {
		return // held until each direction shows where its frames begin
	}
	var told string
	if c.prefixes() != [2]int64{} {
		told = c.prefixNotice() // from the bytes held
	}
	pending := c.pending
	c.pending, c.probe, c.yprobe, c.start, c.held = nil, [2]*decoder.Decoder{}, [2]*yamux.Decoder{}, [2]*walker{}, 0
	at := c.last
	if len(pending) > 0 {
		at = pending[0].at
	}
	if c.state == aligning && !c.alignAt.IsZero() && c.alignAt.Before(at) {
		at = c.alignAt // a picked connection's first packet
	}
	if !c.synAt.IsZero() && c.synAt.Before(at) {
		// The session began at the connection's start: keepalive's first
		// interval counts from it (a NOP a moment after the first frame
		// read as a cadence of a millisecond before).
		at = c.synAt
	}

	// What it held goes where its times fall among the records the other
	// connections made meanwhile (order.go).
	c.r.merge(true)
	defer c.r.merge(false)
	c.opening(at)
	if told != "" {
		c.r.notice(at, told)
	}
	var begun [2]bool
	for _, ch := range pending {
		from := int64(-2) // not the direction's first bytes: no resynchronisation
		if !ch.end && ch.lost == 0 && ch.unsent == 0 && !begun[ch.dir] {
			begun[ch.dir] = true
			switch {
			case c.syn[ch.dir]:
			case c.found[ch.dir]:
				from = c.boundary[ch.dir]
			default:
				from = -1
			}
		}
		c.r.emit(ch.at, len(ch.data), func(at time.Time) { c.replay(ch, from, at) })
	}
}

// replay gives a chunk held while the connection was undecided to its
// direction's feeder at capture time at: a direction's first bytes that
// did not begin at its SYN are framed from a boundary found (from, at 0
// or more), or one hunted for (-1).
func (c *conn) replay(ch chunk, from int64, at time.Time) {
	f := &c.feed[ch.dir]
	switch {
	case ch.end:
		c.endFeed(ch.dir, at, ch.report)
		if ch.fin {
			c.sess.HalfClosed(ch.dir, at, c.peer(ch.dir))
		}
		return
	case ch.lost > 0:
		f.Gap(ch.lost, at)
		return
	case ch.unsent > 0:
		f.Unsent(at, ch.unsent)
		return
	case from >= 0:
		f.ResyncAt(from)
	case from == -1:
		f.Resync()
	}
	f.Feed(ch.data, at)
}

// peer names the sender of direction d by its role and address, as the
// session's ends are: "client 127.0.0.1:51234", or "client" where the
// end has no address (endNames).
func (c *conn) peer(d live.Dir) string {
	addr, server := c.endNames()
	if d == live.ServerToClient {
		addr = server
	}
	return live.Named(d.Sender(), addr)
}

// endNames returns the addresses of the client and the server as the
// session names them: none for a tap's unix or pipe conn, whose capture
// ends pcapout made up in 10.0.0.0/8 (its ends had no IP address) and
// holds no socket path, so read drops those made-up addresses and names
// both ends by their role alone (the tap itself keeps a unix server's
// path, which the capture does not carry).
func (c *conn) endNames() (client, server string) {
	under := c.transport
	if u, ok := live.TLSUnder(under); ok {
		under = u
	}
	if under == "unix" || under == "pipe" {
		return "", ""
	}
	cl, sv := c.ends()
	return cl.String(), sv.String()
}

// opening decides the connection a mux, and starts its session at
// capture time at in the order's turn (open); a direction already known
// to be missing from the capture is marked so at once (oneWay).
// openHeld opens the session of a connection the filter picked, with the
// protocol forced, whose client's SYN came first (synHeld), at the next
// packet, at capture time at; data says it carries payload. Where that
// packet is the server's RST, no SYN-ACK before it (a refused connect,
// a firewall's reset), and no byte came, it opens none: skipped with the
// refused notice, as a connection probed is (settle). With --port and
// --protocol, each such connect was a session "reset by the server", and
// a client retrying against a server that is down opened CHURN.
func (c *conn) openHeld(at time.Time, data bool) {
	c.synHeld = false
	if c.resetBeforeOpen() && !data {
		c.state = skipped
		c.r.stats.skipped.Add(1)
		c.skippedNotMux()
		return
	}
	c.opening(at)
}

func (c *conn) opening(at time.Time) {
	c.state = decoding
	zero := c.zeroSince // as it is now: what changes after comes after
	c.r.emit(at, 0, func(at time.Time) { c.open(at, zero) })
	for d, since := range zero {
		if !since.IsZero() {
			// The recording (sniff --write) has it closed where its
			// time falls among the bytes the connection held, after
			// its beginning.
			if since.Before(at) {
				since = at
			}
			c.r.emit(since, 0, func(at time.Time) { c.feed[d].ReceiveWindow(true, at) })
		}
	}
	c.oneWay(at)
}

// oneWay marks, at capture time at, once the connection is decoded, a
// direction the capture holds no segment of (not even an ACK) although
// the other end's ACK numbers acknowledge bytes of it (unheardAcked) as
// unseen: its sender did send them, and the capture does not have them,
// being of one direction only (tcpdump's "dst port", an asymmetric span
// port): nothing about that side can be judged (Session.Unseen), and a
// notice says so once. No segment alone is not enough: an end that is
// gone (its host powered off, cut off by a partition) or frozen without
// its kernel's ACKs sends nothing either, and its peer's unanswered pings
// are KEEPALIVE's; its peer's ACK number stays put, as no byte of it
// comes. The evidence comes within a round trip of the unseen end's first
// bytes: a yamux pong, an smux NOP, an answer, acknowledged by the seen
// end's next segment or its delayed ACK. The mark goes with that end's
// first segment (Accept).
func (c *conn) oneWay(at time.Time) {
	if c.state != decoding || c.toldUnseen {
		return
	}
	unseen := live.ServerToClient
	if c.heard[unseen] || c.unheardAcked[unseen] <= 0 {
		unseen = live.ClientToServer
	}
	if c.heard[unseen] || c.unheardAcked[unseen] <= 0 {
		return
	}
	c.toldUnseen = true
	c.r.emit(at, 0, func(time.Time) { c.sess.Unseen(unseen, true) })
	seen := unseen.Reverse()
	client, server := c.ends()
	c.r.notice(at, fmt.Sprintf("the capture holds only the %s's packets of %s → %s, not even an ACK of the %s's, while the %s's ACKs acknowledge %d bytes of the %s's the capture does not have: a capture of one direction (tcpdump's \"dst port\" or \"src port\", an asymmetric span port); nothing about the %s's side can be judged, and none of the findings that need its frames (its KEEPALIVE, UNANSWERED, WINDOW_STALL, LEAK, DATA_AFTER_CLOSE) is opened",
		seen.Sender(), client, server, unseen.Sender(), seen.Sender(), c.unheardAcked[unseen], unseen.Sender(), unseen.Sender()))
}

// open starts the connection's session at capture time at; zero is, per
// direction, since when its receiver's TCP window was closed while the
// connection was held.
func (c *conn) open(at time.Time, zero [2]time.Time) {
	c.r.stats.decoded.Add(1)
	client, server := c.ends()
	reg := c.r.cfg.Registry
	cname, sname := c.endNames()
	info := live.SessionInfo{Client: cname, Server: sname, Tap: live.Server, Captured: true, Label: c.r.cfg.Label, Prefix: string(c.want),
		Transport: c.transport}
	if c.proto == c.told.Proto {
		info.ToldBy = c.toldBy
	}
	info.SkipBy = c.skipBy
	switch c.proto {
	case tap.Smux:
		info.Proto = live.Smux
	case tap.Yamux:
		info.Proto = live.Yamux
	}
	c.sess = reg.Open(info, at)
	snaplen := reg.Config().Snaplen
	var rec tap.ConnRecorder
	if c.r.cfg.Recorder != nil {
		rec = tap.RecordConnTold(c.r.cfg.Recorder, client.String(), server.String(), c.transport, c.told, at)
	}
	c.feed[live.ClientToServer], c.feed[live.ServerToClient] = tap.NewFeeders(c.sess, snaplen, c.proto, c.skip)
	for d, n := range c.prefixes() {
		c.feed[d].SkipPrefix(n) // the prefixes before the mux (prefixed.go)
	}
	if c.told.Version != 0 {
		// The tapped end speaks it: the peer's frames of another
		// version are a VERSION_MISMATCH at the first, as the tap said.
		c.feed[c.told.Tap.Sends().Reverse()].Expect(c.told.Version)
	}
	for d, since := range zero {
		if !since.IsZero() {
			if c.tapped {
				c.sess.HeldWindow(live.Dir(d), true, since) // held while the connection was
			} else {
				c.sess.ReceiveWindow(live.Dir(d), true, since) // closed while the connection was held
			}
		}
	}
	for d := range live.Dir(2) {
		if rec != nil {
			c.feed[d].Record(rec)
		}
		if c.tapped {
			c.feed[d].TrackUnsent() // its ACKs may say a write failed
		}
	}
	c.rec = rec
}

// endDir ends a direction: at its FIN (report: a frame it cut is
// TRUNCATED; fin: the session is told its sender half-closed it,
// Session.HalfClosed), or where the capture ended.
func (c *conn) endDir(d live.Dir, at time.Time, report, fin bool) {
	if !c.ended[d] && (c.state == probing || c.state == orienting || c.state == aligning) {
		// Held: the direction ends after its bytes, when they are decoded.
		c.hold(chunk{dir: d, at: at, end: true, report: report, fin: fin})
		if c.state == probing {
			c.ended[d] = true
			if c.endDoubt(d) {
				c.probed(at)
				return
			}
			if c.probesDone(at) {
				c.state = skipped
				c.settle() // decoded as a tap decodes, its end replayed
			}
			return
		}
		if c.state == aligning {
			c.alignEnd(d)
			if c.aligned() {
				c.ended[d] = true
				c.settle()
				return
			}
		}
		if c.state == orienting {
			c.ended[d] = true // before the roles may swap, as the held end goes with them
			c.orientEnd(d)
			return
		}
	}
	if c.ended[d] || c.state != decoding {
		c.ended[d] = true
		return
	}
	c.ended[d] = true
	c.r.emit(at, 0, func(at time.Time) {
		c.endFeed(d, at, report)
		if fin {
			c.sess.HalfClosed(d, at, c.peer(d))
		}
	})
}

// endFeed ends direction d's feeder at at: report, at its sender's end
// (a FIN, the connection's RST), else where the capture ended. There the
// recording of the connection (sniff --write) stops too, with no FIN its
// sender never sent: the file shows it open at the capture's end, as
// the capture did.
func (c *conn) endFeed(d live.Dir, at time.Time, report bool) {
	if !report {
		c.feed[d].Record(nil)
	}
	c.feed[d].End(at, report)
}

// startOrienting holds a mux connection whose roles are a guess until a
// frame that opens a stream tells them (scanRoles): smux and yamux
// clients open odd stream ids, servers even ones. It looks at what is
// held first, which may tell at once.
func (c *conn) startOrienting(at time.Time) {
	c.state, c.orientAt = orienting, at
	for d := range live.Dir(2) {
		switch c.proto {
		case tap.Smux:
			c.orient[d] = decoder.New(0)
			if !c.syn[d] {
				c.orient[d].Resync()
			}
		case tap.Yamux:
			c.yorient[d] = yamux.New(0)
			if !c.syn[d] {
				c.yorient[d].Resync()
			}
		}
	}
	for _, ch := range c.pending {
		if c.state != orienting {
			return
		}
		switch {
		case ch.lost > 0:
			gap(c.orient[ch.dir], c.yorient[ch.dir], ch.lost)
		case ch.end:
			c.orientEnd(ch.dir)
		default:
			c.scanRoles(ch.dir, ch.data)
		}
	}
}

// orientEnd looks for a frame that opens a stream in what direction d's
// orienting decoders hold at its real end (its FIN or RST, or the
// capture's end), when nothing more of it comes to look at. Then a chain
// of fewer headers than a resynchronisation wants, whose last frame ends
// where the bytes do, is one, as the feeder's decoder, flushed by End,
// takes it (decoder.Decoder.Flush), but for the roles only with two
// headers at least, or where it begins at a boundary already found or at
// the first byte the capture has of the direction (none skipped or lost
// before it: all of the direction is the chain). A client's SYN and its
// first PSH, all it sent to a server that refused them, tell the roles,
// as does the SYN alone a refusing v2 server read of a v1 client (all of
// that direction a Live viewer's recording has); one header-like tail of
// a payload the capture began in (8 or 12 bytes that read as a SYN, after
// thousands skipped) is too weak to overrule the port guess: it was taken
// for the server's SYN, client and server swapped.
func (c *conn) orientEnd(d live.Dir) {
	if c.state != orienting {
		return
	}
	var id uint32
	if dec := c.orient[d]; dec != nil {
		trusted := !dec.Hunting()
		dec.Flush()
		f, n := endChain(dec, isOpen)
		whole := dec.Skipped() == 0 && dec.Lost() == 0
		if f != nil && (trusted || whole || n >= 2) {
			id = f.Header.StreamID()
		}
	}
	if dec := c.yorient[d]; dec != nil {
		trusted := !dec.Hunting()
		dec.Flush()
		f, n := endChain(dec, yamuxIsOpen)
		whole := dec.Skipped() == 0 && dec.Lost() == 0
		if f != nil && (trusted || whole || n >= 2) {
			id = f.Header.StreamID()
		}
	}
	c.orient[d], c.yorient[d] = nil, nil // nothing more to look at
	c.orientBy(d, id)
}

// endChain has dec, flushed, frame what it holds, and returns the first
// frame match accepts and how many frames it framed: the chain a flushed
// hunt found where the bytes end.
func endChain[F any](dec frameDecoder[F], match func(*F) bool) (first *F, n int) {
	for dec.Buffered() > 0 {
		_, f, err := dec.Next(nil)
		if err != nil {
			break
		}
		if f == nil {
			continue
		}
		n++
		if first == nil && match(f) {
			first = f
		}
	}
	return first, n
}

// orientLast settles a connection held orienting that will be held no
// longer: at its end or the capture's (final), with the roles a frame
// that opens a stream tells in what its directions hold (orientEnd), else
// with the port guess. At orientWait or orientMax (not final) bytes may
// still come on a direction that has not ended, and its decoders hold
// no frame boundary they found: the port guess stands. A direction that
// ended has been looked at (endDir).
func (c *conn) orientLast(final bool) {
	if final {
		for d := range live.Dir(2) {
			c.orientEnd(d)
		}
	}
	if c.state == orienting {
		c.settle() // no stream opened: the port guess stands
	}
}

// scanRoles looks in p, the next bytes of direction d, for a frame that
// opens a stream. The first one settles the connection, with its roles
// swapped if it shows the guess wrong.
func (c *conn) scanRoles(d live.Dir, p []byte) {
	var id uint32
	if dec := c.orient[d]; dec != nil {
		if f, _ := scan(dec, p, isOpen); f != nil {
			id = f.Header.StreamID()
		}
	}
	if dec := c.yorient[d]; dec != nil {
		if f, _ := scan(dec, p, yamuxIsOpen); f != nil {
			id = f.Header.StreamID()
		}
	}
	c.orientBy(d, id)
}

// isOpen reports whether f, an smux frame, opens a stream.
func isOpen(f *decoder.Frame) bool {
	return f.Header.Cmd() == decoder.SYN && f.Header.StreamID() != 0
}

// yamuxIsOpen reports whether f, a yamux frame, opens a stream.
func yamuxIsOpen(f *yamux.Frame) bool {
	h := f.Header
	return h.Flags()&yamux.SYN != 0 && h.StreamID() != 0 && (h.Type() == yamux.Data || h.Type() == yamux.WindowUpdate)
}

// orientBy settles the connection by id, the stream a frame of direction
// d opened (none if 0): clients open odd ids, servers even ones.
func (c *conn) orientBy(d live.Dir, id uint32) {
	if id == 0 {
		return // none opened a stream (a violation tells nothing more)
	}
	if (id%2 == 1) != (d == live.ClientToServer) {
		c.swapRoles()
	}
	c.guessed = false
	c.settle()
}

// ends returns the connection's client and server as the roles stand.
func (c *conn) ends() (client, server netip.AddrPort) {
	if c.clientIsA {
		return c.a, c.b
	}
	return c.b, c.a
}

// swapRoles makes the end taken for the server the client: every
// per-direction field follows.
func (c *conn) swapRoles() {
	c.clientIsA = !c.clientIsA
	c.syn[0], c.syn[1] = c.syn[1], c.syn[0]
	c.heard[0], c.heard[1] = c.heard[1], c.heard[0]
	c.ackBase[0], c.ackBase[1] = c.ackBase[1], c.ackBase[0]
	c.ackKnown[0], c.ackKnown[1] = c.ackKnown[1], c.ackKnown[0]
	c.unheardAcked[0], c.unheardAcked[1] = c.unheardAcked[1], c.unheardAcked[0]
	c.started[0], c.started[1] = c.started[1], c.started[0]
	c.ended[0], c.ended[1] = c.ended[1], c.ended[0]
	c.next[0], c.next[1] = c.next[1], c.next[0]
	c.ahead[0], c.ahead[1] = c.ahead[1], c.ahead[0]
	c.nextKnown[0], c.nextKnown[1] = c.nextKnown[1], c.nextKnown[0]
	c.end[0], c.end[1] = c.end[1], c.end[0]
	c.endKnown[0], c.endKnown[1] = c.endKnown[1], c.endKnown[0]
	c.finSeen[0], c.finSeen[1] = c.finSeen[1], c.finSeen[0]
	c.finFirst = c.finFirst.Reverse()
	c.zeroSince[0], c.zeroSince[1] = c.zeroSince[1], c.zeroSince[0]
	c.restart[0], c.restart[1] = c.restart[1], c.restart[0]
	c.rstDir = c.rstDir.Reverse()
	for i := range c.pending {
		c.pending[i].dir = c.pending[i].dir.Reverse()
	}
}

// heldTooLong reports whether the connection has been held orienting for
// longer than orientWait, or aligning for longer than alignWait, at
// capture time now.
func (c *conn) heldTooLong(now time.Time) bool {
	switch c.state {
	case orienting:
		return now.Sub(c.orientAt) > orientWait
	case aligning:
		return now.Sub(c.alignAt) > alignWait
	}
	return false
}

// startAligning holds a mux connection joined mid-stream, from capture
// time at, until each direction that did not begin at its SYN shows where
// its frames begin: a chain of headers (decoder.Decoder.Resync). Decoded
// as they come instead, a direction's first frames would wait for that
// chain in its decoder and be recorded after the other direction's later
// ones, which they may have caused. It looks at what is held first, which
// may tell at once; it reports whether the connection is held.
func (c *conn) startAligning(at time.Time) bool {
	if c.proto != tap.Smux && c.proto != tap.Yamux {
		return false // decoded as a tap decodes: nothing known to look for
	}
	joined := false
	for d := range live.Dir(2) {
		c.boundary[d], c.found[d] = 0, false
		if c.syn[d] {
			continue
		}
		joined = true
		c.restart[d].skip = c.restart[d].from
		if c.proto == tap.Smux {
			c.align[d] = decoder.New(0)
			c.align[d].Resync()
		} else {
			c.yalign[d] = yamux.New(0)
			c.yalign[d].Resync()
		}
	}
	if !joined {
		return false
	}
	// The bound counts from the first byte held, while probing or
	// orienting too: the connection is held no longer in all.
	if len(c.pending) > 0 && c.pending[0].at.Before(at) {
		at = c.pending[0].at
	}
	c.state, c.alignAt = aligning, at
	for _, ch := range c.pending {
		switch {
		case ch.lost > 0:
			c.alignGap(ch.dir, ch.lost)
		case ch.end:
			c.alignEnd(ch.dir)
		default:
			c.alignWith(ch.dir, ch.data)
		}
	}
	if c.aligned() || c.held > alignMax || c.heldTooLong(c.r.latest) {
		c.align, c.yalign = [2]*decoder.Decoder{}, [2]*yamux.Decoder{}
		return false // not held: settle decodes it now
	}
	return true
}

// alignWith looks in p, the next bytes of direction d, for its first frame
// boundary. A boundary found after bytes were lost is not used: the
// decoder hunts again after a loss anyway.
func (c *conn) alignWith(d live.Dir, p []byte) {
	rs := &c.restart[d]
	whole := true // p is the whole packet's, none of it skipped
	if n := min(int64(len(p)), rs.skip); n > 0 {
		p, rs.skip, whole = p[n:], rs.skip-n, false
	}
	if dec := c.align[d]; dec != nil {
		if f, bad := scan(dec, p, everyFrame); f != nil || bad {
			c.found[d] = f != nil && dec.Lost() == 0
			c.align[d] = nil
			if f != nil {
				c.boundary[d] = rs.at(f.Offset)
			}
		}
	}
	if dec := c.yalign[d]; dec != nil {
		off := dec.Offset() // where p begins, if nothing was skipped of it
		f, bad := scan(dec, p, everyFrame)
		switch {
		case f != nil || bad:
			c.found[d] = f != nil && dec.Lost() == 0
			c.yalign[d] = nil
			if f != nil {
				c.boundary[d] = rs.at(f.Offset)
			}
		case whole && dec.Lost() == 0 && lonePing(p):
			// A packet that is one whole ping begins a frame (lone.go),
			// and the bytes before it end one: the first boundary is
			// the earliest whose frames chain up to the ping exactly,
			// as where the bytes end (Flush), else the ping's. A Data
			// frame's header and payload, written apart, then a
			// keepalive ping: the ping was taken first, and the Data
			// frame skipped as the end of one sent before.
			c.found[d], c.boundary[d], c.yalign[d] = true, rs.at(off), nil
			dec.Flush()
			if f, _ := scan(dec, nil, everyFrame); f != nil && dec.Lost() == 0 {
				c.boundary[d] = rs.at(f.Offset)
			}
		}
	}
}

// alignGap tells direction d's aligning decoder that n bytes were lost,
// less those it was to skip.
func (c *conn) alignGap(d live.Dir, n int64) {
	rs := &c.restart[d]
	k := min(n, rs.skip)
	rs.skip -= k
	gap(c.align[d], c.yalign[d], n-k)
}

// alignEnd looks for direction d's first frame boundary in what is held
// of it when nothing more comes, at its end or the capture's: then a
// chain of fewer headers, whose last frame ends where the bytes do, is
// one, as the feeder's decoder, flushed by End, would take it
// (decoder.Decoder.Flush). The direction has nothing more to look at.
func (c *conn) alignEnd(d live.Dir) {
	if dec := c.align[d]; dec != nil {
		dec.Flush()
	}
	if dec := c.yalign[d]; dec != nil {
		dec.Flush()
	}
	c.alignWith(d, nil)
	c.align[d], c.yalign[d] = nil, nil
}

// aligned reports whether no direction has a boundary still to look for.
func (c *conn) aligned() bool {
	return c.align == [2]*decoder.Decoder{} && c.yalign == [2]*yamux.Decoder{}
}

// gap tells a direction's decoders, smux's and yamux's where they exist,
// that n bytes were lost.
func gap(s *decoder.Decoder, y *yamux.Decoder, n int64) {
	if s != nil {
		s.Gap(n)
	}
	if y != nil {
		y.Gap(n)
	}
}

// probeWith gives p, the next bytes of direction d (nil: what the probes
// hold), to the direction's probes while the connection is probing: the
// first frame, or violation, one of them finds is the verdict. A
// direction whose first chain was found past its first byte waits for
// the other's (prefixed); a verdict from the other direction's first
// byte then skips the connection, as before.
func (c *conn) probeWith(d live.Dir, p []byte) {
	if c.after[d] != 0 {
		return // its verdict waits for the other direction's (prefixed)
	}
	c.probeDir(d, p)
	if c.state == decoding && c.prefixedFirst() {
		c.state = skipped
	}
}

// probeDir is probeWith's look at direction d.
func (c *conn) probeDir(d live.Dir, p []byte) {
	if c.state == probing && c.bigFromStart(d, p) {
		c.state, c.proto = decoding, tap.Yamux
		return
	}
	if c.state == probing && c.doubtful(d) {
		c.weigh(d, p)
		if c.state == probing && c.lonePingFrom(d, p) {
			c.state, c.proto = decoding, tap.Yamux // a lone ping (lone.go)
		}
		return
	}
	if c.probe[d] != nil && c.state == probing {
		c.probeFirst(d, tap.Smux, p)
	}
	if c.yprobe[d] != nil && c.state == probing && c.after[d] == 0 {
		c.probeFirst(d, tap.Yamux, p)
	}
	if c.after[d] != 0 {
		return
	}
	if c.state == probing && c.lonePingFrom(d, p) {
		c.state, c.proto = decoding, tap.Yamux // a lone ping (lone.go)
	}
}

// probeFirst gives p to direction d's probe for proto, and makes the
// first frame, or violation, it finds the connection's verdict.
func (c *conn) probeFirst(d live.Dir, proto tap.Protocol, p []byte) {
	if f := c.look(d, proto, p); f.found || f.bad {
		c.state, c.proto = c.verdict(d, proto, f.found, f.off, c.probeLost(d, proto)), proto
	}
}

// probeLost returns how many bytes direction d's probe for proto counted
// lost (Gap).
func (c *conn) probeLost(d live.Dir, proto tap.Protocol) int64 {
	if proto == tap.Smux {
		return c.probe[d].Lost()
	}
	return c.yprobe[d].Lost()
}

// bigFromStart gives p to direction d's start walker, and reports whether
// the direction, from its SYN, is yamux whose window is configured above
// the default: its first headers chain from its first byte, two at least,
// and one is a Data frame beyond 256 KiB. The probes' rule (a chain of
// three, Data frames up to 256 KiB) rejects such a chain, and the bytes
// after it hold no other, so the connection was skipped: a server's
// answer to a client that announced a 4 MiB window is its ACK and then a
// Data frame of up to 4 MiB. A direction's first byte is a known
// boundary; nothing needs holding to follow its frames.
func (c *conn) bigFromStart(d live.Dir, p []byte) bool {
	w := c.start[d]
	if w == nil {
		return false
	}
	w.feed(p)
	if w.broke || w.blind {
		c.start[d] = nil
		return false
	}
	return w.big && w.n >= 2
}

// frameDecoder is a decoder, smux's or yamux's, as scan uses it.
type frameDecoder[F any] interface {
	Next(p []byte) (int, *F, error)
	Buffered() int
}

// scan feeds p to dec, then what dec holds that it can frame, until dec
// returns a frame that match accepts, or a violation. It returns that
// frame, or nil, and whether it stopped at a violation.
func scan[F any](dec frameDecoder[F], p []byte, match func(*F) bool) (*F, bool) {
	for len(p) > 0 || dec.Buffered() > 0 {
		n, f, err := dec.Next(p)
		p = p[n:]
		if err != nil {
			return nil, true
		}
		if f != nil && match(f) {
			return f, false
		}
	}
	return nil, false
}

// everyFrame is scan's match for the first frame of any kind.
func everyFrame[F any](*F) bool { return true }
