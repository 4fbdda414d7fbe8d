package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// Bounds on the history flags, so a typo cannot ask for all the memory there is.
const (
	maxHistory      = 10_000_000
	maxHistoryBytes = 4 << 30 // of historyBytes
	// maxClosedStreams bounds --closed-streams: about 2 GiB of streams.
	maxClosedStreams = 4_000_000
)

// The sizes behind historyBytes.
const (
	slotBytes   = 64                                  // a record's bytes in the ring besides its snaplen (a 128-byte slot holds 64 payload bytes; live/history.go)
	recordBytes = int64(unsafe.Sizeof(live.Record{})) // a record copied out of the ring: 240 bytes on 64-bit
	gcReserve   = 256 << 20                           // the heap's growth above the history, at most: see setMemoryLimit
	// streamBytes is what a closed stream kept in detail keeps live.
	streamBytes = live.ClosedStreamBytes
)

// historyBytes is the most memory that keeping history records of snaplen
// payload bytes costs with the given output, in bytes: what the history
// keeps live (historyLive), and the garbage collector's headroom above it.
// With GOGC=100 the heap grows to twice what is live before a collection;
// setMemoryLimit caps that growth at gcReserve once the history is larger.
//
// Measured with --snaplen 32768 --history 10000 and 32 KiB PSH frames
// through `muxtop attach` for 20 s, peak RSS without a limit: json 1.22 to
// 1.24 GB and plain 1.13 to 1.17 GB (the payload copies of the printer's
// batches fill the headroom within seconds; MemStats put the heap goal at
// 2 × 578 MiB), the TUI, which then kept a second copy of history, about 745 MB. With
// the limit setMemoryLimit sets, json and plain peaked at 0.83 GB against
// an estimate of 826 MiB (0.87 GB). The TUI now reads history in place.
func historyBytes(history, snaplen int, output string) int64 {
	kept := historyLive(history, snaplen, output)
	return kept + min(kept, gcReserve)
}

// historyLive is the memory the history keeps live, in bytes.
func historyLive(history, snaplen int, output string) int64 {
	h, s := int64(history), int64(snaplen)
	// The registry's ring: a slot per record, and snaplen bytes of payload
	// arena, which the OS backs as records fill it.
	n := h * (slotBytes + s)
	// A reader takes up to live.DefaultScan records at a time, each
	// copied with its payload: the printer keeps room for one read (fewer
	// records, headless.printBatch), the UI's scans copy one batch, live
	// while it is read and garbage after.
	n += min(h, live.DefaultScan) * (recordBytes + s)
	if output == "tui" {
		// The UI keeps no copy of history, only the seqs its frame list
		// shows: 8 bytes per record at most.
		n += h * 8
	}
	return n
}

// setMemoryLimit caps the heap's growth above a history that keeps kept
// bytes live at gcReserve, with a soft memory limit, unless GOMEMLIMIT
// says otherwise or the history is smaller than that (then GOGC's doubling
// costs less). The ring and arenas are most of such a heap, and they hold
// no pointers, so the collections the limit adds are cheap: measured as in
// historyBytes, json went from 1.23 GB to 0.83 GB peak RSS, and the CPU
// time per MiB forwarded stayed within run-to-run noise (2.0 and 2.1 ms,
// three runs each). The limit is soft: a larger live heap, say from
// thousands of sessions, costs collector CPU (at most half, the runtime
// makes sure), not a failure.
//
// kept is the history's and the closed streams' (--closed-streams): the
// live heap the flags bound. At the defaults, about 35 MB and 51 MB, no
// limit is set. GOGC's doubling costs less than gcReserve then, and the
// rest of the heap, the sessions and their open streams, no flag bounds: a
// limit near kept would make the collector run without pause as open
// streams grow, a leak's, just when muxtop is most wanted. A reproduction
// of 2 000 live sessions that served 2.1M streams and hold 3 000 open
// (live's per-frame path, default registry) keeps 118 MB live after a GC,
// at 124 MB RSS with the next GC due at 198 MB; 1.53 GB live and 1.65 GB
// RSS before the closed streams were bounded.
func setMemoryLimit(kept int64) {
	if kept < gcReserve || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(kept + gcReserve)
}

// watchFlags are the flags every capturing command shares.
type watchFlags struct {
	output     string
	duration   time.Duration
	snaplen    int
	history    int
	closed     int // --closed-streams: live.Config.StreamBudget
	leakAfter  time.Duration
	stallAfter time.Duration
	mouse      bool
	// only is --only as given, kinds what it says (validate): the kinds
	// of records plain and JSON output print; onlyFlag says whether it
	// was given.
	only     string
	kinds    headless.Kinds
	onlyFlag *pflag.Flag
	findings findingsFlags // findings_cmd.go
	metrics  metricsFlags  // metrics_cmd.go
}

func (f *watchFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "front end: tui, plain or json (default tui on a terminal, plain otherwise)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long, print the summary and exit 0 (0: run until q or ctrl+c); read exits 1 if no capture came by then, and plain or json output exits 1 if stdout took nothing for 2 s after the stop")
	fs.IntVar(&f.snaplen, "snaplen", live.DefaultSnaplen, "payload bytes kept per frame (0-65535)")
	fs.IntVar(&f.history, "history", live.DefaultHistory, "frames kept in history; older ones still count")
	fs.IntVar(&f.closed, "closed-streams", live.DefaultStreamBudget, "closed streams kept in detail, all sessions together (about 0.5 KB each; each session keeps a share); older ones still count")
	fs.DurationVar(&f.leakAfter, "leak-after", live.DefaultLeakAfter, "streams open, and idle (no frame of their own), longer than this count as suspected leaks (LEAK); and a request waits this long (or --unanswered-after, if longer) for a side that has sent nothing at all since it, with no keepalive seen on the session (yet: one whose interval is longer shows up late), before UNANSWERED or NO_REPLY (warnings then) opens")
	fs.DurationVar(&f.stallAfter, "stall-after", live.DefaultStallAfter, "a v2 writer held at a full window this long, with no UPD and no FIN of its own, is STALLED")
	fs.BoolVar(&f.mouse, "mouse", false, "tui: wheel scrolling and click-to-select (turns off the terminal's own selection)")
	fs.StringVar(&f.only, "only", "", "plain and json: print only these kinds of records, joined by commas: "+strings.Join(headless.KindNames(), ", ")+
		" (default every kind); the summary is always printed, and so is a missed record where the output lost records, which counts records of any kind, perhaps none of those asked for")
	f.onlyFlag = fs.Lookup("only")
	f.findings.register(fs)
	f.metrics.register(fs)
}

// validate checks the flags and settles the output on what stdout is.
func (f *watchFlags) validate(stdout io.Writer) error {
	switch f.output {
	case "":
		f.output = "plain"
		if file, ok := stdout.(*os.File); ok && term.IsTerminal(file.Fd()) {
			f.output = "tui"
		}
	case "tui", "plain", "json":
	default:
		return usageError{fmt.Errorf("--output %q: use tui, plain or json", f.output)}
	}
	if f.snaplen < 0 || f.snaplen > decoder.MaxSnaplen {
		return usageError{fmt.Errorf("--snaplen %d: use 0 to %d", f.snaplen, decoder.MaxSnaplen)}
	}
	if f.history < 0 || f.history > maxHistory {
		// plain and json print from history: 0 is refused for them.
		least := 0
		if f.output != "tui" {
			least = 1
		}
		return usageError{fmt.Errorf("--history %d: use %d to %d", f.history, least, maxHistory)}
	}
	if f.closed < 0 || f.closed > maxClosedStreams {
		return usageError{fmt.Errorf("--closed-streams %d: use 0 to %d (each costs about %d bytes)", f.closed, maxClosedStreams, streamBytes)}
	}
	if f.history == 0 && f.output != "tui" {
		return usageError{fmt.Errorf("--history 0 keeps no frames, and %s output prints from history: use 1 or more", f.output)}
	}
	if mem := historyBytes(f.history, f.snaplen, f.output); mem > maxHistoryBytes {
		return usageError{fmt.Errorf("--history %d × --snaplen %d would need about %d MiB of memory for %s output: keep it under %d MiB",
			f.history, f.snaplen, mem>>20, f.output, maxHistoryBytes>>20)}
	}
	if f.onlyFlag != nil && f.onlyFlag.Changed {
		k, err := headless.ParseKinds(f.only)
		if err != nil {
			return usageError{fmt.Errorf("--only %w", err)}
		}
		if f.output == "tui" {
			return usageError{errors.New("--only selects what plain and json output print; the UI (--output tui, the default on a terminal) shows every record: add --output plain or --output json")}
		}
		f.kinds = k
	}
	if f.output == "tui" {
		file, ok := stdout.(*os.File)
		if !ok || !term.IsTerminal(file.Fd()) {
			return usageError{errors.New("--output tui needs a terminal: use --output plain or json")}
		}
	}
	if f.leakAfter <= 0 {
		return usageError{fmt.Errorf("--leak-after %v: use a positive duration such as 30s", f.leakAfter)}
	}
	if f.stallAfter <= 0 {
		return usageError{fmt.Errorf("--stall-after %v: use a positive duration such as 2s", f.stallAfter)}
	}
	if f.duration < 0 {
		return usageError{fmt.Errorf("--duration %v: use a positive duration such as 30s", f.duration)}
	}
	if err := f.metrics.validate(); err != nil {
		return err
	}
	return f.findings.validate()
}

// registry returns the capture state the flags ask for, and sets the
// memory limit that keeps its cost to historyBytes.
func (f *watchFlags) registry() *live.Registry { return f.registryClock(nil) }

// registryClock is registry with a clock other than time.Now: a capture's.
func (f *watchFlags) registryClock(clock func() time.Time) *live.Registry {
	// The closed streams kept are live heap as bounded as the history's.
	setMemoryLimit(historyLive(f.history, f.snaplen, f.output) + int64(f.closed)*streamBytes)
	// The flags count exactly: --history 0 keeps none (see live.Config).
	// One registry for the process's life: its ring may ask for huge pages.
	return live.New(live.Config{History: live.Exactly(f.history), Snaplen: live.Exactly(f.snaplen),
		StreamBudget: live.Exactly(f.closed), Clock: clock, HugePages: true})
}

// captureConfig is the capture reader's configuration that read and sniff
// share: a registry that measures ages by the capture's clock, which
// starts at start, and the findings evaluated in capture time, by the
// reader, every metrics.EvaluateEvery of it as the live front ends do.
// What a capture is diagnosed with then depends on its packets alone, not
// on how fast (or how late) they are read. The evaluation at the end
// concludes: no evaluation comes after it to resolve the findings of the
// sessions that ended. The session it feeds says diagnoses.
func (f *watchFlags) captureConfig(start time.Time) pcap.Config {
	clock := new(pcap.Clock)
	clock.Set(start)
	reg := f.registryClock(clock.Now)
	findings := f.findingsConfig()
	return pcap.Config{Registry: reg, Clock: clock,
		Evaluate: func(now time.Time) { reg.Evaluate(now, findings) }, EvaluateEvery: metrics.EvaluateEvery,
		Conclude: func(now time.Time) { reg.Conclude(now, findings) }}
}

// system is what a command runs and muxtop watches: a demo or a proxy. It
// runs until Close, or until it fails; Wait returns after it stopped, with
// the failure if there was one, and Close stops it, waits and returns the
// same. demo.Demo and tap.Proxy mean the same by both.
type system interface {
	Close() error
	Wait() error
}

// session is what a front end watches.
type session struct {
	reg    *live.Registry
	sys    system
	title  string             // mode and addresses, for the header
	where  string             // one line for stderr in plain and json mode: where to connect
	warn   string             // optional lines, one per \n, said once: on stderr in plain and json mode, as notices in the UI
	status func() live.Status // optional: the watched system's figures
	done   func() bool        // optional: what is watched has no more to give (a capture read whole)
	// idle, if not nil, says for how long, by the wall clock, what is
	// watched has given nothing, once that is long enough to say (0
	// otherwise): read -, whose capture's clock stands still meanwhile.
	idle func() time.Duration
	// waiting, if not nil, says why no session has come yet, or "": the
	// UI's empty sessions pane says it (tui.Options.Waiting).
	waiting func() string
	// printed, if not nil, is kept at the seq of the next record the plain
	// or JSON printer will print: read paces itself by it.
	printed *atomic.Uint64
	// diagnoses: the system evaluates the findings itself, in its own time
	// (read: capture time); the front end does not evaluate them by the
	// wall clock.
	diagnoses bool
	// upstream, if not nil, says how a proxy's connections to its
	// upstream went, for the summary.
	upstream func() live.Upstream
}

// listener is an address a command listens on: the flag that set it, the
// address it was given ("0.0.0.0:0"), and the address bound (its port is
// the real one; the host may be written differently).
type listener struct{ flag, given, bound string }

// everyInterface returns one line saying which of ls listen on every
// interface, their ports reachable from other machines, or "" if none
// does. An unspecified address, 0.0.0.0 or ::, is every interface; Go
// listens on IPv6 as well for either when the system has it, and binds ::
// then, which the bound address shows.
func everyInterface(cmd string, ls ...listener) string {
	var flags, ports []string
	v6 := false
	for _, l := range ls {
		host, _, err := net.SplitHostPort(l.given)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Unmap().IsUnspecified() {
			continue
		}
		bhost, port, _ := net.SplitHostPort(l.bound)
		if b, err := netip.ParseAddr(bhost); err == nil && b.Is6() && !b.Is4In6() {
			v6 = true
		}
		flags = append(flags, l.flag+" "+l.given)
		ports = append(ports, port)
	}
	where := "every interface"
	if v6 {
		where += ", IPv4 and IPv6"
	}
	switch len(ports) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("%s: %s listens on %s: port %s is reachable from other machines", cmd, flags[0], where, ports[0])
	}
	return fmt.Sprintf("%s: %s listen on %s: ports %s are reachable from other machines",
		cmd, strings.Join(flags, " and "), where, strings.Join(ports, " and "))
}

// closing is how every front end ends: the system stopped, and the
// summary headless writes, in format.
func (f *watchFlags) closing(format headless.Format, stop func(), s session) headless.Options {
	return headless.Options{Format: format, Stop: stop, Status: s.status, Upstream: s.upstream, Printed: s.printed,
		LeakAfter: f.leakAfter, StallAfter: f.stallAfter}
}

// watch runs the chosen front end on s until ctx is done, the duration is
// up, the user quits, or the watched system stops by itself. Then it stops
// the system before the front end's last read, so that the summary covers
// everything the system did, and returns the system's failure if any.
func (f *watchFlags) watch(ctx context.Context, cmd *cobra.Command, s session) (err error) {
	// userCtx ends where the user stops the run (a signal, --duration);
	// ctx also where the watched system stops by itself (a capture read
	// whole), which waits for the output as long as it takes.
	userCtx := ctx
	if f.duration > 0 {
		var c context.CancelFunc
		userCtx, c = context.WithTimeout(ctx, f.duration)
		defer c()
	}
	ctx, cancel := context.WithCancel(userCtx)
	defer cancel()
	var sysErr error
	stopped := make(chan struct{})
	go func() { // owned by watch: stop, called below in every case, waits for it
		sysErr = s.sys.Wait()
		close(stopped)
		cancel()
	}()
	mo := metrics.Options{StallAfter: f.stallAfter, Upstream: s.upstream}
	// The records plain or JSON output missed: the printer counts them.
	missed := new(atomic.Uint64)
	if f.output != "tui" {
		mo.OutputMissed = missed.Load
	}
	stopMetrics, metricsAt, metricsWarn, err := f.metrics.serve(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), s.reg, mo)
	if err != nil {
		s.sys.Close()
		<-stopped
		return err
	}
	// Deferred first, so it runs last: Prometheus can read the final
	// counts until the summary is out.
	defer stopMetrics()
	stopFindings, conclude := func() {}, func(time.Time) {}
	if !s.diagnoses {
		cfg := f.findingsConfig()
		stopFindings = startFindings(s.reg, cfg)
		// The watched sessions end as the system stops, after the last
		// evaluation: each finding gets its closing record before the
		// summary, so that no finding is left open with every session
		// ended. Not Conclude: an evaluation of the shutdown would open
		// findings of the shutdown's doing. Those the stop itself cut
		// short resolve as muxtop's stop ("muxtop stopped watching"),
		// still holding then, and the summary counts them open at the
		// end; a session that ended on its own before resolves as the
		// next evaluation would ("the session ended"). The summary's
		// leaks stay those counted before the system stopped
		// (headless.closing reads them first).
		conclude = func(stopAt time.Time) { s.reg.ResolveEnded(s.reg.Now(), stopAt) }
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stopAt := s.reg.Now()
			stopFindings()
			s.sys.Close()
			<-stopped
			conclude(stopAt)
		})
	}
	// A stop a signal cut short (errStopCut) is not waited for again:
	// it is what the signal gave up on.
	defer func() {
		if !errors.Is(err, errStopCut) {
			stop()
		}
	}()

	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch f.output {
	case "tui":
		for _, line := range append(strings.Split(s.warn, "\n"), metricsWarn, metricsAt) {
			if line != "" {
				s.reg.Notice(s.reg.Now(), line)
			}
		}
		err = runTUI(ctx, s, f, stop, stdout)
	default:
		format := headless.Plain
		if f.output == "json" {
			format = headless.JSON
		}
		if s.where != "" {
			fmt.Fprintln(stderr, "muxtop:", s.where)
		}
		// On stderr only: a notice would be in the capture on stdout too.
		for _, line := range append(strings.Split(s.warn, "\n"), metricsAt, metricsWarn) {
			if line != "" {
				fmt.Fprintln(stderr, "muxtop:", line)
			}
		}
		o := f.closing(format, stop, s)
		// Once the user stopped it, the system stops at once and the
		// output is waited for while it takes records, headless.Grace at
		// most with none taken: a stdout that takes nothing (a reader that
		// stopped reading) holds up neither.
		// What it did not take is one line on stderr, and exit 1.
		o.Hurry = userCtx.Done()
		o.Cut = secondSignal // a second signal: give up on the output at once
		o.Missed = missed
		o.Only = f.kinds
		_, err = headless.Run(ctx, s.reg, stdout, o)
		if errors.Is(err, syscall.EPIPE) {
			// The reader of stdout went away (| head -1): the watch
			// stops as on ctrl+c, the --write file and the rest closed,
			// quietly, exit 0: what was asked for was printed.
			err = nil
		}
	}
	if err != nil {
		return err
	}
	stop()
	if sysErr != nil && !errors.Is(sysErr, context.Canceled) {
		return sysErr
	}
	return nil
}
