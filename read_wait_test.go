package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestReadWaitSaid: read - says it waits for a capture on standard input
// only when the capture has not come when the wait fires (a channel the
// test fires, not a time), not at once as it did when the capture was
// there already (cat cap.pcap | muxtop read -).
func TestReadWaitSaid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	const said = "read: waiting for a capture on standard input\n"

	t.Run("there already", func(t *testing.T) {
		wait := make(chan time.Time, 1)
		var errOut syncBuffer
		if _, err := openSaying(bytes.NewReader(data), wait, "read: waiting for a capture on standard input", &errOut); err != nil {
			t.Fatal(err)
		}
		wait <- time.Now() // fires after the capture came: too late to say anything
		if errOut.String() != "" {
			t.Errorf("with the capture there at once, read said %q", errOut.String())
		}
	})

	t.Run("not yet", func(t *testing.T) {
		wait := make(chan time.Time, 1)
		wait <- time.Now()
		pr, pw := io.Pipe()
		var errOut syncBuffer
		opened := make(chan error, 1)
		go func() {
			_, err := openSaying(pr, wait, "read: waiting for a capture on standard input", &errOut)
			opened <- err
		}()
		smuxtest.Eventually(t, "read saying that it waits", func() bool { return errOut.String() == said })
		go pw.Write(data) // the capture comes after the wait
		if err := <-opened; err != nil {
			t.Fatal(err)
		}
		pw.Close()
		if errOut.String() != said {
			t.Errorf("read said %q, want %q once", errOut.String(), said)
		}
	})
}
