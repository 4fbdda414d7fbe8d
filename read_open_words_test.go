package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	pcap "github.com/muxtop/muxtop/capture"
)

// TestReadOpenErrorWords: a directory given to read is one clear line;
// before, "read DIR: capture: read DIR: is a directory", the name twice
// under two prefixes. An empty standard input is named as what it is;
// before, "read standard input: capture: the file is empty or too short
// to be a capture", of a pipe.
func TestReadOpenErrorWords(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"read", dir, "-o", "plain"}, &stdout, &stderr); code == 0 {
		t.Fatalf("exit 0 reading a directory")
	}
	if want := "muxtop: read " + dir + ": is a directory, not a capture file\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	_, err := pcap.Open(bytes.NewReader(nil)) // what an empty standard input gives
	if err == nil {
		t.Fatal("an empty capture opened")
	}
	msg := openError("standard input", err).Error()
	if strings.Contains(msg, "file") || !strings.Contains(msg, "read standard input: it ended before a capture's header") {
		t.Errorf("empty standard input: %q, want it named so, not a file", msg)
	}
}
