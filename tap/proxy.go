package tap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/muxtop/muxtop/live"
)

// DefaultDialTimeout is how long the proxy waits for the upstream to accept
// a connection when ProxyConfig.DialTimeout is 0.
const DefaultDialTimeout = 5 * time.Second

// DefaultListen is where the proxy listens when ProxyConfig.Listen is empty.
const DefaultListen = "127.0.0.1:0"

// DefaultLabel labels the proxy's sessions when ProxyConfig.Label is empty.
const DefaultLabel = "attach"

const (
	// copyBufSize is the buffer a direction reads into while data flows.
	// What it reads it writes in one Write: no more than a tapped Conn
	// gives its conn at once (writeChunk), so that a forwarded write is
	// held (SESSION_BLOCKED) only when it moves no bytes for as long.
	copyBufSize = 32 << 10
	// idleBufSize is the buffer a direction waits for data with. It holds a
	// whole small exchange (an smux request of a few frames), and it is all
	// an idle session keeps: full-size buffers come from a pool only while
	// data flows, so 10 000 idle sessions do not pin 640 MiB of buffers.
	idleBufSize = 2 << 10
)

// A proxy's write is at most a chunk (copyBufSize); a constant below 0
// fails the build.
const _ uint = writeChunk - copyBufSize

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// Listen is the address clients connect to, already resolved
	// ("127.0.0.1:9001"). Port 0 picks a free port; Proxy.Addr says which.
	// "" means DefaultListen: loopback, a free port.
	Listen string
	// Upstream is the address of the smux or yamux server, already resolved.
	Upstream string
	// Registry records the sessions passing through. It is required.
	Registry *live.Registry
	// DialTimeout bounds each connection to the upstream; 0 means
	// DefaultDialTimeout, a negative value no bound but the system's, by
	// live.Config's rule for 0 and negative numbers.
	DialTimeout time.Duration
	// OnError, if not nil, receives the failures the proxy survives, each a
	// one-line message for the user starting with "attach: ": an upstream
	// that refuses or does not answer a client, an accept that fails and is
	// retried, an upstream that turns out to be the proxy's own listen
	// address (said once a minute at most, not once per client). It is
	// called from the proxy's goroutines, possibly concurrently; it must
	// return quickly and must call neither Close nor Wait, which wait for
	// those goroutines.
	OnError func(error)
	// Label names the sessions' origin in the Registry; "" means DefaultLabel.
	Label string
	// Protocol is what the proxy decodes each connection as; the zero
	// value, Detect, decides per connection from its first byte.
	Protocol Protocol
	// Skip is how many bytes each client sends before the mux starts
	// (Consul's server port: 1); they are forwarded, counted as the
	// session's prefix, and not decoded.
	Skip int
	// Prefix, if not empty, is the exact prefix each client sends before
	// the mux (Consul's RPCMultiplexV2 byte, 0x04); Skip is then its
	// length. A connection whose client sends other bytes there is another
	// protocol on the port (Consul's raft, 0x01): forwarded, not decoded,
	// and a notice says so.
	Prefix []byte
	// Recorder, if not nil, records every byte that passes (--write).
	Recorder Recorder
}

// Proxy is the tapping TCP proxy behind `muxtop attach`. Every client that
// connects to the listen address is connected to the upstream, every byte
// is forwarded unchanged both ways, and each direction is decoded, as it
// is read from its sender, into one live.Session per client.
//
// Call Start, then Wait; Close stops it and waits. Serve does all three
// under a context. Each open session costs two goroutines, the two copy directions,
// and a bounded amount of memory: two small idle buffers, two decoders of
// the Registry's snaplen and the session's bounded live state.
type Proxy struct {
	cfg    ProxyConfig
	dialer net.Dialer
	// dial is dialer.DialContext; a test stands in an upstream whose name
	// resolves elsewhere from one dial to the next.
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	bufs    sync.Pool          // *[copyBufSize]byte, lent to directions while data flows
	dialCtx context.Context    // cancelled by Close, to abort dials in progress
	cancel  context.CancelFunc // cancels dialCtx
	wg      sync.WaitGroup     // the accept loop and each client's handle, which awaits its other copier

	mu     sync.Mutex // guards the fields below
	ln     net.Listener
	closed bool
	pairs  map[*pair]struct{} // the clients being served
	err    error              // why serving stopped, if not Close
	// A dial of the upstream that lands on the proxy's own listener is
	// also a client the proxy accepts, and that client would dial again,
	// and so on, thousands of times a second. The dial's side refuses to
	// forward; these fields let the accepting side recognise the other
	// end of such a dial and drop it before it dials.
	dialing  map[chan struct{}]struct{}  // the dials in flight, each closed when it returns
	ownEnds  map[netip.AddrPort]struct{} // the local addresses of dials that reached the proxy itself
	looped   time.Time                   // when a dial last reached the proxy itself
	loopNote time.Time                   // when the user was last told so
	upstream live.Upstream               // how the dials of the upstream went, and the accepts (Accept)
	// stalled is when the accept stall going on began, zero if none is;
	// longStallEnd is when the last stall of longStall or more ended;
	// stallFailedFrom is Accept.Failed as the stall going on began.
	stalled, longStallEnd time.Time
	stallFailedFrom       uint64
	// acceptRetrying is set while the accept loop backs off a failed
	// accept: until its accept goes through, the stall goes on.
	acceptRetrying bool
	// holding counts the clients held for want of a descriptor to dial
	// their upstream with (dialHolding); while any is, the accept loop
	// accepts none, and unheld, if not nil, is closed as the last one
	// goes on.
	holding int
	unheld  chan struct{}
	// noticedAt is when the last notice of a failing accept was given,
	// noticed the Accept counts then (Failed, Stalls).
	noticedAt     time.Time
	noticedFailed uint64
	noticedStalls uint64

	closeOnce sync.Once
}

// NewProxy returns a proxy configured by cfg; Start starts it.
func NewProxy(cfg ProxyConfig) *Proxy {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Label == "" {
		cfg.Label = DefaultLabel
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		cfg:      cfg,
		dialer:   net.Dialer{Timeout: max(cfg.DialTimeout, 0)},
		dialCtx:  ctx,
		cancel:   cancel,
		pairs:    make(map[*pair]struct{}),
		dialing:  make(map[chan struct{}]struct{}),
		upstream: live.Upstream{Addr: cfg.Upstream},
		ownEnds:  make(map[netip.AddrPort]struct{}),
	}
	p.dial = p.dialer.DialContext
	p.bufs.New = func() any { return new([copyBufSize]byte) }
	return p
}

// Start binds the listen address and serves clients in the background
// until Close. A bind failure, such as an address already in use, is
// returned at once, wrapping the net package's error.
func (p *Proxy) Start() error {
	switch {
	case p.cfg.Registry == nil:
		return errors.New("attach: no live.Registry to record into (ProxyConfig.Registry is nil)")
	case p.cfg.Upstream == "":
		return errors.New("attach: no upstream address to forward to")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return errors.New("attach: the proxy is closed")
	case p.ln != nil:
		return errors.New("attach: the proxy is already started")
	}
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return &proxyError{fmt.Sprintf("attach: cannot listen on %s: %s", p.cfg.Listen, cause(err)), err}
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// Addr returns the address the proxy listens on, or nil before Start.
func (p *Proxy) Addr() net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return nil
	}
	return p.ln.Addr()
}

// Wait waits until every goroutine of the proxy has ended, which happens
// after Close, and returns the error that stopped the proxy if it was not
// Close: a listener that failed for good (the proxy then closes itself).
// Before Start it returns at once.
func (p *Proxy) Wait() error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close stops the proxy and waits for it: it closes the listener and
// every client and upstream conn, ending their sessions as live.Shutdown,
// and returns once every goroutine of the proxy has ended, with what Wait
// returns: the failure that stopped the proxy before Close, or nil. It
// means what demo.Demo's Close means. It is safe to call more than once
// and from many goroutines, but not from OnError, which runs on the
// proxy's own goroutines.
func (p *Proxy) Close() error {
	p.stop()
	return p.Wait()
}

// stop closes the listener and every conn, once; it does not wait.
func (p *Proxy) stop() {
	p.closeOnce.Do(func() {
		p.cancel()
		p.mu.Lock()
		p.closed = true
		ln := p.ln
		conns := make([]net.Conn, 0, 2*len(p.pairs))
		for pr := range p.pairs {
			pr.shutdown.Store(true)
			conns = append(conns, pr.client)
			if pr.up != nil {
				conns = append(conns, pr.up)
			}
		}
		p.mu.Unlock()
		if ln != nil {
			ln.Close()
		}
		for _, c := range conns {
			c.Close()
		}
	})
}

// Serve starts the proxy and serves until ctx is done, Close is called or
// the listener fails; it then closes the proxy and returns after every
// goroutine it started has ended. It returns Start's error, the error that
// stopped serving, or nil when ctx or Close stopped it.
func (p *Proxy) Serve(ctx context.Context) error {
	if err := p.Start(); err != nil {
		return err
	}
	stopped := make(chan struct{})
	watched := make(chan struct{})
	go func() { // Serve waits for it below
		defer close(watched)
		select {
		case <-ctx.Done():
			p.stop()
		case <-stopped:
		}
	}()
	err := p.Wait()
	close(stopped)
	<-watched
	return err
}

// acceptLoop accepts clients until the listener is closed or fails for good.
func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	var delay time.Duration
	for {
		if !p.waitUnheld() {
			return
		}
		// A descriptor set aside for the client's dial of its upstream,
		// before the accept: without it, the clients accepted as
		// descriptors free up could take them all, and then every
		// dial would lack one (dialHolding). No descriptor to set
		// aside is an accept's failure: the client waits in the queue.
		spare, err := reserve()
		var c net.Conn
		if err == nil {
			if c, err = ln.Accept(); err != nil && spare != nil {
				spare.Close()
			}
		}
		if err != nil {
			if p.isClosed() {
				return
			}
			if !retryable(err) {
				p.mu.Lock()
				p.err = &proxyError{fmt.Sprintf("attach: accepting clients on %s failed: %s", ln.Addr(), cause(err)), err}
				p.mu.Unlock()
				p.stop()
				return
			}
			// Out of file descriptors and the like: back off as
			// net/http does, and say so, at most once per
			// noticeEvery: at a chronic limit a stall of a few ms
			// comes with every session that ends.
			if tell, since := p.acceptFailed(err, time.Now(), failedAccept); tell {
				p.report(&proxyError{fmt.Sprintf("attach: accepting clients on %s: %s%s; clients wait in the kernel's accept queue meanwhile; retrying%s", ln.Addr(), cause(err), fdAdvice(err), since), err})
			}
			var ok bool
			if delay, ok = p.backOff(delay); !ok {
				return
			}
			continue
		}
		now := time.Now()
		if delay != 0 {
			p.resume(now, true)
		}
		late := p.acceptedLate(now)
		delay = 0
		p.wg.Add(1)
		go p.handle(c, late, spare)
	}
}

// reserve opens a descriptor to set aside for a client's dial (the null
// device): nil and the error where the process is out of descriptors;
// nil, nil where it fails otherwise, and the client's dial takes its
// chances.
func reserve() (*os.File, error) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		if outOfDescriptors(err) {
			return nil, err
		}
		return nil, nil
	}
	return f, nil
}

// resume ends the accept stall going on at now, if one is, as an accept
// went through (byAccept) or a held client's dial did, and tells the user
// when it lasted longStall or more.
func (p *Proxy) resume(now time.Time, byAccept bool) {
	if took, failed, why := p.acceptResumed(now, byAccept); took >= longStall {
		p.report(fmt.Errorf("attach: accepting clients on %s again after %s: %d accepts failed in this stall (%s)", p.Addr(), rounded(took), failed, why))
	}
}

// dialHolding dials the upstream for the client from. A dial that fails
// because this process is out of file descriptors (EMFILE, ENFILE) says
// nothing of the upstream: the client, accepted with the descriptor the
// dial then lacked, is held, as the kernel's accept queue holds those
// not accepted yet, and the dial is tried again after the accept loop's
// back off, until it goes through, fails otherwise or the proxy closes.
// Each such failure counts in the accept stall (live.AcceptStall.Held),
// with the accepts' notices; the client's session goes on when the dial
// does, not ended as though the upstream had failed it.
func (p *Proxy) dialHolding(from string) (net.Conn, error) {
	var delay time.Duration
	held := false
	for {
		up, err := p.dialUpstream()
		if err == nil || !outOfDescriptors(err) || p.isClosed() {
			if held {
				p.hold(-1)
				p.resume(time.Now(), false)
			}
			return up, err
		}
		if !held {
			p.hold(1)
		}
		what := failedDial
		if held {
			what = failedDialAgain
		}
		if tell, since := p.acceptFailed(err, time.Now(), what); tell {
			p.report(&proxyError{fmt.Sprintf("attach: cannot connect to upstream %s for the connection from %s: %s%s; the client is held meanwhile, others wait in the kernel's accept queue; retrying%s", p.cfg.Upstream, from, cause(err), fdAdvice(err), since), err})
		}
		held = true
		var ok bool
		if delay, ok = p.backOff(delay); !ok {
			p.hold(-1)
			return nil, err
		}
	}
}

// backOff waits out the next step of a back off whose last was delay (0:
// none yet), as net/http's accept loop does: 5 ms, doubled each time up
// to a second. It returns the step and false if the proxy closed
// meanwhile.
func (p *Proxy) backOff(delay time.Duration) (time.Duration, bool) {
	if delay == 0 {
		delay = 5 * time.Millisecond
	} else {
		delay = min(2*delay, time.Second)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return delay, true
	case <-p.dialCtx.Done():
		return delay, false
	}
}

// hold counts a client held for want of a descriptor (n 1), or one that
// goes on (n -1). Held clients come before new ones: each accepted would
// take the descriptor a held client's dial waits for, and were the
// queued clients accepted as sessions end, all the descriptors could go
// to held clients, none left for any of them to dial with, for good.
func (p *Proxy) hold(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding += n
	if p.holding == 0 && p.unheld != nil {
		close(p.unheld)
		p.unheld = nil
	}
}

// waitUnheld waits until no client is held for want of a descriptor; it
// says false if the proxy closed meanwhile.
func (p *Proxy) waitUnheld() bool {
	for {
		p.mu.Lock()
		if p.holding == 0 {
			p.mu.Unlock()
			return true
		}
		if p.unheld == nil {
			p.unheld = make(chan struct{})
		}
		ch := p.unheld
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.dialCtx.Done():
			return false
		}
	}
}

// outOfDescriptors says whether err is this process's, or the system's,
// want of file descriptors.
func outOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// longStall is how long an accept stall lasts to matter to the clients
// queued behind it, and to be told when it ends. At a chronic limit
// every session that ends frees the descriptors the next accept takes
// within milliseconds: such stalls end at the back off's first few steps
// (5, 10, 20, 40 ms…), and the clients they held waited no longer, so a
// redial loop's sessions live here about as long as at their clients,
// and CHURN is theirs. The back off reaches its 1 s ceiling after about
// 1.3 s of failures: a stall of a second or more is one where the limit
// held and clients piled in the queue, whose lives here begin late.
const longStall = time.Second

// lateWithin is how long after a stall of longStall or more a client
// accepted counts as accepted late (live.SessionInfo.AcceptedLate): time
// for the accept queue the stall filled to drain, short stalls between
// its accepts included.
const lateWithin = 2 * time.Second

// noticeEvery is the least time between two notices of a failing accept;
// the ones between are counted in the next.
const noticeEvery = time.Second

// acceptedLate says whether a client accepted at now was accepted late:
// within lateWithin of the end of a stall of longStall or more.
func (p *Proxy) acceptedLate(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.longStallEnd.IsZero() && now.Sub(p.longStallEnd) < lateWithin
}

// failedAt is what failed in an accept stall (Proxy.acceptFailed).
type failedAt int

const (
	failedAccept    failedAt = iota // the accept loop's accept
	failedDial                      // a client's dial of its upstream, the client now held
	failedDialAgain                 // a held client's dial, tried again
)

// acceptFailed counts a failure with err at now, of an accept or of a
// dial for want of descriptors (what). It says whether to tell the user,
// and, for a notice after the first, what it adds: the failures since
// the last one. A notice is due at a stall's first failure, at most once
// per noticeEvery.
func (p *Proxy) acceptFailed(err error, now time.Time, what failedAt) (tell bool, since string) {
	var limit uint64
	if errors.Is(err, syscall.EMFILE) {
		limit = fdLimit()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := &p.upstream.Accept
	first := p.stalled.IsZero()
	if first {
		p.stalled = now
		p.stallFailedFrom = a.Failed
		a.Stalls++
	}
	a.Failed++
	switch what {
	case failedAccept:
		p.acceptRetrying = true
	case failedDial:
		a.Held++
	}
	a.Last, a.FDLimit = cause(err), limit
	if !first || (!p.noticedAt.IsZero() && now.Sub(p.noticedAt) < noticeEvery) {
		return false, ""
	}
	if !p.noticedAt.IsZero() {
		since = fmt.Sprintf(" (%d accepts failed in %s since the last notice, %s ago)", a.Failed-p.noticedFailed, plural(a.Stalls-p.noticedStalls, "stall", "stalls"), rounded(now.Sub(p.noticedAt)))
	}
	p.noticedAt, p.noticedFailed, p.noticedStalls = now, a.Failed, a.Stalls
	return true, since
}

// plural says n and the noun, singular or plural as n is 1 or not.
func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// acceptResumed ends the accept stall going on, at now, as an accept
// went through (byAccept) or a held client's dial did: it returns how
// long it lasted, how many accepts failed in it and the last failure's
// cause; 0 if no stall was going on, or if the accept loop still retries
// a failed accept (a dial that went through ends no stall then).
func (p *Proxy) acceptResumed(now time.Time, byAccept bool) (took time.Duration, failed uint64, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if byAccept {
		p.acceptRetrying = false
	} else if p.acceptRetrying {
		return 0, 0, ""
	}
	if p.stalled.IsZero() {
		return 0, 0, ""
	}
	took = max(now.Sub(p.stalled), time.Nanosecond)
	p.upstream.Accept.Stalled += took
	p.stalled = time.Time{}
	if took >= longStall {
		p.longStallEnd = now
	}
	return took, p.upstream.Accept.Failed - p.stallFailedFrom, p.upstream.Accept.Last
}

// fdAdvice is what the user is told after an accept's failure err: for
// want of file descriptors, the limit and how to raise it; else "".
func fdAdvice(err error) string {
	if !errors.Is(err, syscall.EMFILE) {
		return ""
	}
	if a := (live.AcceptStall{FDLimit: fdLimit()}).Advice(); a != "" {
		return " (" + a + ")"
	}
	return ""
}

// retryable reports whether an accept error may pass: the listener is fine
// but the process or the system is short of something.
func retryable(err error) bool {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Upstream returns how the proxy's connections to the upstream went so
// far: one per client, tried, failed and why; and, in its Accept, how
// accepting the clients failed, the stall going on counted up to now.
func (p *Proxy) Upstream() live.Upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.upstream
	if !p.stalled.IsZero() {
		u.Accept.Stalled += max(time.Since(p.stalled), time.Nanosecond)
	}
	return u
}

// dialed counts a dial of the upstream that a shutdown did not cut short,
// and its failure if err is not nil.
func (p *Proxy) dialed(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := &p.upstream
	u.Dials++
	if err == nil {
		return
	}
	u.Failed++
	switch loop := (*selfLoopError)(nil); {
	case errors.As(err, &loop):
		u.Last = "it is this proxy's own listen address"
		return
	case upstreamFailure(err) == live.UpstreamRefused:
		u.Refused++
	case upstreamFailure(err) == live.UpstreamTimedOut:
		u.TimedOut++
	}
	u.Last = cause(err)
}

// upstreamFailure says how a dial of the upstream failed with err.
func upstreamFailure(err error) live.UpstreamFailure {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return live.UpstreamRefused
	case errors.As(err, &ne) && ne.Timeout():
		return live.UpstreamTimedOut
	}
	return live.UpstreamOther
}

func (p *Proxy) report(err error) {
	if p.cfg.OnError != nil {
		p.cfg.OnError(err)
	}
}

// pair is one client and its upstream conn.
type pair struct {
	client net.Conn      // as accepted
	sess   *live.Session // the client's session
	feed   [2]Feeder     // indexed by live.Dir: the bytes each side sends
	up     net.Conn      // set once dialled, under Proxy.mu
	peers  [2]string     // indexed by live.Dir: "client 127.0.0.1:51234", "upstream 127.0.0.1:9000"
	// ends numbers the directions' ends: the one that ends first says why.
	ends atomic.Int32
	// aborted is set by the first direction that reset both conns.
	aborted atomic.Bool
	// shutdown is set by Proxy.Close before it closes the conns.
	shutdown atomic.Bool
	// rec, if not nil, records the connection (ProxyConfig.Recorder);
	// resetBy is 1 + the direction whose sender reset the connection,
	// 0 if none did: recorded once both directions are done (handle).
	rec     ConnRecorder
	resetBy atomic.Int32
	idle    [2][idleBufSize]byte // each direction's idle buffer
}

// track registers pr so that Close can reach it; it reports false if the
// proxy is already closed.
func (p *Proxy) track(pr *pair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.pairs[pr] = struct{}{}
	return true
}

func (p *Proxy) untrack(pr *pair) {
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// setUpstream records pr's upstream conn; it reports false if the proxy
// closed meanwhile, in which case the caller closes up.
func (p *Proxy) setUpstream(pr *pair, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	pr.up = up
	return true
}

// handle serves one client, accepted late if late (acceptedLate): it dials the upstream, then forwards both ways
// until both directions are done, and ends the client's session. It runs
// the client-to-upstream direction itself, so that a session costs exactly
// two goroutines.
//
// spare, if not nil, is the descriptor set aside for the dial of the
// upstream: it is closed just before the dial, for the dial to take.
func (p *Proxy) handle(client net.Conn, late bool, spare *os.File) {
	defer p.wg.Done()
	release := func() {
		if spare != nil {
			spare.Close()
			spare = nil
		}
	}
	defer release()
	if p.ownDial(client) {
		client.Close() // the dial's side has told the user
		return
	}
	pr := &pair{client: client}
	if !p.track(pr) {
		client.Close()
		return
	}
	defer p.untrack(pr)

	from := client.RemoteAddr().String()
	pr.peers = [2]string{"client " + from, "upstream " + p.cfg.Upstream}
	reg := p.cfg.Registry
	// The session opens before the dial so that a refused client shows too.
	// The proxy serves the server end of the client's connection, so the
	// session is tapped as live.Server, which also makes its Peer the
	// client, one per row, rather than the same upstream. Each direction is
	// decoded as it is read from its sender; the session ends when both
	// directions are done, not at the first one's EOF.
	pr.sess = reg.Open(live.SessionInfo{Client: from, Server: p.cfg.Upstream, Tap: live.Server, Label: p.cfg.Label,
		Proxied: true, AcceptedLate: late, Prefix: string(p.cfg.Prefix), Proto: p.cfg.Protocol.live()}, time.Now())
	ch := newChoice(p.cfg.Protocol)
	for d := range pr.feed {
		pr.feed[d] = newFeeder(pr.sess, live.Dir(d), reg.Config().Snaplen, ch)
		pr.feed[d].keep = true // the proxy writes both directions: a write can fail in either
	}
	if rec := p.cfg.Recorder; rec != nil {
		// What attach was told (--protocol, --skip, --prefix) goes
		// into the capture, for read to decode it as attach did.
		// The prefix's bytes themselves go too: a client that began with
		// others is another protocol, not decoded, here and in read.
		told := Told{Tap: live.Server, Proto: p.cfg.Protocol, Skip: int64(max(p.cfg.Skip, len(p.cfg.Prefix), 0)), Prefix: string(p.cfg.Prefix), Attach: true}
		pr.rec = RecordConnTold(rec, from, p.cfg.Upstream, "", told, time.Now())
		pr.feed[0].Record(pr.rec)
		pr.feed[1].Record(pr.rec)
	}
	pr.feed[live.ClientToServer].skip = int64(max(p.cfg.Skip, 0))
	if want := p.cfg.Prefix; len(want) > 0 {
		c2s := &pr.feed[live.ClientToServer]
		c2s.skip, c2s.prefix = int64(len(want)), want
		c2s.onOther = func(got []byte) {
			reg.Notice(time.Now(), fmt.Sprintf("attach: %s → %s is another protocol: its client began with % x, not --prefix % x; forwarded, not decoded (session %d)",
				from, p.cfg.Upstream, got, want, pr.sess.ID()))
		}
		ch.prefix.Store(true)
		pr.feed[live.ServerToClient].onOther = func(got []byte) {
			reg.Notice(time.Now(), fmt.Sprintf("attach: %s → %s is another protocol: its server spoke first (% x), before its client sent --prefix % x; forwarded, not decoded (session %d)",
				from, p.cfg.Upstream, got, want, pr.sess.ID()))
		}
	}

	release()
	up, err := p.dialHolding(from)
	if err == nil && !p.setUpstream(pr, up) {
		up.Close()
		err = net.ErrClosed
	}
	if err != nil {
		client.Close()
		if p.isClosed() {
			pr.sess.End(time.Now(), live.Shutdown, nil)
			return
		}
		p.dialed(err)
		if loop := (*selfLoopError)(nil); errors.As(err, &loop) {
			pr.sess.End(time.Now(), live.LocalClose, err)
			if loop.tell {
				p.report(err)
			}
			return
		}
		derr := p.dialError(from, err)
		reason, _ := Reason(err)
		// The session's end says it after its reason ("I/O error: "),
		// without the notice's "attach: ".
		ended := &proxyError{strings.TrimPrefix(derr.Error(), "attach: "), err}
		pr.sess.End(time.Now(), reason, &live.UpstreamError{Addr: p.cfg.Upstream, Failure: upstreamFailure(err), Err: ended})
		p.report(derr)
		return
	}

	pr.sess.UpstreamConnected(time.Now())
	p.dialed(nil) // after: Upstream's Dials counts a dial the session knows of
	errc := make(chan error, 2)
	go p.copyUpstreamToClient(pr, errc)
	p.copyClientToUpstream(pr, errc)
	a, b := <-errc, <-errc

	client.Close()
	up.Close()
	now := time.Now()
	if by := pr.resetBy.Load(); by > 0 {
		// Last: after every byte either direction recorded, and what a
		// failed write did not send taken back (Feeder.unsent), as the
		// connection ended.
		pr.rec.Reset(live.Dir(by-1), now)
	}
	if pr.shutdown.Load() {
		pr.sess.End(now, live.Shutdown, halfOpen(a, b, now))
		return
	}
	reason, cause := pr.closeReason(a, b, now)
	pr.sess.End(now, reason, cause)
}

// halfOpen says, for a pair that the proxy shut down, which peer had
// closed its side of the connection and which had not, when one direction
// ended with an EOF before the shutdown and the other was still open;
// else nil. The shutdown closes the open direction's conns itself: its
// result is not an *endError.
func halfOpen(a, b error, now time.Time) error {
	var ends []*endError
	for _, err := range []error{a, b} {
		if e := (*endError)(nil); errors.As(err, &e) {
			ends = append(ends, e)
		}
	}
	if len(ends) != 1 || ends[0].err != io.EOF {
		return nil
	}
	e := ends[0]
	return fmt.Errorf("the %s had closed its side of the connection %s before; the %s had not closed its", e.peer, since(e.at, now), e.other)
}

// since is how long before now at was, for the user.
func since(at, now time.Time) time.Duration { return rounded(now.Sub(at)) }

// rounded rounds d as since does.
func rounded(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// loopMemory is how long after a dial reached the proxy itself the
// proxy checks new local clients against its dials, and how long it keeps
// quiet about further such dials after telling the user.
const loopMemory = time.Minute

// maxOwnEnds bounds Proxy.ownEnds: an end that was never accepted, because
// the proxy closed or the other end's client came first, is not kept forever.
const maxOwnEnds = 1024

// selfLoopError is a dial of the upstream that reached the proxy's own
// listener, and was closed.
type selfLoopError struct {
	msg  string
	tell bool // the first in loopMemory: report it
}

func (e *selfLoopError) Error() string { return e.msg }

// dialUpstream connects to the upstream. A conn that reached the proxy's
// own listener is closed, and the error is a *selfLoopError; its local
// address is noted so that ownDial drops the client it became.
func (p *Proxy) dialUpstream() (net.Conn, error) {
	done := make(chan struct{})
	defer close(done)
	p.mu.Lock()
	p.dialing[done] = struct{}{}
	p.mu.Unlock()

	up, err := p.dial(p.dialCtx, "tcp", p.cfg.Upstream)
	var self bool
	var local, remote netip.AddrPort
	if err == nil {
		var lok, rok bool
		local, lok = addrPort(up.LocalAddr())
		remote, rok = addrPort(up.RemoteAddr())
		if ln, ok := addrPort(p.Addr()); ok && lok && rok {
			self = LoopsBack(ln, remote)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dialing, done)
	if !self {
		return up, err
	}
	up.Close()
	now := time.Now()
	p.looped = now
	if len(p.ownEnds) >= maxOwnEnds {
		clear(p.ownEnds)
	}
	p.ownEnds[local] = struct{}{}
	e := &selfLoopError{msg: fmt.Sprintf("attach: upstream %s is this proxy's own listen address; refusing to connect to myself", p.cfg.Upstream)}
	if remote.String() != p.cfg.Upstream {
		e.msg = fmt.Sprintf("attach: upstream %s reaches this proxy's own listen address %s; refusing to connect to myself", p.cfg.Upstream, remote)
	}
	if p.loopNote.IsZero() || now.Sub(p.loopNote) >= loopMemory {
		p.loopNote, e.tell = now, true
	}
	return nil, e
}

// ownDial reports whether c, just accepted, is the far end of one of the
// proxy's own dials of the upstream. It looks only while dials have lately
// reached the proxy, and only at clients on this machine; such a client
// may come in before its dial has returned, so it waits for the dials in
// flight before it looks.
func (p *Proxy) ownDial(c net.Conn) bool {
	from, ok := addrPort(c.RemoteAddr())
	if !ok {
		return false
	}
	p.mu.Lock()
	if p.looped.IsZero() || time.Since(p.looped) >= loopMemory {
		p.mu.Unlock()
		return false
	}
	if _, ok := p.ownEnds[from]; !ok && len(p.dialing) > 0 {
		waits := make([]chan struct{}, 0, len(p.dialing))
		for d := range p.dialing {
			waits = append(waits, d)
		}
		p.mu.Unlock()
		if !isLocal(from.Addr()) {
			return false
		}
		for _, d := range waits {
			select {
			case <-d:
			case <-p.dialCtx.Done():
				return false
			}
		}
		p.mu.Lock()
	}
	_, ok = p.ownEnds[from]
	delete(p.ownEnds, from)
	p.mu.Unlock()
	return ok
}

// LoopsBack reports whether a connection to dst would reach a listener
// bound to listen: the ports are the same, and the addresses are, or one
// of them is unspecified (0.0.0.0 or ::, every interface: Go listens on
// both families for either) and the other is an address of this machine,
// loopback or an interface's. Port 0 never loops back.
func LoopsBack(listen, dst netip.AddrPort) bool {
	if listen.Port() != dst.Port() || listen.Port() == 0 {
		return false
	}
	l, d := listen.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	switch {
	case l == d:
		return true
	case l.IsUnspecified():
		return isLocal(d)
	case d.IsUnspecified():
		return isLocal(l)
	}
	return false
}

// isLocal reports whether ip is an address of this machine: unspecified,
// loopback, or an address of one of its interfaces.
func isLocal(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if ip.IsUnspecified() || ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// addrPort returns a TCP address as a netip.AddrPort, IPv4 unmapped.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return netip.AddrPort{}, false
	}
	ap := t.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}

// copyClientToUpstream forwards what the client sends to the upstream,
// decoding the client's frames (→).
func (p *Proxy) copyClientToUpstream(pr *pair, errc chan<- error) {
	errc <- p.forward(pr, pr.up, pr.client, live.ClientToServer)
}

// copyUpstreamToClient forwards what the upstream sends to the client,
// decoding the server's frames (←).
func (p *Proxy) copyUpstreamToClient(pr *pair, errc chan<- error) {
	errc <- p.forward(pr, pr.client, pr.up, live.ServerToClient)
}

// forward copies one direction, from the sender of dir to the other peer,
// until it ends, then passes the end on: an EOF as a half-close, anything
// else as a reset of both conns, so that each end sees what it would see
// without the proxy. It returns an *endError, or the error of a conn that
// the proxy itself closed.
func (p *Proxy) forward(pr *pair, dst io.Writer, src io.Reader, dir live.Dir) error {
	from, to := pr.peers[dir], pr.peers[dir.Reverse()]
	rerr, werr := p.copyBuffered(dst, src, pr.idle[dir][:], &pr.feed[dir], &pr.shutdown)
	at := time.Now()
	// A direction that the shutdown ended, by closing its conns, was not
	// ended by its sender: the recording stops there, as a capture
	// stopped while the connection was open does, with no FIN (nor RST)
	// its sender never sent. An end that came before, an EOF or a reset,
	// is recorded as it came.
	byShutdown := (errors.Is(rerr, net.ErrClosed) || errors.Is(werr, net.ErrClosed)) && pr.shutdown.Load()
	if byShutdown {
		pr.feed[dir].Record(nil)
	}
	// A reset is recorded as one, from the peer that reset: the sender's,
	// whose read failed, or the receiver's, which failed the write (a
	// write that failed otherwise is passed on as a reset too, abort). It
	// is recorded once both directions are done (handle), after the bytes
	// the other direction recorded meanwhile, and its failed write's
	// unsent bytes taken back. A direction that it ends, or that the
	// proxy's abort ended, records no end of its own: no FIN its sender
	// never sent.
	if pr.rec != nil {
		switch {
		case isReset(rerr):
			pr.resetBy.CompareAndSwap(0, int32(dir)+1)
		case rerr == nil && werr != nil && !errors.Is(werr, net.ErrClosed):
			pr.resetBy.CompareAndSwap(0, int32(dir.Reverse())+1)
		}
		if pr.resetBy.Load() > 0 && rerr != io.EOF {
			pr.feed[dir].Record(nil)
		}
	}
	// A frame the sender's end cut short is named; one cut because the
	// proxy closed the conns itself (shutdown) is not.
	pr.feed[dir].End(at, !errors.Is(rerr, net.ErrClosed) && !errors.Is(werr, net.ErrClosed))
	if rerr == io.EOF && werr == nil {
		pr.sess.HalfClosed(dir, at, from) // passed on as a half-close: the session lasts
	}
	// Number the end before passing it on, which lets the other direction end.
	seq := pr.ends.Add(1)
	switch {
	case werr != nil:
		if errors.Is(werr, net.ErrClosed) {
			return werr
		}
		pr.abort()
		return &endError{peer: to, other: from, err: werr, seq: seq, at: at}
	case rerr == io.EOF:
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() // fails only if dst is gone, which its own direction reports
		}
		return &endError{peer: from, other: to, err: io.EOF, seq: seq, at: at}
	case errors.Is(rerr, net.ErrClosed):
		return rerr
	}
	pr.abort()
	return &endError{peer: from, other: to, err: rerr, seq: seq, at: at}
}

// copyBuffered copies src to dst until one of them fails, and says which,
// decoding what it reads with fd. It calls src.Read and dst.Write itself
// rather than io.CopyBuffer, whose one error would not say which side
// failed.
//
// A direction waits for data in its small idle buffer. When a read fills
// it, more is likely waiting, and the direction borrows a full-size buffer
// from the pool; it gives it back as soon as a read drains the socket, so
// that only directions with data in flight hold one.
//
// shutdown is the pair's: set once the proxy's shutdown closes its conns.
func (p *Proxy) copyBuffered(dst io.Writer, src io.Reader, idle []byte, fd *Feeder, shutdown *atomic.Bool) (rerr, werr error) {
	buf := idle
	var big *[copyBufSize]byte
	defer func() {
		if big != nil {
			p.bufs.Put(big)
		}
	}()
	if c, ok := src.(net.Conn); ok {
		fd.watchArrivals(c) // its frames are stamped as read: when did they come?
	}
	for {
		fd.readStarting()
		n, err := src.Read(buf)
		base := fd.offset()
		if n > 0 {
			fd.Feed(buf[:n], time.Time{})
		}
		fd.readEnded(0)
		if n > 0 {
			// No Sent: a frame is recorded once read whole, when its
			// writer has sent it, and a window it filled holds that
			// writer from then (live.Session.Sent is a tapped end's).
			fd.WriteStarted() // a write that does not return: the receiver stopped reading
			w, err := dst.Write(buf[:n])
			fd.WriteDone(err != nil)
			if err == nil && w < n {
				err = io.ErrShortWrite
			}
			if err != nil {
				// What the receiver never got is not counted as passed,
				// as for a tapped Conn's failed Write. A write that the
				// shutdown cut, by closing dst, is where muxtop stopped
				// watching: what it read is what it saw pass, and the
				// frame the cut falls in was cut by no peer (no
				// TRUNCATED), as where a capture stops.
				if w < n && !fd.done && !(errors.Is(err, net.ErrClosed) && shutdown.Load()) {
					fd.unsent(time.Now(), base+int64(max(w, 0)), base+int64(n))
				}
				return nil, err
			}
		}
		if err != nil {
			return err, nil
		}
		switch {
		case n == len(buf) && big == nil:
			big = p.bufs.Get().(*[copyBufSize]byte)
			buf = big[:]
		case n < len(buf) && big != nil:
			p.bufs.Put(big)
			big, buf = nil, idle
		}
	}
}

// isReset reports whether err is a peer's reset of the connection.
func isReset(err error) bool {
	if err == nil {
		return false
	}
	reason, _ := Reason(err)
	return reason == live.Reset
}

// abort resets both conns of the pair, once: a peer that reset, or that
// can no longer be written to, makes the other peer see a reset too.
func (pr *pair) abort() {
	if pr.aborted.Swap(true) {
		return
	}
	for _, c := range []net.Conn{pr.client, pr.up} {
		if l, ok := c.(interface{ SetLinger(int) error }); ok {
			l.SetLinger(0)
		}
		c.Close()
	}
}

// closeReason says why the pair ended at now, from the results of its
// two directions: the first failure if there was one, else EOF and who
// closed first. A failure after one peer had closed its side (an upstream
// that wrote to a client that had left: the write fails, the client's
// end being gone) says so.
func (pr *pair) closeReason(a, b error, now time.Time) (live.CloseReason, error) {
	var ends []*endError
	for _, err := range []error{a, b} {
		var e *endError
		if errors.As(err, &e) { // else the proxy closed the conn, after the other direction ended
			ends = append(ends, e)
		}
	}
	if len(ends) == 2 && ends[1].seq < ends[0].seq {
		ends[0], ends[1] = ends[1], ends[0]
	}
	var eof *endError
	for _, e := range ends {
		if e.err == io.EOF {
			if eof == nil {
				eof = e
			}
			continue
		}
		reason, err := Reason(e.err)
		if reason == live.Reset {
			closed, before := "", time.Duration(0)
			if eof != nil {
				closed, before = eof.peer, now.Sub(eof.at)
			}
			return reason, ResetBy(e.peer, closed, before)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", e.peer, err)
		}
		if eof != nil {
			err = closedBefore(err, e.peer, eof.peer, live.ClosedIts(""), now.Sub(eof.at))
		}
		return reason, err
	}
	if eof != nil {
		return live.EOF, ClosedFirst(eof.peer)
	}
	return live.LocalClose, nil
}

// ResetBy is why a session ended by a reset: "reset by the client
// 127.0.0.1:51234", the peer whose reset ended the connection, and where
// a peer had closed its side of the connection before (closed, "" if
// none), that it had, before the reset (attach's words, and read's and
// sniff's by the RST and the FIN their capture has).
func ResetBy(peer, closed string, before time.Duration) error {
	err := errors.New("reset by the " + peer)
	if closed == "" {
		return err
	}
	return closedBefore(err, peer, closed, live.ClosedIts(""), before)
}

// closedBefore adds to err, which peer's end caused (nil: none), that
// the end closed had done what (live.ClosedIts's words for the conn's
// transport) before ago: "…, which had closed its side of the
// connection 3ms before" where closed is peer, "…; the server … had
// closed …" where it is the other, and the note alone where err is nil.
// The words of every end that follows a half-close: a reset's (ResetBy),
// a failed read's or write's.
func closedBefore(err error, peer, closed, what string, before time.Duration) error {
	switch {
	case err == nil:
		return fmt.Errorf("the %s had %s %s before", closed, what, rounded(before))
	case closed == peer:
		return fmt.Errorf("%w, which had %s %s before", err, what, rounded(before))
	default:
		return fmt.Errorf("%w; the %s had %s %s before", err, closed, what, rounded(before))
	}
}

// ClosedFirst is why a session ended by EOF, when one peer closed its
// side of the connection before the other: "the client 127.0.0.1:51234
// closed first". peer is the peer's role and address, as attach names it
// ("upstream 127.0.0.1:9000") and read does ("server 127.0.0.1:9000").
func ClosedFirst(peer string) error { return errors.New("the " + peer + " closed first") }

// endError is how one direction of a pair ended, and at which peer.
type endError struct {
	peer  string // "client 127.0.0.1:51234" or "upstream 127.0.0.1:9000"
	other string // the other peer
	err   error
	seq   int32     // 1 for the direction that ended first
	at    time.Time // when it ended
}

func (e *endError) Error() string { return e.peer + ": " + e.err.Error() }
func (e *endError) Unwrap() error { return e.err }

// dialError describes a failed dial of the upstream for the client at from.
func (p *Proxy) dialError(from string, err error) error {
	up := p.cfg.Upstream
	var msg string
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("attach: upstream %s refused the connection from %s; client closed", up, from)
	case errors.As(err, &ne) && ne.Timeout():
		msg = fmt.Sprintf("attach: upstream %s did not answer within %v for the connection from %s; client closed", up, p.cfg.DialTimeout, from)
	default:
		msg = fmt.Sprintf("attach: cannot connect to upstream %s for the connection from %s: %s; client closed", up, from, cause(err))
	}
	return &proxyError{msg, err}
}

// proxyError is a one-line message for the user that wraps the error
// behind it, so that errors.Is still finds, say, syscall.EADDRINUSE.
type proxyError struct {
	msg string
	err error
}

func (e *proxyError) Error() string { return e.msg }
func (e *proxyError) Unwrap() error { return e.err }

// cause returns the innermost useful text of a net error: "connection
// refused" rather than "dial tcp 127.0.0.1:9000: connect: connection refused".
func cause(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
