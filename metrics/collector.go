// Package metrics exports muxtop's capture state to Prometheus: a
// Collector over a live.Registry, an HTTP server for /metrics, and
// Diagnose, which keeps the registry's findings up to date.
//
// The Collector reads the registry when Prometheus scrapes it: it takes
// one snapshot without streams and turns its counters into constant
// metrics. Nothing happens per frame; the capture pays for a scrape only
// the sessions' locks the snapshot takes, one at a time.
//
// One registry holds smux and yamux sessions alike; the label protocol
// keeps their frames, bytes, violations and anomalies apart, each session
// counted under its own protocol, and yamux's GoAways and ping round
// trips are muxtop_yamux_* metrics.
//
// In a service's own process, wrap the connections given to smux (or
// yamux) with tap.Wrap or tap.WrapListener, recording into a live.Registry, and
// register NewCollector(reg, Options{}) on the program's
// prometheus.Registerer (see the package example), and run Diagnose on
// reg: the findings gauges and the leak gauges
// (muxtop_streams_leak_suspected, muxtop_session_streams_leak_suspected)
// count what the latest evaluation of the findings found, and stay 0
// while nothing evaluates them.
package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// MaxSessions caps Options.Sessions: per-session series are for looking
// at a few sessions, not for a fleet's thousands.
const MaxSessions = 100

// Options configure a Collector.
type Options struct {
	// StallAfter is the threshold of the stalled streams
	// (live.SnapshotOptions); 0 or less means live.DefaultStallAfter. (The leak
	// gauges count the open LEAK findings, whose threshold is
	// live.FindingsConfig.LeakAfter, as Diagnose is given it.)
	StallAfter time.Duration
	// Sessions adds per-session series for up to this many live
	// sessions, the oldest first (lowest ids); 0 adds none. It is capped
	// at MaxSessions.
	Sessions int
	// ConstLabels are added to every metric, for a process that exports
	// several registries. (One registry holds smux and yamux sessions
	// alike: the label protocol tells their frames apart.) Their names
	// may not be those of the series' own labels, nor Prometheus's le of
	// the histograms' buckets: client, code, command, direction, guess,
	// label, le, protocol, reason, sender, server, session, severity,
	// upstream
	// (ReservedLabels). Names are [a-zA-Z_][a-zA-Z0-9_]*, not beginning
	// with __ (client_golang accepts other UTF-8 names, but writes "a-b"
	// as a_b to a scraper that does not ask for UTF-8 names), and values
	// are valid UTF-8. A Collector given another is refused when it is
	// registered, with an error that names it (Collector.Err). instance
	// and job are accepted, but Prometheus stores a scraped instance or
	// job as exported_instance or exported_job (unless the scrape job
	// honors labels): tell registries apart by another name.
	ConstLabels prometheus.Labels
	// Upstream, if not nil, says how a proxy's connections to its
	// upstream went (tap.Proxy.Upstream, as muxtop attach gives it): the
	// muxtop_upstream_* series, labelled with the upstream's address
	// (one per proxy, so one series each). Without it, or while it
	// returns no address, those series are absent, not 0: a tap in a
	// service's own process, or a capture, dials no upstream, and an
	// alert on them cannot fire where there is none.
	Upstream func() live.Upstream
	// OutputMissed, if not nil, says how many records a plain or JSON
	// printer missed (headless.Options.Missed): evicted from history
	// before it could print them. It is exported as
	// muxtop_output_missed_records_total; without it (the UI, a tap in a
	// service's own process), the series is absent.
	OutputMissed func() uint64
}

// reservedLabels are the label names of the Collector's series, whether
// or not Options.Sessions asks for the per-session ones, and le, the
// bucket label of its histograms, sorted.
var reservedLabels = []string{"client", "code", "command", "direction", "guess", "label", "le", "protocol", "reason", "sender", "server", "session", "severity", "upstream"}

// ReservedLabels returns the label names Options.ConstLabels may not
// use: the series' own, and le.
func ReservedLabels() []string { return slices.Clone(reservedLabels) }

// checkConstLabels returns the error of const labels that are no valid
// label (checkLabelSyntax) or take reserved names, naming them, or nil.
func checkConstLabels(cl prometheus.Labels) error {
	if err := checkLabelSyntax(cl); err != nil {
		return err
	}
	var clash []string
	for name := range cl {
		if slices.Contains(reservedLabels, name) {
			clash = append(clash, strconv.Quote(name))
		}
	}
	if len(clash) == 0 {
		return nil
	}
	slices.Sort(clash)
	return fmt.Errorf("metrics: Options.ConstLabels: %s: the series' own labels and the histograms' le are reserved: %s",
		strings.Join(clash, ", "), strings.Join(reservedLabels, ", "))
}

// Collector is a prometheus.Collector over a live.Registry.
type Collector struct {
	reg *live.Registry
	o   Options
	d   descs
	err error // Options that make no valid series: Describe and Collect say it

	mu sync.Mutex  // guards hw, hwUnparsed and hwSessions
	hw live.Counts // the highest frame and byte counts exported so far
	// hwUnparsed is the highest unparsed byte count exported so far, per
	// direction: a failed write takes back the unparsed bytes it did not
	// send, as it does frames.
	hwUnparsed [2]int64
	// hwSessions are the highest per-session counts exported so far, by
	// session id, of the sessions exported at the latest scrape: a
	// session's entry goes as its series do (at most Options.Sessions).
	hwSessions map[uint64]sessionCounts
}

// sessionCounts are one session's counters of the per-session series, by
// direction.
type sessionCounts struct {
	frames, bytes [2]uint64
}

// NewCollector returns a Collector of reg's state. Its leak gauges and
// findings gauges count the open findings of the latest evaluation
// (Diagnose, live.Registry.Evaluate): 0 if reg's findings are never
// evaluated. A Collector of Options that make no valid series
// (ConstLabels with a reserved or invalid name, or a value that is not
// UTF-8: see Options.ConstLabels) describes itself as invalid:
// registering it returns the error. A nil reg panics, a programmer's
// error.
func NewCollector(reg *live.Registry, o Options) *Collector {
	if reg == nil {
		panic("metrics.NewCollector: nil *live.Registry")
	}
	if o.StallAfter <= 0 {
		o.StallAfter = live.DefaultStallAfter
	}
	o.Sessions = min(max(o.Sessions, 0), MaxSessions)
	if err := checkConstLabels(o.ConstLabels); err != nil {
		return &Collector{reg: reg, o: o, err: err}
	}
	return &Collector{reg: reg, o: o, d: newDescs(o)}
}

// Err returns the error that makes registering the Collector fail: its
// Options make no valid series. It is nil for a Collector that works.
func (c *Collector) Err() error { return c.err }

// descs are the Collector's metric descriptions.
type descs struct {
	sessionsOpened, sessionsLive, sessionsEnded                     *prometheus.Desc
	streamsOpened, streamsClosed, streamsEnded, streamsOpen         *prometheus.Desc
	streamsLeak, streamsStalled, oldestStream                       *prometheus.Desc
	frames, bytes, unparsed                                         *prometheus.Desc
	violations, notMux, anomalies, findingsOpen, findingsOpened     *prometheus.Desc
	findingsResolved, evaluations                                   *prometheus.Desc
	latency, dropped, outputMissed                                  *prometheus.Desc
	goAways, pingRTT                                                *prometheus.Desc
	upDials, upFailures                                             *prometheus.Desc
	acceptFailures, acceptStalled                                   *prometheus.Desc
	sessFrames, sessBytes, sessOpen, sessLeak, sessOldest, sessInfo *prometheus.Desc
}

// sessionLabels name a session in the per-session series.
var sessionLabels = []string{"session"}

func newDescs(o Options) descs {
	cl := prometheus.Labels{}
	for k, v := range o.ConstLabels {
		cl[k] = v
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("muxtop_"+name, help, labels, cl)
	}
	s := func(name, help string, labels ...string) *prometheus.Desc {
		return d(name, help, append(sessionLabels[:len(sessionLabels):len(sessionLabels)], labels...)...)
	}
	return descs{
		sessionsOpened:   d("sessions_opened_total", "Sessions (tapped connections) seen opening."),
		sessionsLive:     d("sessions_live", "Sessions not ended."),
		sessionsEnded:    d("sessions_ended_total", "Sessions ended, by how: eof, reset, local_close, io_error, shutdown.", "reason"),
		streamsOpened:    d("streams_opened_total", "Streams opened (SYN)."),
		streamsClosed:    d("streams_closed_total", "Streams closed before their session ended: by a FIN from each side, or (yamux) reset by an RST."),
		streamsEnded:     d("streams_ended_with_session_total", "Streams still open or half-closed when their session ended: neither closed by both FINs nor reset."),
		streamsOpen:      d("streams_open", "Streams open or half-closed in live sessions."),
		streamsLeak:      d("streams_leak_suspected", "Streams the open LEAK findings count (as of the latest evaluation): open or half-closed, and idle (no frame of their own), longer than the leak threshold, less those LEAK leaves out (a blocked session's, a stalled writer's, those UNANSWERED counts, a session's setup streams held open, an smux v1 half-closed stream whose reader may still be reading what it was sent while no LEAK of its side is open)."),
		streamsStalled:   d("streams_stalled", "Streams whose v2 writer is held at a full flow-control window (STALLED)."),
		oldestStream:     d("oldest_open_stream_age_seconds", "Age of the oldest stream open or half-closed in a live session; 0 when none is."),
		frames:           d("frames_total", "Frames, by protocol, command (smux's command or yamux's type) and direction (c2s: client to server).", "protocol", "command", "direction"),
		bytes:            d("frame_bytes_total", "Wire bytes of frames, header included, by protocol, command and direction.", "protocol", "command", "direction"),
		unparsed:         d("unparsed_bytes_total", "Bytes seen that no frame holds: a skipped prefix (--skip), after a framing violation, of a frame cut short by the connection's end, or skipped by a capture to a frame boundary. Frame bytes plus these are the wire bytes.", "direction"),
		violations:       d("violations_total", "Framing violations, by protocol and code: smux stops reading the session, yamux ends it. Not those not_mux_total counts.", "protocol", "code"),
		notMux:           d("not_mux_total", "Connections' directions whose first bytes are another protocol's, not a mux's, by what they are (guess: tls, http-request, http-response, http2, ssh, socks5, text): the sender speaks no mux, and no mux reacts. Not in violations_total.", "guess"),
		anomalies:        d("anomalies_total", "Frames the library ignores or tolerates (or ends the session on) but a correct peer does not send, by protocol and code.", "protocol", "code"),
		findingsOpen:     d("findings_open", "Findings open now, by code and severity (as of the latest evaluation; at a run's end, those still holding as muxtop stopped watching too).", "code", "severity"),
		findingsOpened:   d("findings_opened_total", "Findings opened, by code and the severity each opened with: one whose severity changes later (a PROTOCOL finding whose other end answered in the same protocol) stays counted under its first; findings_open has the current.", "code", "severity"),
		findingsResolved: d("findings_resolved_total", "Findings resolved, by code and the severity each had as it resolved (not those muxtop's own stop resolved, which findings_open counts at a run's end).", "code", "severity"),
		evaluations:      d("findings_evaluations_total", "Evaluations of the findings so far (muxtop's own every 100 ms; in a service's process, metrics.Diagnose's): it stands still where nothing evaluates them, and every findings and leak gauge then reads 0 whatever the streams do."),
		latency:          d("first_reply_latency_seconds", "Time from a stream's SYN to the first data from the side that did not open it."),
		dropped:          d("history_dropped_records_total", "Frame records never stored in history (a feeder lapped by the ring); their frames still count."),
		outputMissed:     d("output_missed_records_total", "Records the plain or JSON output did not print: evicted from history before it could (it fell behind: a slow reader of stdout), or never stored (history_dropped_records_total). Each gap is a missed record in the output. Records of every kind, those --only leaves out included where evicted before the printer came to them."),
		goAways:          d("yamux_goaways_total", "yamux GoAway frames, by the side that sent them and their code: normal (no new streams), protocol_error and internal_error (the session ends), unknown.", "sender", "code"),
		pingRTT:          d("yamux_ping_rtt_seconds", "Round-trip time of yamux Pings (keepalive or Session.Ping), from the Ping to its ACK as the tap saw them."),
		upDials:          d("upstream_dials_total", "Connections muxtop attach's proxy tried to its upstream, one per client; only when muxtop proxies.", "upstream"),
		acceptFailures:   d("attach_accept_failures_total", "Accepts of clients that muxtop attach's proxy failed and retried, and dials of the upstream that lacked a descriptor, the client held and the dial retried (out of file descriptors: raise the open-file hard limit, ulimit -Hn; each proxied session takes 2); its clients wait in the kernel's accept queue meanwhile; only when muxtop proxies.", "upstream"),
		acceptStalled:    d("attach_accept_stalled_seconds_total", "How long muxtop attach's proxy could not accept clients, from a failed accept to the next one that succeeded; only when muxtop proxies.", "upstream"),
		upFailures:       d("upstream_dial_failures_total", "Connections to the upstream that failed, each client closed at once, by reason: refused (nothing listens there), timeout (no answer within --dial-timeout), other (a name that does not resolve, no route); only when muxtop proxies.", "upstream", "reason"),
		sessFrames:       s("session_frames_total", "Frames of one session, by direction; only for the sessions --metrics-sessions selects.", "direction"),
		sessBytes:        s("session_frame_bytes_total", "Wire bytes of one session's frames, by direction; only for the selected sessions.", "direction"),
		sessOpen:         s("session_streams_open", "Streams open or half-closed in one session; only for the selected sessions."),
		sessLeak:         s("session_streams_leak_suspected", "Streams one session's open LEAK findings count; only for the selected sessions."),
		sessOldest:       s("session_oldest_open_stream_age_seconds", "Age of one session's oldest open stream; only for the selected sessions."),
		sessInfo:         s("session_info", "A selected session's protocol, addresses and label; always 1.", "protocol", "client", "server", "label"),
	}
}

// Describe sends the descriptions of every metric the Collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c.err != nil {
		ch <- prometheus.NewInvalidDesc(c.err)
		return
	}
	d := &c.d
	for _, x := range []*prometheus.Desc{d.sessionsOpened, d.sessionsLive, d.sessionsEnded,
		d.streamsOpened, d.streamsClosed, d.streamsEnded, d.streamsOpen, d.streamsLeak, d.streamsStalled, d.oldestStream,
		d.frames, d.bytes, d.unparsed, d.violations, d.notMux, d.anomalies, d.findingsOpen, d.findingsOpened, d.findingsResolved, d.evaluations, d.latency, d.dropped,
		d.goAways, d.pingRTT} {
		ch <- x
	}
	if c.o.OutputMissed != nil {
		ch <- d.outputMissed
	}
	if c.o.Upstream != nil {
		ch <- d.upDials
		ch <- d.upFailures
		ch <- d.acceptFailures
		ch <- d.acceptStalled
	}
	if c.o.Sessions > 0 {
		for _, x := range []*prometheus.Desc{d.sessFrames, d.sessBytes, d.sessOpen, d.sessLeak, d.sessOldest, d.sessInfo} {
			ch <- x
		}
	}
}

// The values of the label protocol.
var (
	smuxLabel  = live.Smux.String()
	yamuxLabel = live.Yamux.String()
)

// Label values, made once.
var (
	dirLabels = [2]string{live.ClientToServer.Code(), live.ServerToClient.Code()}
	cmdLabels = func() (l [decoder.NumCmds]string) {
		for i := range l {
			l[i] = decoder.Cmd(i).String()
		}
		return l
	}()
	// typeLabels name yamux's types as every front end does: DATA,
	// WINDOW_UPDATE, PING, GO_AWAY.
	typeLabels = func() (l [yamux.NumTypes]string) {
		for i := range l {
			l[i] = yamux.Type(i).String()
		}
		return l
	}()
	sideLabels = [2]string{live.Client.String(), live.Server.String()}
	// goAwayLabels name GoAway codes by live's index (GoAwaysBy).
	goAwayLabels = [live.NumGoAwayCodes]string{"normal", "protocol_error", "internal_error", "unknown"}
	// smuxAnomalies and yamuxAnomalies are the anomalies each protocol's
	// sessions can show (live records them so): the series exported.
	smuxAnomalies = []live.Anomaly{live.DuplicateSYN, live.WrongParity, live.UnknownStream, live.ClosedStream,
		live.EmptyPSH, live.PSHAfterFIN, live.ReusedID, live.ConsumedMoreThanSent}
	yamuxAnomalies = []live.Anomaly{live.DuplicateSYN, live.WrongParity, live.UnknownStream, live.PSHAfterFIN,
		live.ReusedID, live.WindowExceeded, live.RepeatedFIN}
	// notMuxKinds are the kinds of bytes a direction that is not a mux
	// can begin with (wirekind.Kind.OtherProtocol): the series exported.
	notMuxKinds = func() (l []wirekind.Kind) {
		for k := range wirekind.Kind(wirekind.NumKinds) {
			if k.OtherProtocol() {
				l = append(l, k)
			}
		}
		return l
	}()
	latencyBounds = func() (b [live.NumLatencyBounds]float64) {
		for i, d := range live.LatencyBounds() {
			b[i] = d.Seconds()
		}
		return b
	}()
)

// noStreams selects no session's streams: the counters are all a scrape needs.
func noStreams(uint64) bool { return false }

// Collect takes a snapshot of the registry and sends its metrics; a
// Collector whose Err is not nil sends one invalid metric, with the error.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(c.err), c.err)
		return
	}
	now := c.reg.Now() // a capture read from a file has its own clock
	snap := c.reg.SnapshotWith(live.SnapshotOptions{
		Streams: noStreams, StallAfter: c.o.StallAfter, Now: now, Latency: true,
	})
	d := &c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	counter(d.sessionsOpened, uint64(len(snap.Sessions))+snap.Forgotten.Sessions)
	gauge(d.sessionsLive, float64(snap.LiveSessions))
	for r := live.EOF; r < live.NumCloseReasons; r++ {
		counter(d.sessionsEnded, snap.EndedBy[r], r.Code())
	}

	ended := snap.Forgotten.EndedStreams
	for _, ss := range snap.Sessions {
		ended += ss.StreamsEnded
	}
	counter(d.streamsOpened, snap.StreamsTotal)
	counter(d.streamsClosed, snap.StreamsTotal-uint64(snap.OpenStreams)-ended)
	counter(d.streamsEnded, ended)
	gauge(d.streamsOpen, float64(snap.OpenStreams))
	counter(d.evaluations, c.reg.Evaluations())
	gauge(d.streamsLeak, float64(snap.Leaks)) // the open LEAK findings' count, as the TUI and the summary show it
	gauge(d.streamsStalled, float64(snap.Stalls))
	gauge(d.oldestStream, age(now, snap.OldestOpen))

	counts, unparsed := c.monotonic(&snap.Totals, snap.Unparsed) // frame bytes plus unparsed are the wire bytes
	// Each session counts its frames in its own protocol's words (live
	// keeps smux's commands and yamux's types apart), so the two
	// protocols' series never share a label set.
	for dir, dl := range dirLabels {
		for cmd, cl := range cmdLabels {
			counter(d.frames, counts.Frames[dir][cmd], smuxLabel, cl, dl)
			counter(d.bytes, counts.Bytes[dir][cmd], smuxLabel, cl, dl)
		}
		for typ, tl := range typeLabels {
			counter(d.frames, counts.TypeFrames[dir][typ], yamuxLabel, tl, dl)
			counter(d.bytes, counts.TypeBytes[dir][typ], yamuxLabel, tl, dl)
		}
		counter(d.unparsed, uint64(unparsed[dir]), dl)
	}

	for code := decoder.Code(1); code < decoder.NumCodes; code++ {
		counter(d.violations, snap.ViolationsBy[code], smuxLabel, code.String())
	}
	for code := yamux.Code(1); code < yamux.NumCodes; code++ {
		counter(d.violations, snap.YamuxViolationsBy[code], yamuxLabel, code.String())
	}
	for _, k := range notMuxKinds {
		counter(d.notMux, snap.NotMuxBy[k], k.Code())
	}
	for _, a := range smuxAnomalies {
		counter(d.anomalies, snap.AnomaliesBy[a]-snap.YamuxAnomaliesBy[a], smuxLabel, a.String())
	}
	for _, a := range yamuxAnomalies {
		counter(d.anomalies, snap.YamuxAnomaliesBy[a], yamuxLabel, a.String())
	}
	// By the finding's severity, as the summary and the header count
	// them: a PROTOCOL finding may be a warning (live.FindingCode.Severities).
	var open [live.NumFindingCodes][live.NumSeverities]int
	// At a run's end, those muxtop's stop resolved still held: open at
	// the end, as the summary counts them.
	for _, fs := range [][]*live.Finding{snap.Findings, snap.Unwatched} {
		for _, f := range fs {
			if int(f.Code) < live.NumFindingCodes && int(f.Severity) < live.NumSeverities {
				open[f.Code][f.Severity]++
			}
		}
	}
	for code := live.FindingCode(1); code < live.NumFindingCodes; code++ {
		for _, sev := range code.Severities() {
			gauge(d.findingsOpen, float64(open[code][sev]), code.String(), sev.String())
			counter(d.findingsOpened, snap.FindingsOpenedBy[code][sev], code.String(), sev.String())
			counter(d.findingsResolved, snap.FindingsResolvedBy[code][sev], code.String(), sev.String())
		}
	}

	ch <- histogram(d.latency, &snap.LatencyHistogram)
	counter(d.dropped, snap.History.Dropped)
	if c.o.OutputMissed != nil {
		counter(d.outputMissed, c.o.OutputMissed())
	}

	for side, sl := range sideLabels {
		for code, gl := range goAwayLabels {
			counter(d.goAways, snap.GoAwaysBy[side][code], sl, gl)
		}
	}
	ch <- histogram(d.pingRTT, &snap.PingRTT)

	if c.o.Upstream != nil {
		if u := c.o.Upstream(); u.Addr != "" {
			counter(d.upDials, u.Dials, u.Addr)
			counter(d.upFailures, u.Refused, u.Addr, "refused")
			counter(d.upFailures, u.TimedOut, u.Addr, "timeout")
			counter(d.upFailures, u.Failed-min(u.Failed, u.Refused+u.TimedOut), u.Addr, "other")
			counter(d.acceptFailures, u.Accept.Failed, u.Addr)
			ch <- prometheus.MustNewConstMetric(d.acceptStalled, prometheus.CounterValue, u.Accept.Stalled.Seconds(), u.Addr)
		}
	}

	if c.o.Sessions > 0 {
		c.collectSessions(ch, snap, now)
	}
}

// histogram returns h as a constant histogram of desc.
func histogram(desc *prometheus.Desc, h *live.LatencyHistogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(latencyBounds))
	for i, b := range latencyBounds {
		buckets[b] = h.Below[i]
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum.Seconds(), buckets)
}

// collectSessions sends the per-session series of the oldest live
// sessions, at most Options.Sessions of them. Their counters are held
// monotonic as the capture-wide ones are (monotonic): a failed write's
// frames taken back must not make a live session's counter go down.
func (c *Collector) collectSessions(ch chan<- prometheus.Metric, snap *live.Snapshot, now time.Time) {
	d := &c.d
	var sel []*live.SessionSnap
	for _, ss := range snap.Sessions {
		if len(sel) == c.o.Sessions {
			break
		}
		if !ss.Ended {
			sel = append(sel, ss)
		}
	}
	counts := c.sessionsMonotonic(sel)
	for i, ss := range sel {
		id := strconv.FormatUint(ss.ID, 10)
		for dir, dl := range dirLabels {
			ch <- prometheus.MustNewConstMetric(d.sessFrames, prometheus.CounterValue, float64(counts[i].frames[dir]), id, dl)
			ch <- prometheus.MustNewConstMetric(d.sessBytes, prometheus.CounterValue, float64(counts[i].bytes[dir]), id, dl)
		}
		ch <- prometheus.MustNewConstMetric(d.sessOpen, prometheus.GaugeValue, float64(ss.Open), id)
		ch <- prometheus.MustNewConstMetric(d.sessLeak, prometheus.GaugeValue, float64(ss.Leaks), id)
		ch <- prometheus.MustNewConstMetric(d.sessOldest, prometheus.GaugeValue, age(now, ss.OldestOpen), id)
		ch <- prometheus.MustNewConstMetric(d.sessInfo, prometheus.GaugeValue, 1, id, ss.Proto.String(), ss.Info.Client, ss.Info.Server, ss.Info.Label)
	}
}

// sessionsMonotonic returns the counters of the sessions sel, each no
// lower than it was at the previous scrape that exported the session,
// and forgets the marks of the sessions not in sel: their series are
// gone, and a session id is never reused.
func (c *Collector) sessionsMonotonic(sel []*live.SessionSnap) []sessionCounts {
	out := make([]sessionCounts, len(sel))
	c.mu.Lock()
	defer c.mu.Unlock()
	hw := make(map[uint64]sessionCounts, len(sel))
	for i, ss := range sel {
		m := c.hwSessions[ss.ID]
		for dir := range 2 {
			m.frames[dir] = max(m.frames[dir], ss.Counts.FramesDir(live.Dir(dir)))
			m.bytes[dir] = max(m.bytes[dir], ss.Counts.BytesDir(live.Dir(dir)))
		}
		hw[ss.ID] = m
		out[i] = m
	}
	c.hwSessions = hw
	return out
}

// monotonic returns counts and the unparsed bytes, each no lower than it
// was at the previous scrape. A tapped end's write that fails takes back
// the frames it recorded (live.Session.Retract), and the unparsed bytes it
// did not send (live.Session.Unparsed set lower), and a Prometheus counter that goes
// down reads as a restart: the exported count holds still instead until
// the true one passes it again.
func (c *Collector) monotonic(counts *live.Counts, unparsed [2]int64) (*live.Counts, [2]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range 2 {
		c.hwUnparsed[d] = max(c.hwUnparsed[d], unparsed[d])
		for i := range decoder.NumCmds {
			c.hw.Frames[d][i] = max(c.hw.Frames[d][i], counts.Frames[d][i])
			c.hw.Bytes[d][i] = max(c.hw.Bytes[d][i], counts.Bytes[d][i])
		}
		for i := range yamux.NumTypes {
			c.hw.TypeFrames[d][i] = max(c.hw.TypeFrames[d][i], counts.TypeFrames[d][i])
			c.hw.TypeBytes[d][i] = max(c.hw.TypeBytes[d][i], counts.TypeBytes[d][i])
		}
	}
	out := c.hw
	return &out, c.hwUnparsed
}

// age returns the seconds from since to now, 0 for a zero since.
func age(now, since time.Time) float64 {
	if since.IsZero() {
		return 0
	}
	return max(now.Sub(since).Seconds(), 0)
}
