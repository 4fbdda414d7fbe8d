// Package metrics exports muxtop's capture state to Prometheus: a
// Collector over a live.Registry, an HTTP server for /metrics, and
// Diagnose, which keeps the registry's findings up to date.
//
// The Collector reads the registry when Prometheus scrapes it: it takes
// one snapshot without streams and turns its counters into constant
// metrics. Nothing happens per frame; the capture pays for a scrape only
// the sessions' locks the snapshot takes, one at a time.
//
// In a service's own process, wrap the connections given to smux with
// tap.Wrap or tap.WrapListener, recording into a live.Registry, and
// register NewCollector(reg, Options{}) on the program's
// prometheus.Registerer (see the package example).
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// MaxSessions caps Options.Sessions: per-session series are for looking
// at a few sessions, not for a fleet's thousands.
const MaxSessions = 100

// Options configure a Collector.
type Options struct {
	// Protocol names the multiplexing protocol the registry captures, as
	// the constant label protocol; "" means "smux".
	Protocol string
	// LeakAfter and StallAfter are the thresholds of the suspected leaks
	// and stalled streams (live.SnapshotOptions); 0 means
	// live.DefaultLeakAfter and live.DefaultStallAfter.
	LeakAfter, StallAfter time.Duration
	// Sessions adds per-session series for up to this many live
	// sessions, the oldest first (lowest ids); 0 adds none. It is capped
	// at MaxSessions.
	Sessions int
	// ConstLabels are added to every metric, for a process that exports
	// several registries.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector over a live.Registry.
type Collector struct {
	reg *live.Registry
	o   Options
	d   descs

	mu sync.Mutex  // guards hw
	hw live.Counts // the highest frame and byte counts exported so far
}

// NewCollector returns a Collector of reg's state.
func NewCollector(reg *live.Registry, o Options) *Collector {
	if o.Protocol == "" {
		o.Protocol = "smux"
	}
	if o.LeakAfter <= 0 {
		o.LeakAfter = live.DefaultLeakAfter
	}
	if o.StallAfter <= 0 {
		o.StallAfter = live.DefaultStallAfter
	}
	o.Sessions = min(max(o.Sessions, 0), MaxSessions)
	return &Collector{reg: reg, o: o, d: newDescs(o)}
}

// descs are the Collector's metric descriptions.
type descs struct {
	sessionsOpened, sessionsLive, sessionsEnded                     *prometheus.Desc
	streamsOpened, streamsClosed, streamsEnded, streamsOpen         *prometheus.Desc
	streamsLeak, streamsStalled, oldestStream                       *prometheus.Desc
	frames, bytes, unparsed                                         *prometheus.Desc
	violations, anomalies, findingsOpen, findingsOpened             *prometheus.Desc
	latency, dropped                                                *prometheus.Desc
	sessFrames, sessBytes, sessOpen, sessLeak, sessOldest, sessInfo *prometheus.Desc
}

// sessionLabels name a session in the per-session series.
var sessionLabels = []string{"session"}

func newDescs(o Options) descs {
	cl := prometheus.Labels{"protocol": o.Protocol}
	for k, v := range o.ConstLabels {
		cl[k] = v
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("muxtop_"+name, help, labels, cl)
	}
	s := func(name, help string, labels ...string) *prometheus.Desc {
		return d(name, help, append(sessionLabels[:len(sessionLabels):len(sessionLabels)], labels...)...)
	}
	leak := o.LeakAfter.String()
	return descs{
		sessionsOpened: d("sessions_opened_total", "Sessions (tapped connections) seen opening."),
		sessionsLive:   d("sessions_live", "Sessions not ended."),
		sessionsEnded:  d("sessions_ended_total", "Sessions ended, by how: eof, reset, local_close, io_error, shutdown.", "reason"),
		streamsOpened:  d("streams_opened_total", "Streams opened (SYN)."),
		streamsClosed:  d("streams_closed_total", "Streams closed by a FIN from each side."),
		streamsEnded:   d("streams_ended_with_session_total", "Streams that ended with their session, never closed by both FINs."),
		streamsOpen:    d("streams_open", "Streams open or half-closed in live sessions."),
		streamsLeak:    d("streams_leak_suspected", "Streams open or half-closed for longer than the leak threshold ("+leak+"): suspected leaks."),
		streamsStalled: d("streams_stalled", "Streams whose v2 writer is held at a full flow-control window (STALLED)."),
		oldestStream:   d("oldest_open_stream_age_seconds", "Age of the oldest stream open or half-closed in a live session; 0 when none is."),
		frames:         d("frames_total", "Frames, by command and direction (c2s: client to server).", "command", "direction"),
		bytes:          d("frame_bytes_total", "Wire bytes of frames, header included, by command and direction.", "command", "direction"),
		unparsed:       d("unparsed_bytes_total", "Bytes not framed: after a framing violation, or of a frame cut short by the connection's end.", "direction"),
		violations:     d("violations_total", "Framing violations, by code: smux stops reading the session.", "code"),
		anomalies:      d("anomalies_total", "Frames smux ignores or tolerates but a correct peer does not send, by code.", "code"),
		findingsOpen:   d("findings_open", "Findings open now, by code and severity (as of the latest evaluation).", "code", "severity"),
		findingsOpened: d("findings_opened_total", "Findings opened, by code and severity.", "code", "severity"),
		latency:        d("first_reply_latency_seconds", "Time from a stream's SYN to the first data from the side that did not open it."),
		dropped:        d("history_dropped_records_total", "Frame records never stored in history (a feeder lapped by the ring); their frames still count."),
		sessFrames:     s("session_frames_total", "Frames of one session, by direction; only for the sessions --metrics-sessions selects.", "direction"),
		sessBytes:      s("session_frame_bytes_total", "Wire bytes of one session's frames, by direction; only for the selected sessions.", "direction"),
		sessOpen:       s("session_streams_open", "Streams open or half-closed in one session; only for the selected sessions."),
		sessLeak:       s("session_streams_leak_suspected", "Suspected leaks in one session; only for the selected sessions."),
		sessOldest:     s("session_oldest_open_stream_age_seconds", "Age of one session's oldest open stream; only for the selected sessions."),
		sessInfo:       s("session_info", "A selected session's addresses and label; always 1.", "client", "server", "label"),
	}
}

// Describe sends the descriptions of every metric the Collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.d
	for _, x := range []*prometheus.Desc{d.sessionsOpened, d.sessionsLive, d.sessionsEnded,
		d.streamsOpened, d.streamsClosed, d.streamsEnded, d.streamsOpen, d.streamsLeak, d.streamsStalled, d.oldestStream,
		d.frames, d.bytes, d.unparsed, d.violations, d.anomalies, d.findingsOpen, d.findingsOpened, d.latency, d.dropped} {
		ch <- x
	}
	if c.o.Sessions > 0 {
		for _, x := range []*prometheus.Desc{d.sessFrames, d.sessBytes, d.sessOpen, d.sessLeak, d.sessOldest, d.sessInfo} {
			ch <- x
		}
	}
}

// Label values, made once.
var (
	dirLabels = [2]string{live.ClientToServer.Code(), live.ServerToClient.Code()}
	cmdLabels = func() (l [decoder.NumCmds]string) {
		for i := range l {
			l[i] = decoder.Cmd(i).String()
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

// Collect takes a snapshot of the registry and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.reg.Now() // a capture read from a file has its own clock
	snap := c.reg.SnapshotWith(live.SnapshotOptions{
		Streams: noStreams, LeakAfter: c.o.LeakAfter, StallAfter: c.o.StallAfter, Now: now, Latency: true,
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
	gauge(d.streamsLeak, float64(snap.Leaks))
	gauge(d.streamsStalled, float64(snap.Stalls))
	gauge(d.oldestStream, age(now, snap.OldestOpen))

	counts := c.monotonic(&snap.Totals)
	unparsed := snap.Forgotten.Unparsed
	for _, ss := range snap.Sessions {
		unparsed[0] += ss.Unparsed[0]
		unparsed[1] += ss.Unparsed[1]
	}
	for dir, dl := range dirLabels {
		for cmd, cl := range cmdLabels {
			counter(d.frames, counts.Frames[dir][cmd], cl, dl)
			counter(d.bytes, counts.Bytes[dir][cmd], cl, dl)
		}
		counter(d.unparsed, uint64(unparsed[dir]), dl)
	}

	for code := decoder.Code(1); code < decoder.NumCodes; code++ {
		counter(d.violations, snap.ViolationsBy[code], code.String())
	}
	for a := live.Anomaly(1); a < live.NumAnomalies; a++ {
		counter(d.anomalies, snap.AnomaliesBy[a], a.String())
	}
	var open [live.NumFindingCodes]int
	for _, f := range snap.Findings {
		if int(f.Code) < live.NumFindingCodes {
			open[f.Code]++
		}
	}
	for code := live.FindingCode(1); code < live.NumFindingCodes; code++ {
		sev := code.Severity().String()
		gauge(d.findingsOpen, float64(open[code]), code.String(), sev)
		counter(d.findingsOpened, snap.FindingsOpenedBy[code], code.String(), sev)
	}

	h := &snap.LatencyHistogram
	buckets := make(map[float64]uint64, len(latencyBounds))
	for i, b := range latencyBounds {
		buckets[b] = h.Below[i]
	}
	ch <- prometheus.MustNewConstHistogram(d.latency, h.Count, h.Sum.Seconds(), buckets)
	counter(d.dropped, snap.History.Dropped)

	if c.o.Sessions > 0 {
		c.collectSessions(ch, snap, now)
	}
}

// collectSessions sends the per-session series of the oldest live
// sessions, at most Options.Sessions of them.
func (c *Collector) collectSessions(ch chan<- prometheus.Metric, snap *live.Snapshot, now time.Time) {
	d := &c.d
	n := 0
	for _, ss := range snap.Sessions {
		if n == c.o.Sessions {
			break
		}
		if ss.Ended {
			continue
		}
		n++
		id := strconv.FormatUint(ss.ID, 10)
		for dir, dl := range dirLabels {
			ch <- prometheus.MustNewConstMetric(d.sessFrames, prometheus.CounterValue, float64(ss.Counts.FramesDir(live.Dir(dir))), id, dl)
			ch <- prometheus.MustNewConstMetric(d.sessBytes, prometheus.CounterValue, float64(ss.Counts.BytesDir(live.Dir(dir))), id, dl)
		}
		ch <- prometheus.MustNewConstMetric(d.sessOpen, prometheus.GaugeValue, float64(ss.Open), id)
		ch <- prometheus.MustNewConstMetric(d.sessLeak, prometheus.GaugeValue, float64(ss.Leaks), id)
		ch <- prometheus.MustNewConstMetric(d.sessOldest, prometheus.GaugeValue, age(now, ss.OldestOpen), id)
		ch <- prometheus.MustNewConstMetric(d.sessInfo, prometheus.GaugeValue, 1, id, ss.Info.Client, ss.Info.Server, ss.Info.Label)
	}
}

// monotonic returns counts, each no lower than it was at the previous
// scrape. A tapped end's write that fails takes back the frames it
// recorded (live.Session.Retract), and a Prometheus counter that goes
// down reads as a restart: the exported count holds still instead until
// the true one passes it again.
func (c *Collector) monotonic(counts *live.Counts) *live.Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range 2 {
		for i := range decoder.NumCmds {
			c.hw.Frames[d][i] = max(c.hw.Frames[d][i], counts.Frames[d][i])
			c.hw.Bytes[d][i] = max(c.hw.Bytes[d][i], counts.Bytes[d][i])
		}
	}
	out := c.hw
	return &out
}

// age returns the seconds from since to now, 0 for a zero since.
func age(now, since time.Time) float64 {
	if since.IsZero() {
		return 0
	}
	return max(now.Sub(since).Seconds(), 0)
}
