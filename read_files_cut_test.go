package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
)

// readCode runs read with args and returns its exit status, its output
// and its error lines.
func readCode(t *testing.T, args ...string) (code int, stdout string, stderr []string) {
	t.Helper()
	var out, errs syncBuffer
	code = run(context.Background(), append([]string{"read"}, args...), &out, &errs)
	if s := strings.TrimSpace(errs.String()); s != "" {
		stderr = strings.Split(s, "\n")
	}
	return code, out.String(), stderr
}

// cutAt returns how many packets the capture at path holds before it
// fails, and the time of the last of them.
// readOK runs muxtop read with args in the test's process, fails t unless
// it exits 0, and returns what it printed.
func readOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := readCode(t, args...)
	if code != 0 {
		t.Fatalf("read %q: exit %d: %s", args, code, strings.Join(errs, "\n"))
	}
	return out
}

func cutAt(t *testing.T, path string) (int, time.Time) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := pcap.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for n := 0; ; n++ {
		_, ci, err := c.ReadPacketData()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is read to its end, after %d packets", path, n)
		}
		if err != nil {
			return n, last
		}
		last = ci.Timestamp
	}
}

// sessionsOf returns the summary's sessions line of read's plain output.
func sessionsOf(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  sessions  .*$`).FindString(out)
	if m == "" {
		t.Fatalf("no sessions line in:\n%s", out)
	}
	return m
}

// TestReadFilesOneCut: of several files, one cut in the middle of a packet
// (the real yamux traffic of base-yamux, 7 bytes cut off its end, as of a
// file still being written) ends there, alone: the other, whole file (the
// real smux v2 traffic of base-v2, moved to 2 s after the cut) is read to
// its end, whichever is given first, and read exits 1 naming the cut file and where it ends, its
// status "read failed". Before, the cut file stopped the whole merge, and
// the other's session was never read, without a word: `sessions  1 (0
// live, 1 ended)`. A file cut in its first packet is named so too, and
// so is a damaged record; read alone, a cut file is said as before.
func TestReadFilesOneCut(t *testing.T) {
	dir := t.TempDir()
	yb, err := os.ReadFile(filepath.Join("capture", "testdata", "base-yamux.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcapng")
	if err := os.WriteFile(cut, yb[:len(yb)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	early := filepath.Join(dir, "early.pcapng") // cut in its first packet
	if err := os.WriteFile(early, yb[:200], 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.pcap")
	if err := os.WriteFile(damaged, damagedCapture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	n, last := cutAt(t, cut)
	if n0, _ := cutAt(t, early); n0 != 0 {
		t.Fatalf("%s holds %d packets, want it cut in its first", early, n0)
	}
	// The whole file's packets come after the cut file's end (2 s later),
	// where the merge stopped before.
	f, err := os.Open(filepath.Join("capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	ps := pcaptest.Read(t, f)
	f.Close()
	shift := last.Add(2 * time.Second).Sub(ps[0].CI.Timestamp)
	for i := range ps {
		ps[i].CI.Timestamp = ps[i].CI.Timestamp.Add(shift)
	}
	whole := filepath.Join(dir, "whole.pcap")
	writeCaptureFile(t, whole, ps)

	// Alone, it says where it ends as one of several does (README): it
	// said only "the file ends in the middle of a packet (was it still
	// being written?)", where in it not.
	code, alone, errs := readCode(t, "-o", "plain", cut)
	wantAlone := fmt.Sprintf("muxtop: read %s: the file ends in the middle of a packet after %d packets, the last at %s (was it still being written?)",
		cut, n, last.Format(live.TimeLayout))
	if code != 1 || len(errs) != 1 || errs[0] != wantAlone {
		t.Fatalf("read of the cut file alone: exit %d, stderr %q, want %q", code, errs, wantAlone)
	}
	if !strings.Contains(alone, "sessions  1 (0 live, 1 ended)") || !strings.Contains(alone, "read failed") {
		t.Fatalf("read of the cut file alone:\n%s", alone)
	}
	wholeOut := readPlain(t, whole)
	frames := strings.Count(wholeOut, " v2 ")
	if frames == 0 {
		t.Fatalf("no smux v2 frame in:\n%s", wholeOut)
	}
	want := fmt.Sprintf("muxtop: read %s: the file ends in the middle of a packet after %d packets, the last at %s (was it still being written?); the other files were read without it",
		cut, n, last.Format(live.TimeLayout))
	for _, args := range [][]string{{cut, whole}, {whole, cut}} {
		code, out, errs := readCode(t, append([]string{"-o", "plain"}, args...)...)
		if code != 1 || len(errs) != 1 || errs[0] != want {
			t.Errorf("read %q: exit %d, stderr %q; want 1 and %q", args, code, errs, want)
		}
		if got := sessionsOf(t, out); got != "  sessions  2 (0 live, 2 ended)" {
			t.Errorf("read %q: %q, want both files' sessions", args, got)
		}
		if got := strings.Count(out, " v2 "); got != frames {
			t.Errorf("read %q: %d smux v2 frames, want the whole file's %d", args, got, frames)
		}
		if !strings.Contains(out, "  status    read failed") {
			t.Errorf("read %q: the status does not say the read failed", args)
		}
	}

	code, out, errs := readCode(t, "-o", "json", whole, cut)
	if status, _ := parseJSON(t, out).summary["status"].(map[string]any); code != 1 || status["read"] != "failed" {
		t.Errorf("read -o json: exit %d, status %v, stderr %q; want 1 and read failed", code, status, errs)
	}

	// Each file that fails is a line of its own, in the order given.
	code, out, errs = readCode(t, "-o", "plain", damaged, early, whole)
	if code != 1 || len(errs) != 2 ||
		!strings.HasPrefix(errs[0], "muxtop: read "+damaged+": capture:") || !strings.Contains(errs[0], "capture length exceeds") || !strings.Contains(errs[0], ", after 1 packet, at ") ||
		errs[1] != "muxtop: read "+early+": the file ends in the middle of a packet before its first packet (was it still being written?); the other files were read without it" {
		t.Errorf("read of a damaged, a cut and a whole file: exit %d, stderr %q", code, errs)
	}
	if got := strings.Count(out, " v2 "); got != frames {
		t.Errorf("read of a damaged, a cut and a whole file: %d smux v2 frames, want the whole file's %d", got, frames)
	}

	// No file read whole: no line says the others were (a review found
	// "the other files were read without it" on each of two failures).
	code, _, errs = readCode(t, "-o", "plain", cut, early)
	if code != 1 || len(errs) != 2 || !strings.HasSuffix(errs[0], "; every file failed") || !strings.HasSuffix(errs[1], "; every file failed") {
		t.Errorf("read of two cut files: exit %d, stderr %q; want 1, each line ending \"; every file failed\"", code, errs)
	}
}
