package live_test

import (
	"io"
	"testing"
)

// closeOne opens a stream with open, accepts it with accept, and closes
// it both ways: work a session of a real smux or yamux pair did, so that
// the streams a test opens after are none of its setup streams
// (live.SetupWindow: opened in the session's first second, no stream
// closed before), which LEAK does not count however long they are held.
// A test of a leak whose streams a session opens first thing calls it
// before opening them: its leak is then a request's, after the session's
// setup, and no control stream's.
func closeOne[A, B io.Closer](t *testing.T, open func() (A, error), accept func() (B, error)) {
	t.Helper()
	a, err := open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
}
