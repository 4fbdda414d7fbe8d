package headless

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// The summary's accepting line counts its failures and stalls in words
// that fit the numbers: "1 time in 1 stall", not "1 times"; and its
// advice states the limit rather than reading as a command to run.
func TestWriteAcceptWords(t *testing.T) {
	for _, c := range []struct {
		a    live.AcceptStall
		want string
	}{
		{live.AcceptStall{Failed: 1, Stalls: 1, Stalled: 5 * time.Millisecond, Last: "too many open files", FDLimit: 1024}, "  accepting failed 1 time in 1 stall, "},
		{live.AcceptStall{Failed: 20, Stalls: 2, Stalled: 11 * time.Second, Last: "too many open files", FDLimit: 1024}, "  accepting failed 20 times in 2 stalls, "},
		{live.AcceptStall{Failed: 3, Held: 1, Stalls: 1, Stalled: time.Second, Last: "too many open files", FDLimit: 1024}, "  accepting failed 3 times in 1 stall, "},
	} {
		var b bytes.Buffer
		writeAccept(&b, c.a)
		got := b.String()
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("accepting line %q, want it to begin %q", got, c.want)
		}
		if held := "; 1 client accepted held while the dial of the upstream lacked a descriptor, dialed again until it went through"; strings.Contains(got, held) != (c.a.Held == 1) {
			t.Errorf("accepting line %q: says %q %v, want %v", got, held, !(c.a.Held == 1), c.a.Held == 1)
		}
		if want := "(the open-file limit is 1024 (ulimit -n); each proxied session takes 2 file descriptors"; !strings.Contains(got, want) {
			t.Errorf("accepting line %q does not say %q", got, want)
		}
	}
}
