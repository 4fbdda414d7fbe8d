package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/sniff"
)

func newSniffCmd() *cobra.Command {
	var (
		watch  watchFlags
		write  writeFlags
		mux    muxFlags
		iface  string
		port   int
		buffer int
	)
	cmd := &cobra.Command{
		Use:   "sniff [FILTER]",
		Short: "Watch the smux and yamux sessions on a network interface, live, without touching them",
		Long: "sniff captures the packets of an interface (the loopback by default; -i any, every Ethernet\n" +
			"and loopback interface) with AF_PACKET, as tcpdump does, and decodes the smux and yamux sessions in\n" +
			"its TCP connections: no proxy, no change to clients or servers. Connections already open are\n" +
			"joined at the first frame boundary found in each direction, and shown once both directions\n" +
			"show one and a stream opens (odd stream ids are the client's), or after 2 s of capture.\n" +
			"It needs root or CAP_NET_RAW (sudo setcap cap_net_raw+ep $(which muxtop)). By default every\n" +
			"connection whose bytes look like smux or yamux is decoded; --port or a filter picks connections,\n" +
			"and the kernel drops the other packets, as tcpdump's filter does.\n" +
			"--protocol smux|yamux forces the protocol; --skip N skips N bytes the client sends first;\n" +
			"--prefix HEX decodes only the connections whose client sends those bytes first (Consul: 04).\n" +
			"A receiver that stopped reading shows as the zero TCP window it advertises: SESSION_BLOCKED\n" +
			"after --blocked-after (one that reads very slowly can keep it zero as long: the text says both).\n" +
			"--buffer MiB sizes the kernel's ring, where packets wait for sniff to read them (default 32 MiB;\n" +
			"tcpdump's -B, which counts KiB: -B 400000 is --buffer 391): a burst larger than it is dropped,\n" +
			"and sniff says so (kernel dropped, in the status) with the --buffer that gives it more room.",
		Example: "  sudo muxtop sniff --port 9000\n" +
			"  sudo muxtop sniff -i eth0 host 10.0.0.5 and port 9000 --write cap.pcapng\n" +
			"  sudo muxtop sniff -i any --port 9000",
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := watch.validate(cmd.OutOrStdout()); err != nil {
				return err
			}
			if err := sniff.CheckBuffer(buffer); err != nil {
				return usageError{fmt.Errorf("sniff: %w", err)}
			}
			if cmd.Flags().Changed("interface") && strings.TrimSpace(iface) == "" {
				// Else the default, lo, as if -i had not been given.
				return usageError{fmt.Errorf("-i %q: give an interface, such as -i eth0 or -i %s (see ip link)", iface, sniff.Any)}
			}
			proto, skip, err := mux.parse("sniff")
			if err != nil {
				return err
			}
			expr, err := portExpr("sniff", port, cmd.Flags().Changed("port"), strings.Join(args, " "))
			if err != nil {
				return err
			}
			filter, err := pcap.ParseFilter(expr)
			if err != nil {
				return usageError{fmt.Errorf("sniff: %w", err)}
			}
			// In capture time, as read: packets come late at times (the
			// kernel hands them over in blocks, and a sniff that falls
			// behind on a loaded machine reads them seconds late), and judged
			// by the wall clock every session would look silent until they come.
			cfg := watch.captureConfig(time.Now())
			reg := cfg.Registry
			_, rec, err := write.open(cmd.Context(), reg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer func() {
				if cerr := write.close(cmd.Context(), cmd.ErrOrStderr()); err == nil {
					err = cerr
				}
			}()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			h, err := sniff.OpenBuffer(ctx, iface, filter, buffer)
			if err != nil {
				return err
			}
			if iface == "" {
				iface = sniff.DefaultInterface
			}
			cfg.Filter, cfg.Label, cfg.Recorder, cfg.Protocol, cfg.Skip, cfg.Prefix = filter, "sniff", rec, proto, skip, mux.bytes
			rd := pcap.NewReader(cfg)
			sys := newSniffSystem(ctx, cancel, rd, h)
			what := iface
			if !filter.Empty() {
				what += " · " + filter.String()
			}
			// A capture that sees nothing is most often on the wrong
			// interface (the service is on eth0, sniff on lo): say so once,
			// as a notice every front end shows.
			up, _ := sniff.UpInterfaces() // none to suggest if they cannot be listed
			t := time.NewTicker(time.Second)
			defer t.Stop()
			// TCP segments only: the socket filter passes frames that are not
			// IP whole (ARP, every few seconds on an Ethernet interface), for
			// the reader to judge, and those are none of the service's.
			packets := func() uint64 { st := rd.Stats(); return st.Packets - min(st.NotTCP, st.Packets) }
			noPackets := noPacketsText(iface, filter, up)
			var said atomic.Bool
			stopSaying := sayNoPackets(t.C, time.Now(), packets, noPackets,
				func(s string) { reg.Notice(reg.Now(), s); said.Store(true) })
			defer stopSaying()
			// Packets the kernel dropped, its ring full: say so once, with
			// the flag that gives it more room, as tcpdump users look for.
			dt := time.NewTicker(time.Second)
			defer dt.Stop()
			stopDropped := sayDropped(dt.C, h.Dropped, func(n uint64) string { return droppedText(n, h.Buffer()) },
				func(s string) { reg.Notice(reg.Now(), s) })
			defer stopDropped()
			// The UI's empty sessions pane says it too, while still no
			// packet came: "waiting for sessions…" would contradict it.
			waiting := func() string {
				if said.Load() && packets() == 0 {
					return noPackets
				}
				return ""
			}
			return watch.watch(cmd.Context(), cmd, session{
				reg:       reg,
				sys:       sys,
				title:     "sniff " + what,
				where:     "sniff: capturing on " + what,
				diagnoses: true,
				status:    func() live.Status { return sniffBufferStatus(rd.Stats(), h.Dropped(), h.Buffer()) },
				waiting:   waiting,
			})
		},
	}
	watch.register(cmd)
	write.register(cmd)
	mux.register(cmd)
	cmd.Flags().StringVarP(&iface, "interface", "i", "", "interface to capture on (Ethernet, loopback, or a tunnel's: tun, WireGuard, IPIP), or "+sniff.Any+" for every one (default "+sniff.DefaultInterface+")")
	cmd.Flags().IntVar(&port, "port", 0, "decode the connections with an end on this port, whatever their bytes look like")
	cmd.Flags().IntVar(&buffer, "buffer", sniff.DefaultBuffer, "size of the kernel's capture ring, in `MiB` (tcpdump's -B, which counts KiB: -B 400000 is --buffer 391): packets sniff has not read yet beyond it are dropped; the ring takes that much memory while sniff runs")
	return cmd
}

// sniffSystem captures in the background until Close.
type sniffSystem struct {
	cancel context.CancelFunc
	h      *sniff.Handle
	done   chan struct{}
	err    error
	once   sync.Once
}

func newSniffSystem(ctx context.Context, cancel context.CancelFunc, rd *pcap.Reader, h *sniff.Handle) *sniffSystem {
	s := &sniffSystem{cancel: cancel, h: h, done: make(chan struct{})}
	go func() { // owned by sniffSystem: Close cancels it and waits
		defer close(s.done)
		s.err = rd.Run(ctx, h)
	}()
	return s
}

// Wait waits until the capture stops: Close, or a failure.
func (s *sniffSystem) Wait() error {
	<-s.done
	return s.err
}

// Close stops capturing, decodes what reassembly holds, and waits.
func (s *sniffSystem) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.h.Close()
	})
	<-s.done
	return s.err
}

// noPacketsAfter is how long sniff captures no packet before it says
// where else the service may be.
const noPacketsAfter = 5 * time.Second

// sayNoPackets calls say once with text at the first tick noPacketsAfter
// or more after start (by the tick's time) at which packets() is still
// 0; once a packet came, it says nothing. stop ends it and waits.
func sayNoPackets(ticks <-chan time.Time, start time.Time, packets func() uint64, text string, say func(string)) (stop func()) {
	done, quit := make(chan struct{}), make(chan struct{})
	go func() { // owned by stop, which waits for it
		defer close(done)
		over := false // said, or a packet came: nothing more to say
		for {
			var now time.Time
			select {
			case <-quit:
				return
			case now = <-ticks:
			}
			switch {
			case over:
			case packets() > 0:
				over = true
			case now.Sub(start) >= noPacketsAfter:
				say(text)
				over = true
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
		})
	}
}

// noPacketsText is what sniff says when iface gave no packet that f
// picks for noPacketsAfter; up are the interfaces up here, by name, that
// it suggests in its place.
func noPacketsText(iface string, f pcap.Filter, up []string) string {
	where := iface
	if iface == sniff.Any {
		where = "any interface"
	}
	if !f.Empty() {
		where += " matching " + f.String()
	}
	s := fmt.Sprintf("sniff: no packets on %s in %v: ", where, noPacketsAfter)
	if iface == sniff.Any {
		if f.Empty() {
			return s + "is the service running, on this machine?"
		}
		return s + "is the service running, and does the filter pick its connections?"
	}
	var others []string
	for _, name := range up {
		if name != iface {
			others = append(others, "-i "+name)
		}
	}
	hint := "-i " + sniff.Any
	if len(others) > 0 {
		hint += ", or " + strings.Join(others[:min(len(others), 3)], ", ")
	}
	return s + "is the service on another interface? (" + hint + ")"
}

// sayDropped calls say once with text(n) at the first tick at which
// dropped() (the packets the kernel dropped) is n > 0. stop ends it and
// waits.
func sayDropped(ticks <-chan time.Time, dropped func() uint64, text func(uint64) string, say func(string)) (stop func()) {
	done, quit := make(chan struct{}), make(chan struct{})
	go func() { // owned by stop, which waits for it
		defer close(done)
		said := false
		for {
			select {
			case <-quit:
				return
			case <-ticks:
			}
			if said {
				continue // the ticks are still taken: a sender never waits
			}
			if n := dropped(); n > 0 {
				say(text(n))
				said = true
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
		})
	}
}

// moreBuffer returns the --buffer to suggest in place of a ring of mib
// MiB that overflowed: 4 times it, or twice, as far as sniff.CheckBuffer
// allows; 0 where neither is.
func moreBuffer(mib int) int {
	for _, m := range []int{4 * mib, 2 * mib} {
		if sniff.CheckBuffer(m) == nil {
			return m
		}
	}
	return 0
}

// droppedText is what sniff says once the kernel dropped n packets, its
// ring of mib MiB full: what it costs and the --buffer that helps.
func droppedText(n uint64, mib int) string {
	s := fmt.Sprintf("sniff: the kernel dropped %d packets, its %d MiB ring full before sniff read them: their bytes are lost, and their sessions (INCOMPLETE) count only what was seen; ", n, mib)
	if more := moreBuffer(mib); more > 0 {
		return s + fmt.Sprintf("a larger ring holds a longer burst: --buffer %d", more)
	}
	return s + "the ring is as large as --buffer allows here: capture fewer packets (--port, or a filter)"
}

// sniffBufferStatus is sniffStatus, whose kernel dropped figure, once the
// kernel dropped packets, says which --buffer helps (as its notice does).
func sniffBufferStatus(st pcap.Stats, dropped uint64, mib int) live.Status {
	s := sniffStatus(st, dropped)
	if dropped == 0 {
		return s
	}
	for i := range s {
		if s[i].Key == "kernel_dropped" {
			if more := moreBuffer(mib); more > 0 {
				s[i].Unit = fmt.Sprintf(" (%d MiB ring full: --buffer %d)", mib, more)
			} else {
				s[i].Unit = fmt.Sprintf(" (%d MiB ring full)", mib)
			}
		}
	}
	return s
}
