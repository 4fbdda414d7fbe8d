package capture_test

import (
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// scripted is a live Source that returns its steps in turn: a packet, or,
// where a step has no data, a quiet moment (ErrIdle) at the step's time;
// then io.EOF.
type scripted struct{ steps []pkt }

func (s *scripted) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if len(s.steps) == 0 {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	p := s.steps[0]
	s.steps = s.steps[1:]
	if p.Data == nil {
		return nil, p.CI, capture.ErrIdle
	}
	return p.Data, p.CI, nil
}

func (s *scripted) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// TestLateAfterQuiet: a live source's packet that comes after a quiet
// moment it had passed (one a tap stamped before a heartbeat but queued
// after it, past pcapout.HeartbeatSlack) is read at that moment: capture time, the
// records' and the evaluations', never goes back. Before, its frames were
// recorded at their own, earlier time, after the evaluations the quiet
// moment made:
//
//	no frame recorded at the quiet moment +1.001806872s: the late packets' frames were not read then
func TestLateAfterQuiet(t *testing.T) {
	ps := readPackets(t, fixture("v1", "base"))
	half := len(ps) / 2
	t0 := ps[0].CI.Timestamp
	quiet := ps[half-1].CI.Timestamp.Add(time.Second)
	steps := append([]pkt(nil), ps[:half]...)
	steps = append(steps, pkt{CI: gopacket.CaptureInfo{Timestamp: quiet}})
	steps = append(steps, ps[half:]...) // stamped before quiet, come after it
	if !ps[len(ps)-1].CI.Timestamp.Before(quiet) {
		t.Fatalf("the fixture's second half lasts past the quiet moment")
	}
	reg := live.New(live.Config{})
	var evals []time.Time
	rd := capture.NewReader(capture.Config{Registry: reg, EvaluateEvery: 100 * time.Millisecond,
		Evaluate: func(now time.Time) { evals = append(evals, now) }})
	if err := rd.Run(t.Context(), &scripted{steps: steps}); err != nil {
		t.Fatal(err)
	}
	recs := records(reg)
	late := 0
	for i, r := range recs {
		if i > 0 && r.At.Before(recs[i-1].At) {
			t.Errorf("record %d at +%v after record %d at +%v: a record earlier than one before it", r.Seq, r.At.Sub(t0), recs[i-1].Seq, recs[i-1].At.Sub(t0))
		}
		if r.Kind == live.FrameRecord && r.At.Equal(quiet) {
			late++
		}
	}
	if late == 0 {
		t.Errorf("no frame recorded at the quiet moment +%v: the late packets' frames were not read then", quiet.Sub(t0))
	}
	for i := 1; i < len(evals); i++ {
		if evals[i].Before(evals[i-1]) {
			t.Errorf("evaluation at +%v after one at +%v", evals[i].Sub(t0), evals[i-1].Sub(t0))
		}
	}
	if len(evals) == 0 || evals[len(evals)-1].Before(quiet) {
		t.Errorf("the evaluations did not go on to the quiet moment +%v: %v", quiet.Sub(t0), evals)
	}
}
