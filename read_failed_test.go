package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// damagedCapture returns a pcap whose second record header says a
// captured length no capture has: the reader fails there, under way.
func damagedCapture(t *testing.T) []byte {
	t.Helper()
	pc, err := os.ReadFile(filepath.Join("capture", "testdata", "goyamux-idle-reset.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	second := 24 + 16 + int(binary.LittleEndian.Uint32(pc[24+8:]))
	binary.LittleEndian.PutUint32(pc[second+8:], 1<<30)
	return pc
}

// A capture that fails under way is not "read done": the summary's status
// says it failed. Before, it said done, and only the error line after it
// told otherwise.
func TestReadFailedStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.pcap")
	if err := os.WriteFile(path, damagedCapture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"read", path, "-o", "json"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	status, _ := parseJSON(t, stdout.String()).summary["status"].(map[string]any)
	if status["read"] != "failed" {
		t.Errorf("the summary's status of a damaged capture: %v, want read failed", status)
	}
}

// In the UI, which stays up once the capture is read, the failure is said
// at once (a notice on its message line), not only after q; before, the
// UI showed "read done" over the frames read so far, and nothing else.
func TestReadFailedTellsAtOnce(t *testing.T) {
	f, err := pcap.Open(bytes.NewReader(damagedCapture(t)))
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	rd := pcap.NewReader(pcap.Config{Registry: reg})
	told := make(chan error, 1)
	sys := newReadSystem(context.Background(), rd, f, true, nil, func(err error) { told <- err })
	err = <-told
	if err == nil || !strings.Contains(err.Error(), "capture length exceeds") {
		t.Errorf("failed was told %v, want the damaged record's error", err)
	}
	sys.Close()
	if got := readStatus(rd, sys, 0, 0, nil)[0].Value; got != "failed" {
		t.Errorf("read's status once failed: %v, want failed", got)
	}
}
