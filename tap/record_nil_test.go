package tap_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestRecordTypedNil: a nil recorder of a pointer type — a *pcapout.Live
// left nil where the program's capture is off — records nothing, as a
// nil Recorder does. Before, the first bytes panicked in pcapout.
func TestRecordTypedNil(t *testing.T) {
	cc, sc := smuxtest.Conns(t)
	var capture *pcapout.Live
	c := tap.Wrap(cc, live.Client, live.New(live.Config{}), "c", tap.Record(capture))
	go io.Copy(io.Discard, sc)
	nop := decoder.MakeHeader(1, decoder.NOP, 0, 0)
	if _, err := c.Write(nop[:]); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Millisecond))
	c.Read(make([]byte, 1))
	c.Close()
}
