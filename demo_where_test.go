package main

import (
	"context"
	"strings"
	"testing"
)

// TestDemoClientSaysDialling: demo client's line on stderr says what it
// knows as it starts, that it dials the service, and claims no
// connection: with nothing listening at --connect, it has none.
func TestDemoClientSaysDialling(t *testing.T) {
	dead := freePort(t)
	var stdout, stderr syncBuffer
	args := []string{"demo", "client", "--connect", dead, "--http", "127.0.0.1:0", "--rate", "0", "-o", "plain", "--duration", "1ms"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var line string
	for l := range strings.Lines(stderr.String()) {
		if strings.Contains(l, "demo gateway at") {
			line = l
		}
	}
	if want := "dialling the service at " + dead; !strings.Contains(line, want) || strings.Contains(line, "connected") {
		t.Errorf("stderr's line %q; want it to say %q and claim no connection (stderr: %q)", line, want, stderr.String())
	}
}
