package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmux drives a private tmux server (its own socket, no user config).
type tmux struct {
	t      *testing.T
	socket string
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (x *tmux) capture() string { return x.run("capture-pane", "-p", "-t", "e2e") }

// keys sends tmux key names (Enter, Escape, q, ...); text with -l is typed literally.
func (x *tmux) keys(keys ...string) { x.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...) }

func (x *tmux) text(s string) { x.run("send-keys", "-t", "e2e", "-l", s) }

// waitFor polls the pane until ok says yes or the deadline passes.
func (x *tmux) waitFor(what string, ok func(screen string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var screen string
	for time.Now().Before(deadline) {
		if screen = x.capture(); ok(screen) {
			return screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	x.t.Fatalf("waited 20s for %s; the screen is:\n%s", what, screen)
	return ""
}

func (x *tmux) waitText(s string) string {
	x.t.Helper()
	return x.waitFor(fmt.Sprintf("%q", s), func(screen string) bool { return strings.Contains(screen, s) })
}

// startTmux builds muxtop (or takes MUXTOP_E2E_BIN) and starts a shell in
// a private 160×45 tmux pane; it skips under -short or without tmux.
func startTmux(t *testing.T) (x *tmux, bin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds muxtop and drives it in tmux; skipped under -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MUXTOP_REQUIRE_TMUX") != "" {
			t.Fatal("end-to-end test: tmux is not installed, and MUXTOP_REQUIRE_TMUX (set by .ci/run) says it must run")
		}
		t.Skip("end-to-end test: tmux is not installed; install it to drive the real binary")
	}
	bin = os.Getenv("MUXTOP_E2E_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "muxtop")
		gobin, err := exec.LookPath("go")
		if err != nil {
			t.Skip("end-to-end test: the go command is not on PATH to build muxtop")
		}
		if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/muxtop/muxtop").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}

	x = &tmux{t: t, socket: fmt.Sprintf("muxtop-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())}
	x.run("new-session", "-d", "-s", "e2e", "-x", "160", "-y", "45", "env", "-i",
		"PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(), "TERM=xterm-256color", "PS1=$ ", "sh")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	x.waitText("$")
	return x, bin
}

// TestEndToEnd runs `muxtop demo` in a 160×45 tmux pane and drives it like
// a user: sessions appear; enter drills into a session, a stream, a frame
// whose hex dump shows RAND; a cmd:fin filter; the help; q restores the
// terminal and prints the summary. MUXTOP_E2E_BIN runs a prebuilt binary.
func TestEndToEnd(t *testing.T) {
	x, bin := startTmux(t)
	x.text(bin + " demo")
	x.keys("Enter")

	// Sessions appear, with a live row. (Plain lines instead mean main's
	// runTUI does not call tui.Run.)
	x.waitFor("the UI with a live session", func(s string) bool {
		return strings.Contains(s, "Sessions ·") && regexp.MustCompile(`▶\s+1 \S*:\d+\*? ?→ ?\S*:\d+\*? .* live`).MatchString(s)
	})
	if got := strings.TrimSpace(x.run("display-message", "-p", "-t", "e2e", "#{alternate_on}")); got != "1" {
		t.Errorf("alternate screen while running: %q, want 1", got)
	}

	// enter: the session's streams; enter: a stream's frames, the cursor
	// on the first, its SYN; the next is the client's "RAND"; enter: its
	// bytes.
	x.keys("Enter")
	x.waitText("┏━ Streams of session 1")
	x.keys("Enter")
	x.waitText("┏━ Frames of stream")
	x.waitFor("the cursor on the stream's SYN", func(s string) bool {
		return regexp.MustCompile(`▶\d\d:\d\d:\d\d\.\d{6} → v\d SYN len 0`).MatchString(s)
	})
	x.keys("j")
	x.waitFor("the RAND frame selected", func(s string) bool {
		return regexp.MustCompile(`▶\d\d:\d\d:\d\d\.\d{6} → v\d PSH len 4 +52 41 4e 44 +RAND`).MatchString(s)
	})
	x.keys("Enter")
	screen := x.waitText("┏━ Frame detail")
	if !strings.Contains(screen, "|RAND|") || !strings.Contains(screen, "00000000  52 41 4e 44") {
		t.Fatalf("the detail hex dump does not show RAND:\n%s", screen)
	}

	// The filter.
	x.keys("/")
	x.text("cmd:fin")
	x.keys("Enter")
	screen = x.waitText("filter cmd:fin ·")
	for _, l := range strings.Split(screen, "\n") {
		if regexp.MustCompile(`^┃[ ▶]\d\d:\d\d:\d\d\.\d{6} [→←] v\d`).MatchString(l) && !strings.Contains(l, " FIN ") {
			t.Errorf("a frame that is not a FIN passes cmd:fin: %q", l)
		}
	}

	// The help, then back.
	x.keys("?")
	x.waitText("next match, any session")
	x.keys("?")
	x.waitFor("the help to close", func(s string) bool { return !strings.Contains(s, "next match, any session") })

	// q: the terminal is restored and the summary printed, the one plain
	// output ends with: leaks, stalls, violations by code, the load.
	x.keys("q")
	screen = x.waitText("summary")
	for _, want := range []string{"  leaks     0 suspected", "  stalls    0:", "  violations 0 framing", "  status    load "} {
		if !strings.Contains(x.waitText(strings.TrimSpace(want)), want) {
			t.Errorf("the summary on quitting lacks %q:\n%s", want, x.capture())
		}
	}
	if strings.Contains(screen, "Frame detail") || strings.Contains(screen, "┏━") {
		t.Errorf("the UI is still on the screen after q:\n%s", screen)
	}
	if got := strings.TrimSpace(x.run("display-message", "-p", "-t", "e2e", "#{alternate_on}")); got != "0" {
		t.Errorf("alternate screen after q: %q, want 0", got)
	}
	x.text("echo exit=$?")
	x.keys("Enter")
	x.waitText("exit=0")
}

// TestFindingsEndToEnd runs `muxtop demo --fault leak` with a short
// --leak-after in a 160×45 tmux pane, as a fresh user would: the header
// counts the finding and names the key; ! lists it with its advice; enter
// goes to the leaked stream, selected in the streams pane.
func TestFindingsEndToEnd(t *testing.T) {
	x, bin := startTmux(t)
	x.text(bin + " demo --fault leak --leak-after 1s --pool 2 --rate 20")
	x.keys("Enter")
	x.waitFor("the header to count the finding and name its key", func(s string) bool {
		first, _, _ := strings.Cut(s, "\n")
		return regexp.MustCompile(`\d+ warn(ing)?s?\b`).MatchString(first) && strings.Contains(first, "! lists")
	})
	x.keys("!")
	// The pane may be drawn before the finding's explanation is laid out
	// beneath it (a loaded machine draws a frame between): wait for all of
	// it, the cursor on a LEAK that names a session and a stream.
	leakRow := regexp.MustCompile(`▶warn LEAK +(\d+) +(\d+) ←`)
	screen := x.waitFor("the findings pane with the LEAK selected and explained", func(s string) bool {
		for _, want := range []string{"┏━ Findings ·", "LEAK", "the server never closes its streams", "→ call Close() on the server's stream"} {
			if !strings.Contains(s, want) {
				return false
			}
		}
		return leakRow.MatchString(s)
	})
	row := leakRow.FindStringSubmatch(screen)
	session, sid := row[1], row[2]
	x.keys("Enter")
	screen = x.waitText("┏━ Streams of session " + session + " ")
	if strings.Contains(screen, "Findings ·") {
		t.Errorf("the findings pane is still open after enter:\n%s", screen)
	}
	if !regexp.MustCompile(`▶ +` + sid + ` c +half-closed→`).MatchString(screen) {
		t.Errorf("the streams pane's cursor is not on stream %s, half-closed by the client:\n%s", sid, screen)
	}
	x.waitText("Frames of stream " + sid + " (session " + session + ")")
	x.keys("q")
	x.waitText("summary")
}

// TestEndToEndYamux runs `muxtop demo --protocol yamux` in a 160×45 tmux
// pane and drives it like TestEndToEnd: the session's protocol, a stream
// opened by WINDOW_UPDATE SYN, its RAND in DATA and the hex dump, the
// type:data filter, q and the summary with yamux's types.
func TestEndToEndYamux(t *testing.T) {
	x, bin := startTmux(t)
	x.text(bin + " demo --protocol yamux")
	x.keys("Enter")
	// At 160 columns the sessions pane gives up its proto column; the
	// header and the streams pane's title name the protocol.
	x.waitFor("the UI with a live yamux session", func(s string) bool {
		return strings.Contains(s, "Sessions ·") && regexp.MustCompile(`▶\s+1 \S*:\d+\*? ?→ ?\S*:\d+\*? .* live`).MatchString(s) &&
			regexp.MustCompile(`Streams of session 1 · \d+ open · yamux`).MatchString(s)
	})
	x.keys("Enter")
	x.waitText("┏━ Streams of session 1 ·")
	x.keys("Enter")
	x.waitText("┏━ Frames of stream")
	x.waitFor("the cursor on the stream's SYN", func(s string) bool {
		return regexp.MustCompile(`▶\d\d:\d\d:\d\d\.\d{6} → WINDOW_UPDATE SYN delta 0`).MatchString(s)
	})
	// The service's WINDOW_UPDATE ACK may come before or after the
	// client's RAND: move down until the RAND is selected, each move
	// waited for on the screen (a fixed 300 ms after each key read a
	// screen a loaded machine had not yet redrawn, and moved on past).
	randSelected := regexp.MustCompile(`▶\d\d:\d\d:\d\d\.\d{6} → DATA len 4 +52 41 4e 44 +RAND`)
	for range 2 {
		screen := x.capture()
		if randSelected.MatchString(screen) {
			break
		}
		from := frameCursor.FindString(screen)
		x.keys("j")
		x.waitFor("the cursor on another frame", func(s string) bool {
			at := frameCursor.FindString(s)
			return at != "" && at != from
		})
	}
	x.waitFor("the RAND frame selected", randSelected.MatchString)
	x.keys("Enter")
	screen := x.waitText("┏━ Frame detail")
	if !strings.Contains(screen, "|RAND|") || !strings.Contains(screen, "type DATA") {
		t.Fatalf("the detail does not show the DATA frame's RAND:\n%s", screen)
	}
	x.keys("/")
	x.text("type:data")
	x.keys("Enter")
	screen = x.waitText("filter type:data ·")
	for _, l := range strings.Split(screen, "\n") {
		if regexp.MustCompile(`^┃[ ▶]\d\d:\d\d:\d\d\.\d{6} [→←] `).MatchString(l) && !strings.Contains(l, " DATA ") {
			t.Errorf("a frame that is not DATA passes type:data: %q", l)
		}
	}
	x.keys("q")
	x.waitText("summary")
	for _, want := range []string{"WINDOW_UPDATE", "violations 0 framing, 0 anomalies"} {
		if !strings.Contains(x.waitText(want), want) {
			t.Errorf("the summary on quitting lacks %q:\n%s", want, x.capture())
		}
	}
	x.text("echo exit=$?")
	x.keys("Enter")
	x.waitText("exit=0")
}

// TestReadStdinEndToEnd pipes a capture into `muxtop read -` in a tmux
// pane, as from tcpdump -U -w - over ssh: standard input carries the
// capture, so the UI reads its keys from the terminal (Bubble Tea opens
// it when standard input is none). Enter moves into a session's streams
// and q ends with the summary.
func TestReadStdinEndToEnd(t *testing.T) {
	x, bin := startTmux(t)
	capture, err := filepath.Abs(filepath.Join("..", "capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	x.text("cat " + capture + " | " + bin + " read -")
	x.keys("Enter")
	x.waitFor("the UI with the capture read", func(s string) bool {
		return strings.Contains(s, "read standard input") && strings.Contains(s, "[read]") && strings.Contains(s, "┏━ Sessions ·")
	})
	x.keys("Enter")
	x.waitText("┏━ Streams of session")
	x.keys("q")
	x.waitText("summary")
}

// frameCursor is the frames pane's selected row, its time to the µs
// telling one frame from the next.
var frameCursor = regexp.MustCompile(`▶\d\d:\d\d:\d\d\.\d{6} [→←] [^┃│]*`)
