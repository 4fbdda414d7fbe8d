package pcaptest

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// Open opens the capture r as muxtop read does: it returns the capture,
// and a reader with cfg into a new registry whose clock is the capture's
// time, from its first packet on. cfg's Registry and Clock are set here.
func Open(t testing.TB, r io.Reader, cfg capture.Config) (*capture.File, *capture.Reader, *live.Registry) {
	t.Helper()
	file, err := capture.Open(r)
	if err != nil {
		t.Fatal(err)
	}
	clock := new(capture.Clock)
	clock.Set(file.Start())
	reg := live.New(live.Config{Clock: clock.Now})
	cfg.Registry, cfg.Clock = reg, clock
	return file, capture.NewReader(cfg), reg
}

// OpenFile is Open of the capture file at path, closed when the test ends.
func OpenFile(t testing.TB, path string, cfg capture.Config) (*capture.File, *capture.Reader, *live.Registry) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return Open(t, f, cfg)
}

// ReadAll reads the whole capture r as muxtop read does, with cfg, into
// a new registry in the capture's time, and returns it and the reader's
// stats.
func ReadAll(t testing.TB, r io.Reader, cfg capture.Config) (*live.Registry, capture.Stats) {
	t.Helper()
	file, rd, reg := Open(t, r, cfg)
	if err := rd.Run(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	return reg, rd.Stats()
}

// ReadFile is ReadAll of the capture file at path.
func ReadFile(t testing.TB, path string, cfg capture.Config) (*live.Registry, capture.Stats) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadAll(t, f, cfg)
}
