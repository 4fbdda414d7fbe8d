package main

import (
	"context"
	"os"
	"testing"
)

// TestOpenStreamNotPollable (Linux: epoll's refusal is what it needs)
// opens a character device the poller refuses
// (/dev/null: epoll takes no file without a poll method), as read of a
// path that is no regular file does: openStream gives it as it is,
// blocking. Before, its descriptor was duplicated in non-blocking mode,
// which the poller refused again: a file that was neither pollable nor
// blocking, whose read with no data would fail with EAGAIN.
func TestOpenStreamNotPollable(t *testing.T) {
	f, err := openStream(context.Background(), os.DevNull, nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if nonBlocking(t, f) {
		t.Errorf("openStream(%s): its descriptor is non-blocking, and the poller does not wait for it", os.DevNull)
	}
}
