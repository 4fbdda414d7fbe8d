package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/gopacket/gopacket"
	"github.com/spf13/cobra"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

func newReadCmd() *cobra.Command {
	var (
		watch watchFlags
		mux   muxFlags
		port  int
	)
	cmd := &cobra.Command{
		Use:   "read [--] FILE...|-|URL [FILTER]",
		Short: "Read the smux and yamux sessions out of a pcap or pcapng capture (tcpdump -w)",
		Long: "read decodes the smux and yamux sessions in a pcap or pcapng capture, gzip-compressed or not, with\n" +
			"the capture's times. TCP is reassembled (out-of-order segments, retransmissions, losses); a\n" +
			"connection the capture joined mid-stream is decoded from the first frame boundary found, and bytes\n" +
			"the capture lost are counted and the session marked INCOMPLETE; a muxtop --write file cut at its\n" +
			"--write-limit (its last packet's comment marks it) ends there, the sessions open then cut,\n" +
			"INCOMPLETE, not live. By default every TCP connection whose bytes look like smux or yamux is\n" +
			"decoded; --port or a filter (host ADDR and port N) picks connections to decode whatever they look\n" +
			"like. --protocol smux|yamux forces the protocol; --skip N skips N bytes the client sends before the\n" +
			"mux; --prefix HEX decodes only the connections whose client sends those bytes first (Consul: 04),\n" +
			"and skips the rest. The client is the end that sent the TCP SYN, else the end not on --port, else\n" +
			"the end that opens odd stream ids. The findings are evaluated in the capture's time, every 100 ms of\n" +
			"it: a capture is diagnosed the same however fast it is read. A receiver that stopped reading shows\n" +
			"as the zero TCP window it advertises: SESSION_BLOCKED after --blocked-after (one that reads very\n" +
			"slowly can keep it zero as long: the text says both).\n\n" +
			"Several FILEs are read as one capture, their packets merged by time as mergecap merges them: the\n" +
			"files of a tcpdump ring (-C/-W, -G), in any order, or captures that overlap in time. Each may be\n" +
			"pcap or pcapng, gzip-compressed or not, of any link type read reads. The files come first, the\n" +
			"filter after them, from its first word (host, port, tcp, and), or after a -- that follows them\n" +
			"(read a.pcap -- port 9000); a -- before the files ends the flags, for a file whose name begins\n" +
			"with - (read -- -a.pcap port 9000). An argument before the filter with a / or a . in it is a file,\n" +
			"and one that does not exist is an error. A file cut in the middle of a packet (still being written)\n" +
			"or damaged under way ends there, as mergecap goes on: the others are read to their end, and read\n" +
			"says which failed and after which packet, and exits 1; a file that is not a capture stops read\n" +
			"before it reads anything.\n\n" +
			"With FILE -, the capture is read from standard input as it is written, such as tcpdump's on another\n" +
			"machine over ssh (tcpdump -U -w -: without -U tcpdump holds packets back); the UI then reads its\n" +
			"keys from the terminal. A FILE that is a pipe, not a regular file (bash's <(ssh db1\n" +
			"tcpdump -U -w -), a FIFO), is read as - is, and alone: its open waits for a FIFO's writer, an\n" +
			"interrupt ending the wait. Its time is still the capture's: while no packet comes, its clock goes on\n" +
			"only by its producer's heartbeats (pcapout.Live sends them, so curl URL | muxtop read - has them),\n" +
			"so that streams an idle program holds open age and their findings open, while a stalled pipe stands\n" +
			"still; without them (tcpdump's pipe, a replayed capture) it stands at the last packet, a silence\n" +
			"measured when the next packet comes.\n\n" +
			"With an http:// or https:// URL, the capture is read from its answer as it comes, as from -: the\n" +
			"live capture a program that taps its own connections serves with pcapout.Live (its debug listener,\n" +
			"such as http://127.0.0.1:6060/debug/muxtop/capture), from the moment read connects. Connections open\n" +
			"before then are joined mid-way, as by a tcpdump begun while they were open. Its stream carries\n" +
			"heartbeats: its clock goes on while the program's taps pass nothing. A URL is read alone.",
		Example: "  tcpdump -i lo -w cap.pcap port 9000   # then:\n" +
			"  muxtop read cap.pcap\n" +
			"  muxtop read cap.pcapng.gz --port 9000 -o json > sessions.ndjson\n" +
			"  muxtop read cap.pcap host 10.0.0.5 and port 9000\n" +
			"  tcpdump -i eth0 -C 100 -W 10 -w ring.pcap port 9000   # then:\n" +
			"  muxtop read ring.pcap* port 9000                       # the whole ring, in time order\n" +
			"  ssh db1 tcpdump -i any -U -w - port 9000 | muxtop read -\n" +
			"  muxtop read http://127.0.0.1:6060/debug/muxtop/capture   # a program's own taps, live (pcapout.Live)\n" +
			"  muxtop read consul.pcap --port 8300 --prefix 04   # a Consul server's RPC port: its yamux",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError{fmt.Errorf("read takes a capture file, such as cap.pcap, - for standard input, or a URL that serves a live capture")}
			}
			files, _, err := readArgs(args, cmd.ArgsLenAtDash())
			if err != nil {
				return nil // RunE says what is wrong with them
			}
			return sameFileTwice(files)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := watch.validate(cmd.OutOrStdout()); err != nil {
				return err
			}
			proto, skip, err := mux.parse("read")
			if err != nil {
				return err
			}
			files, words, err := readArgs(args, cmd.ArgsLenAtDash())
			if err != nil {
				return err
			}
			expr, err := portExpr("read", port, cmd.Flags().Changed("port"), strings.Join(words, " "))
			if err != nil {
				return err
			}
			filter, err := pcap.ParseFilter(expr)
			if err != nil {
				return usageError{fmt.Errorf("read: %w", err)}
			}
			// pipe: standard input is a pipe made pollable, whose reads
			// can be interrupted (an interrupt, --duration, q in the UI);
			// a URL's answer comes down such a pipe too. stream: the
			// capture comes as it is written, from standard input or a URL;
			// from says from where.
			f, name, pipe := os.Stdin, "standard input", false
			stream, from := files[0] == "-" || isURL(files[0]), "on standard input"
			arg := files[0] // as read says it: a URL's password redacted
			if isURL(arg) {
				arg = shownURL(arg)
			}
			var more []*os.File // the captures after the first, merged with it
			var waitSay <-chan time.Time
			var fetched *urlCapture // the URL's answer, if read reads one
			start := time.Now()     // --duration counts the wait for the capture
			// waitCtx ends with an interrupt, and at start + --duration: a
			// URL's answer, a FIFO's writer and a pipe's first packet are
			// waited for within it, from start, not each afresh.
			waitCtx := cmd.Context()
			if watch.duration > 0 {
				var cancel context.CancelFunc
				waitCtx, cancel = context.WithDeadline(waitCtx, start.Add(watch.duration))
				defer cancel()
			}
			if isURL(files[0]) {
				fetched, err = openURL(waitCtx, files[0], cmd.ErrOrStderr())
				if err != nil {
					switch {
					case cmd.Context().Err() != nil:
						return nil // interrupted while connecting: nothing to show
					case waitCtx.Err() != nil:
						// As read - ends with no input: one line, exit 1.
						fmt.Fprintf(cmd.ErrOrStderr(), "muxtop: read: no capture from %s in %v: it never answered\n", shownURL(files[0]), watch.duration)
						return errSaid // no capture, no summary: a failure, as read - of nothing is
					}
					return err
				}
				defer fetched.Close()
				f, name, pipe, from = fetched.r, fetched.url, true, "from "+fetched.url
				t := time.NewTimer(waitNoticeAfter)
				defer t.Stop()
				waitSay = t.C
			} else if files[0] == "-" {
				if term.IsTerminal(f.Fd()) {
					return usageError{fmt.Errorf("read -: standard input is the terminal; pipe a capture into it, such as tcpdump -U -w - port 9000 | muxtop read -")}
				}
				if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
					// Said only if the capture does not come at once: cat
					// cap.pcap | muxtop read - has it there already.
					t := time.NewTimer(waitNoticeAfter)
					defer t.Stop()
					waitSay = t.C
					f = pollableStdin()
					pipe = f != os.Stdin
					defer syscall.SetNonblock(syscall.Stdin, false)
				}
			} else if streamPath(files[0]) {
				// A pipe given by its name (<(ssh db1 tcpdump -U -w -), a
				// FIFO) is read as - is: its capture comes as it is
				// written, an interrupt or --duration ends the wait for
				// it, from its open (a FIFO's waits for its writer) on.
				t := time.NewTimer(waitNoticeAfter)
				defer t.Stop()
				waitSay, from, stream = t.C, "from "+printable.Text(files[0]), true // a name a user gave is shown, not its raw control bytes
				g, err := openStream(waitCtx, files[0], waitSay, "muxtop: read: waiting for a capture "+from, cmd.ErrOrStderr())
				if err != nil {
					switch {
					case cmd.Context().Err() != nil:
						return nil // interrupted while opening: nothing to show
					case waitCtx.Err() != nil:
						fmt.Fprintf(cmd.ErrOrStderr(), "muxtop: read: no capture %s in %v\n", from, watch.duration)
						return errSaid // no capture, no summary: a failure, as read - of nothing is
					}
					return fmt.Errorf("read: %w", err)
				}
				defer g.Close()
				if isTerminal(g) {
					// /dev/stdin, /dev/tty at a shell: as read - refuses it.
					return usageError{fmt.Errorf("read %s: it is a terminal, not a capture; give a capture file, or pipe a capture into read -, such as tcpdump -U -w - port 9000 | muxtop read -", files[0])}
				}
				f, name = g, files[0]
				pipe = f.SetReadDeadline(time.Time{}) == nil
			} else {
				// Every file is opened before any is read: a name that is
				// wrong fails at once, alone.
				for i, path := range files {
					g, err := os.Open(path)
					if err != nil {
						return fmt.Errorf("read: %w", err)
					}
					defer g.Close()
					if i == 0 {
						f = g
						continue
					}
					more = append(more, g)
				}
				name = filesName(files)
			}
			var size int64
			for _, g := range append([]*os.File{f}, more...) {
				if st, err := g.Stat(); err == nil && st.Mode().IsRegular() {
					size += st.Size()
				}
			}
			cr := newCountingReader(f, time.Now)
			crs := []*countingReader{cr}
			opened := func() bool { return true }
			if pipe {
				// Open waits for the header and the first packet, which a
				// quiet pipe may not bring for a long time: an interrupt
				// (or SIGTERM, to muxtop alone) ends the wait, as later,
				// and so does --duration, which counts the wait: from
				// start, the wait for a FIFO's writer or a URL's answer
				// included, not afresh from the open (waitCtx).
				opened = context.AfterFunc(waitCtx, func() { f.SetReadDeadline(time.Now()) })
			}
			waiting := "muxtop: read: waiting for a capture " + from
			if fetched != nil {
				// It answered: the program serves its capture there, and
				// its taps have passed nothing since (or its header is
				// slow to come).
				waiting = "muxtop: read: waiting for the first packet from " + fetched.url + ": it answered, and nothing tapped has passed since"
			}
			file, err := openSaying(cr, waitSay, waiting, cmd.ErrOrStderr())
			if stopped := !opened(); stopped || cmd.Context().Err() != nil {
				if cmd.Context().Err() != nil {
					return nil // interrupted before the first packet: nothing to show
				}
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "muxtop: read: no capture %s in %v\n", from, watch.duration)
					return errSaid // no capture, no summary: a failure, as read - of nothing is
				}
				f.SetReadDeadline(time.Time{}) // the packet came as --duration ran out
			}
			if watch.duration > 0 && pipe {
				watch.duration = max(watch.duration-time.Since(start), time.Nanosecond)
			}
			if err != nil {
				if fetched != nil {
					return fetched.notCapture(err)
				}
				if len(more) > 0 {
					name = files[0]
				}
				return openError(name, err)
			}
			var src pcap.Source = file
			var beating func() bool // heartbeats have come: the clock goes on by them
			if len(more) == 0 {
				// The producer's heartbeats (pcapout.Live's, or a capture
				// saved from one) take the capture's clock on while no
				// packet comes, as they did live; a merge's files do not
				// speak for each other.
				file.Heartbeats()
			}
			if stream && size == 0 {
				// A pipe's capture time goes on while no packet comes only
				// by its producer's heartbeats: an idle program's leaked
				// streams age as they do in it, and a stalled pipe stands
				// still. Without them (tcpdump's) it stands still, but the
				// connections held undecided stop holding the others by the
				// wall clock, as sniff's do: else one that sent nothing (a
				// pool's fresh connection) held every session's records for
				// as long as the pipe was quiet.
				ss := pcap.Still(file, stillPeriod)
				src, beating = ss, ss.Beating
			}
			begin := file.Start()
			// failure is the error of a capture that failed under way.
			failure := func(err error) error {
				if errors.Is(err, pcap.ErrTruncated) && !stream {
					// As for one of several files: where it ends.
					n, last := file.Read()
					return errors.New(fileCut(arg, cutWhere(n, last)))
				}
				return readFailure(arg, name, err)
			}
			var merged *pcap.Merged
			if len(more) > 0 {
				opened := []*pcap.File{file}
				for i, g := range more {
					cr := newCountingReader(g, time.Now)
					crs = append(crs, cr)
					h, err := pcap.Open(cr)
					if err != nil {
						return openError(files[i+1], err)
					}
					opened = append(opened, h)
				}
				merged = pcap.Merge(opened...)
				src, begin = merged, merged.Start()
				failure = func(err error) error {
					if ff := (*pcap.FilesFailed)(nil); errors.As(err, &ff) {
						return errors.New(strings.Join(filesFailed(files, ff.Failures), "; "))
					}
					return readFailure(arg, name, err)
				}
			}
			// read is how many bytes of the captures were read.
			read := func() int64 {
				var n int64
				for _, cr := range crs {
					n += cr.n.Load()
				}
				return n
			}
			cfg := watch.captureConfig(begin)
			reg := cfg.Registry
			cfg.Filter, cfg.Protocol, cfg.Skip, cfg.Prefix = filter, proto, skip, mux.bytes
			if merged != nil {
				cfg.Names = files // a file's cut notice names it
			}
			var printed *atomic.Uint64
			if watch.output != "tui" {
				// Every record is printed: the reader waits for the printer
				// rather than let history lap it (the UI reads what it shows).
				printed = new(atomic.Uint64)
				printed.Store(1)
				cfg.Pace = paceTo(reg, printed)
			}
			rd := pcap.NewReader(cfg)
			var interrupt func()
			if pipe {
				// A pipe that stays open with no packet would hold Close
				// (q in the UI) until the next one: the deadline ends the read.
				interrupt = func() { f.SetReadDeadline(time.Now()) }
			}
			var failed func(error)
			if watch.output == "tui" {
				// The UI stays up once the capture is read: say at once
				// that it failed, not only after q.
				failed = func(err error) { reg.Notice(reg.Now(), failure(err).Error()) }
			}
			sys := newReadSystem(cmd.Context(), rd, src, watch.output == "tui", interrupt, failed)
			title := "read " + name
			if !filter.Empty() {
				title += " · " + filter.String()
			}
			// From a pipe, a capture's clock stands still while no packet
			// comes: the wall clock says how long (tcpdump over ssh whose
			// service went silent, or whose link stalled).
			var idle func() time.Duration
			if stream && size == 0 {
				idle = func() time.Duration {
					finished := sys.finished.Load() // set after stopped
					return cr.quiet(finished, sys.stopped.Load())
				}
				if watch.output != "tui" {
					t := time.NewTicker(time.Second)
					defer t.Stop()
					stopSaying := sayNoInput(t.C, "read "+arg, idle, beating, cr.n.Load, sys.finished.Load, cmd.ErrOrStderr())
					defer stopSaying()
				}
			}
			err = watch.watch(cmd.Context(), cmd, session{
				reg:       reg,
				sys:       sys,
				title:     title,
				idle:      idle,
				status:    func() live.Status { return readStatus(rd, sys, read(), size, idle) },
				done:      sys.finished.Load,
				printed:   printed,
				diagnoses: true,
			})
			if merged != nil && (err == nil || err == sys.err) {
				// Files that failed before the read was stopped are said
				// too: a line for each, the last the error's.
				if fs := merged.Failures(); len(fs) > 0 {
					lines := filesFailed(files, fs)
					for _, l := range lines[:len(lines)-1] {
						fmt.Fprintln(cmd.ErrOrStderr(), "muxtop:", printable.Text(l))
					}
					return errors.New(lines[len(lines)-1])
				}
			}
			if errors.Is(err, pcap.ErrTruncated) || err != nil && err == sys.err {
				return failure(err)
			}
			return err
		},
	}
	cmd.SetFlagErrorFunc(readFlagError)
	watch.register(cmd)
	mux.register(cmd)
	cmd.Flags().IntVar(&port, "port", 0, "decode the connections with an end on this port, whatever their bytes look like")
	return cmd
}

// readFlagError is read's error for a flag it does not take, err: a usage
// error, which says to put -- before the files where the flag is a file's
// name that begins with -.
func readFlagError(_ *cobra.Command, err error) error {
	msg := err.Error()
	name := ""
	if _, rest, ok := strings.Cut(msg, "unknown shorthand flag: "); ok {
		_, name, _ = strings.Cut(rest, " in ")
	} else if _, rest, ok := strings.Cut(msg, "unknown flag: "); ok {
		name = rest
	}
	if st, serr := os.Stat(name); name != "" && serr == nil && !st.IsDir() {
		return usageError{fmt.Errorf("%v; to read the file %s, put -- before the files: muxtop read -- %s", err, name, name)}
	}
	return usageError{err}
}

// readArgs splits read's arguments, args, into capture files and the
// words of a filter. The files come first, the filter after them: from
// its first keyword (host, port, tcp, and), or after a -- that follows
// files (dash, cobra's ArgsLenAtDash: the arguments before --, -1 if
// there is none). A -- before any file ends the flags only, so that a
// file's name may begin with -: the files after it end where the filter
// begins, as without it, at its first keyword or at another --. An
// argument before the filter that is no file but looks like a file's path
// (a / or a . in it, and not an IP address) is taken for a file, whose
// opening then fails in one clear line, not for a word of the filter that
// is not understood; the first is a file unless it is a keyword or an
// address. - (standard input) is read alone.
func readArgs(args []string, dash int) (files, words []string, err error) {
	n := dash
	if dash <= 0 {
		n = 0
		if len(args) > 0 && firstCaptureArg(args[0]) {
			for n = 1; n < len(args) && args[n] != "--" && captureArg(args[n]); n++ {
			}
		}
	}
	files, words = args[:n], args[n:]
	if dash == 0 && len(words) > 0 && words[0] == "--" {
		words = words[1:] // read -- a.pcap -- port 9000
	}
	if len(files) == 0 {
		return nil, nil, usageError{errors.New("read takes a capture file, such as cap.pcap, - for standard input, or a URL, before the filter")}
	}
	if len(files) > 1 && slices.Contains(files, "-") {
		return nil, nil, usageError{errors.New("read -: standard input is read alone; give capture files, or -, not both")}
	}
	if i := slices.IndexFunc(files, isURL); i >= 0 && len(files) > 1 {
		return nil, nil, usageError{fmt.Errorf("read %s: a URL's live capture is read alone; give capture files, or one URL, not both", shownURL(files[i]))}
	}
	if i := slices.IndexFunc(files, streamPath); i >= 0 && len(files) > 1 {
		// Merged by time, the files would wait for the pipe's next packet.
		return nil, nil, usageError{fmt.Errorf("read %s: a pipe is read alone, as - is; give capture files, or one pipe, not both", files[i])}
	}
	return files, words, nil
}

// firstCaptureArg reports whether read's first argument a names a capture
// file (any name that is no filter's keyword or address) rather than
// begins the filter.
func firstCaptureArg(a string) bool {
	if _, err := os.Stat(a); err == nil {
		return true
	}
	return !filterArg(a)
}

// captureArg reports whether read's argument a, after its first, names a
// capture file rather than begins the filter.
func captureArg(a string) bool {
	switch strings.ToLower(a) {
	case "host", "port", "tcp", "and", "&&":
		return false
	case "-":
		return true
	}
	if _, err := os.Stat(a); err == nil {
		return true
	}
	if _, err := netip.ParseAddr(a); err == nil {
		return false // an address: a filter's, its host left out
	}
	return strings.ContainsAny(a, "/.")
}

// filterArg reports whether a, no capture file, begins a filter: one of
// its keywords, or an address (a filter's, its host left out).
func filterArg(a string) bool {
	switch strings.ToLower(a) {
	case "host", "port", "tcp", "and", "&&":
		return true
	}
	_, err := netip.ParseAddr(a)
	return err == nil
}

// filesName names the capture files read: all of them, or the first and
// the last of a long list, with their number.
func filesName(files []string) string {
	if len(files) <= 3 {
		return strings.Join(files, " ")
	}
	return fmt.Sprintf("%s … %s (%d files)", files[0], files[len(files)-1], len(files))
}

// waitNoticeAfter is how long read - waits for standard input's capture
// (its header and first packet) before it says that it waits.
const waitNoticeAfter = time.Second

// openSaying opens the capture in r with pcap.Open. If Open is still
// waiting when wait fires, it says once on w, in the line waiting, that
// read waits for a capture ("muxtop: read: waiting for a capture on standard
// input"): said at once, it would show when the capture is already there
// (cat cap.pcap | muxtop read -). A nil wait never fires.
func openSaying(r io.Reader, wait <-chan time.Time, waiting string, w io.Writer) (*pcap.File, error) {
	opened := make(chan struct{})
	said := make(chan struct{})
	go func() { // ends when Open returns, having said it waits or not
		defer close(said)
		select {
		case <-wait:
			fmt.Fprintln(w, waiting)
		case <-opened:
		}
	}()
	f, err := pcap.Open(r)
	close(opened)
	<-said
	return f, err
}

// filesFailed says, a line for each, which of the capture files read as
// one, files, failed under way (fs), and where: each ended there, and the
// others were read to their end.
func filesFailed(files []string, fs []pcap.Failure) []string {
	lines := make([]string, 0, len(fs))
	for _, f := range fs {
		where := cutWhere(f.Packets, f.Last)
		name := files[f.File]
		var l string
		if errors.Is(f.Err, pcap.ErrTruncated) {
			l = fileCut(name, where)
		} else {
			l = fmt.Sprintf("read %s: %v, %s", name, f.Err, where)
		}
		switch {
		case len(fs) == len(files) && len(files) > 1:
			l += "; every file failed" // no other file was read whole
		case len(files) > 1:
			l += "; the other files were read without it"
		}
		lines = append(lines, l)
	}
	return lines
}

// cutWhere says where a capture file that failed under way ended: after
// its packets, the last at last.
func cutWhere(packets int, last time.Time) string {
	switch packets {
	case 0:
		return "before its first packet"
	case 1:
		return "after 1 packet, at " + last.Format(live.TimeLayout)
	}
	return fmt.Sprintf("after %d packets, the last at %s", packets, last.Format(live.TimeLayout))
}

// openError is read's error of a capture name that could not be opened,
// err: one line, without the capture package's prefix where that said the
// name again (a directory), and standard input or a pipe that ended
// before its header said to be one.
func openError(name string, err error) error {
	switch {
	case errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("read %s: is a directory, not a capture file", name)
	case (name == "standard input" || streamPath(name)) && errors.Is(err, pcap.ErrTooShort):
		// A pipe, by its name too (<(ssh db1 tcpdump -U -w -)): its
		// writer ended, or failed, before it wrote a capture.
		return fmt.Errorf("read %s: it ended before a capture's header: it is empty or too short to be a capture (did its writer, such as tcpdump or ssh, fail?)", name)
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// fileCut says that the capture file name ends in the middle of a packet,
// after where ("" where that is not told).
func fileCut(name, where string) string {
	if where != "" {
		where = " " + where
	}
	return "read " + name + ": the file ends in the middle of a packet" + where + " (was it still being written?)"
}

// readFailure is the error of a capture that failed once under way, arg
// being read's argument and name what it reads: a damaged record or a link
// type not decoded, named as Open's failures are, or a capture cut short.
func readFailure(arg, name string, err error) error {
	if errors.Is(err, pcap.ErrTruncated) {
		if arg == "-" {
			// Not a file still being written: the pipe's writer ended.
			return errors.New("read -: standard input ended in the middle of a packet: its writer stopped (did tcpdump or ssh end?)")
		}
		if isURL(arg) {
			return fmt.Errorf("read %s: the capture ended in the middle of a packet: its server stopped sending it (did the program exit?)", arg)
		}
		if streamPath(arg) {
			return fmt.Errorf("read %s: the pipe ended in the middle of a packet: its writer stopped (did tcpdump or ssh end?)", arg)
		}
		return errors.New(fileCut(arg, ""))
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// paceTo returns a pace that waits while more than half of reg's history
// ring waits to be printed, printed being where the printer is.
func paceTo(reg *live.Registry, printed *atomic.Uint64) func(context.Context) {
	half := uint64(max(reg.Config().History/2, 1))
	return func(ctx context.Context) {
		for reg.History().Next-printed.Load() > half && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
}

// noInputAfter is how long a pipe's read waits for bytes before read
// says that no input comes, and that its rates are the last packet's.
const noInputAfter = 3 * time.Second

// stillPeriod is how long read - waits for its pipe's next packet before
// the held connections are measured by the wall clock (pcap.Still):
// sniff's poll period.
const stillPeriod = 100 * time.Millisecond

// countingReader counts the bytes read through it, read's progress, and
// notes since when, by its clock, a read of it has waited for bytes.
type countingReader struct {
	r       io.Reader
	n       atomic.Int64
	now     func() time.Time
	waiting atomic.Int64 // when the read waiting for bytes began, in Unix ns; 0: none waits
	cut     atomic.Int64 // how long the last read that got nothing had waited, in ns
}

func newCountingReader(r io.Reader, now func() time.Time) *countingReader {
	return &countingReader{r: r, now: now}
}

func (c *countingReader) Read(p []byte) (int, error) {
	start := c.now()
	c.waiting.Store(start.UnixNano())
	n, err := c.r.Read(p)
	if n == 0 && err != nil {
		c.cut.Store(int64(c.now().Sub(start)))
	}
	// The bytes count before the wait ends: whoever sees no read waiting
	// sees its bytes too (sayNoInput tells resumed from ended by them).
	c.n.Add(int64(n))
	c.waiting.Store(0)
	return n, err
}

// quiet says for how long a read has waited for bytes, in whole seconds,
// once that is noInputAfter or more, else 0. Once the read is over
// (finished), it is 0, unless the read was stopped (q, an interrupt,
// --duration) in such a wait: then how long that wait was, for the
// summary. A reader that does not read, the printer being behind, is not
// waiting for input.
func (c *countingReader) quiet(finished, stopped bool) time.Duration {
	var d time.Duration
	switch since := c.waiting.Load(); {
	case finished && stopped:
		d = time.Duration(c.cut.Load())
	case finished || since == 0:
		return 0
	default:
		d = c.now().Sub(time.Unix(0, since))
	}
	if d < noInputAfter {
		return 0
	}
	return d.Truncate(time.Second)
}

// sayNoInput says on w, at each tick, when input stops coming (idle, once
// it is not 0) and when it resumes, for plain and JSON output, whose
// records stop as the capture's clock does, what being the command ("read
// -", "read URL"): "read -: no input for 3s …", then "read -: input
// resumed after 14s or more of silence". The first says why the clock
// stands still: a capture without heartbeats stands at its latest packet;
// one whose producer sent heartbeats (beating, if not nil, says so) has
// had none either, its stream stalled or its program stopped. read, if
// not nil, counts the bytes read, and finished says whether the read is
// over: where it is, and no byte came after the notice, the pipe closed
// instead, "read -: input ended after 14s or more of silence". Where no
// read waits and no byte came but the read is not over yet (the read that
// waited has returned, its end not yet handled), it says nothing until a
// later tick tells which. stop ends it and waits; a notice said is then
// resolved even if the input resumed and ended within one tick: by the
// line saying so, or, for a read stopped while it waited (idle still not
// 0), by the summary's no_input.
func sayNoInput(ticks <-chan time.Time, what string, idle func() time.Duration, beating func() bool, read func() int64, finished func() bool, w io.Writer) (stop func()) {
	done, quit := make(chan struct{}), make(chan struct{})
	go func() { // owned by stop, which waits for it
		defer close(done)
		var last time.Duration // the latest idle said or seen, 0 while input comes
		var at int64           // the bytes read when the silence the notice said began
		for {
			stopping := false
			select {
			case <-quit:
				stopping = true
			case <-ticks:
			}
			// The count before idle: a byte that comes after idle looked
			// counts as input after the notice, not before it.
			var n int64
			if read != nil {
				n = read()
			}
			d := idle()
			switch {
			case d > 0 && last == 0 && !stopping:
				if beating != nil && beating() {
					fmt.Fprintf(w, "muxtop: %s: no input for %v, not even the producer's heartbeats: the capture's clock stands still until they or a packet come (a stalled stream, or a stopped program)\n", what, d)
				} else {
					fmt.Fprintf(w, "muxtop: %s: no input for %v: the capture's clock, packet time, stands still until the next packet\n", what, d)
				}
				at = n
			case d == 0 && last > 0:
				how := "resumed"
				if read != nil {
					// Over first: once it is, every byte read is counted.
					over := stopping || finished == nil || finished()
					if read() == at {
						if !over {
							continue // the read that waited returned: with bytes, or at the end?
						}
						how = "ended"
					}
				}
				fmt.Fprintf(w, "muxtop: %s: input %s after %v or more of silence\n", what, how, last)
			}
			if stopping {
				return
			}
			last = d
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

// readSystem reads a capture in the background. In the UI it stays up
// after the capture is read, so that the whole capture can be browsed;
// elsewhere Wait returns when the capture is read, which ends the run with
// its summary.
type readSystem struct {
	done     chan struct{} // closed when the capture is read
	stop     chan struct{} // closed by Close
	cancel   context.CancelFunc
	err      error
	stayUp   bool
	finished atomic.Bool
	// stopped is set, before finished, when the read was stopped (q, an
	// interrupt, --duration) before the capture's end.
	stopped atomic.Bool
	once    sync.Once
	// interrupt, if set, ends a read of the source that is waiting for
	// bytes (standard input's), so that Close need not wait for them.
	interrupt func()
}

// newReadSystem starts reading src with rd. failed, if not nil, is told
// of the capture's failure as soon as the read ends with one.
func newReadSystem(ctx context.Context, rd *pcap.Reader, src pcap.Source, stayUp bool, interrupt func(), failed func(error)) *readSystem {
	ctx, cancel := context.WithCancel(ctx)
	s := &readSystem{done: make(chan struct{}), stop: make(chan struct{}), cancel: cancel, stayUp: stayUp, interrupt: interrupt}
	go func() { // owned by readSystem: Close cancels it and Wait waits for it
		defer close(s.done)
		es := &endSeen{Source: src}
		s.err = rd.Run(ctx, es)
		if ctx.Err() != nil {
			s.err = nil // stopped, its read interrupted: not the capture's fault
			s.stopped.Store(!es.ended)
		}
		if s.err != nil && failed != nil {
			failed(s.err)
		}
		s.finished.Store(true)
	}()
	return s
}

// Wait waits until the capture is read (and, in the UI, until Close).
func (s *readSystem) Wait() error {
	<-s.done
	if s.stayUp {
		<-s.stop
	}
	return s.err
}

// Close stops reading and waits.
func (s *readSystem) Close() error {
	s.once.Do(func() {
		s.cancel()
		close(s.stop)
		if s.interrupt != nil {
			s.interrupt()
		}
	})
	<-s.done
	return s.err
}

// endSeen is a capture source that notes when it reached its end.
type endSeen struct {
	pcap.Source
	ended bool
}

func (e *endSeen) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := e.Source.ReadPacketData()
	if errors.Is(err, io.EOF) {
		e.ended = true
	}
	return data, ci, err
}

// pollableStdin returns standard input, a pipe, as a file whose reads a
// deadline can interrupt, or os.Stdin where it cannot be made one.
func pollableStdin() *os.File {
	if err := syscall.SetNonblock(syscall.Stdin, true); err != nil {
		return os.Stdin
	}
	return os.NewFile(uintptr(syscall.Stdin), "/dev/stdin")
}

// readStatus is read's progress and what it found.
// idle, if not nil, says how long no input has come (countingReader.quiet):
// from then on the status says so, "no input for 14s" (JSON: no_input, in
// seconds).
func readStatus(rd *pcap.Reader, s *readSystem, pos, size int64, idle func() time.Duration) live.Status {
	st := rd.Stats()
	progress := "reading"
	if s.finished.Load() {
		progress = "done"
		switch {
		case s.err != nil: // written before finished
			progress = "failed"
		case s.stopped.Load():
			progress = "stopped early" // not all of the capture was read
		}
	} else if size > 0 {
		progress = fmt.Sprintf("%d%%", min(100, pos*100/size))
	}
	status := readStatusOf(st, progress)
	if idle != nil {
		if d := idle(); d > 0 {
			status = append(status, live.StatusField{Key: "no_input", Label: "no input for", Value: d})
		}
	}
	return status
}

// readStatusOf is read's status: how far it has read (progress) and the
// capture's figures, st.
func readStatusOf(st pcap.Stats, progress string) live.Status {
	s := cutStatus(live.Status{
		{Key: "read", Label: "read", Value: progress},
		{Key: "packets", Label: "packets", Value: st.Packets},
		{Key: "connections", Label: "tcp conns", Value: st.Connections},
		{Key: "decoded", Label: "mux", Value: st.Decoded},
		{Key: "skipped", Label: "skipped", Value: st.Skipped},
	}, st)
	if !st.LimitCut.IsZero() {
		// The file says its writer stopped at its --write-limit there:
		// the capture's end is that cut, not the connections' quiet.
		s = append(s, live.StatusField{Key: "limit_cut", Label: "cut by its writer's --write-limit at", Value: st.LimitCut})
	}
	return s
}

// sniffStatus is sniff's status: the capture's figures, st, and the
// packets the kernel dropped.
func sniffStatus(st pcap.Stats, dropped uint64) live.Status {
	return cutStatus(live.Status{
		{Key: "packets", Label: "packets", Value: st.Packets},
		{Key: "kernel_dropped", Label: "kernel dropped", Value: dropped},
		{Key: "connections", Label: "tcp conns", Value: st.Connections},
		{Key: "decoded", Label: "mux", Value: st.Decoded},
		{Key: "skipped", Label: "skipped", Value: st.Skipped},
	}, st)
}

// cutStatus adds to a capture's status the packets its snapshot length
// cut, when there are any.
func cutStatus(s live.Status, st pcap.Stats) live.Status {
	if st.Cut > 0 {
		s = append(s, live.StatusField{Key: "cut", Label: "cut by snaplen", Value: st.Cut})
	}
	return s
}
