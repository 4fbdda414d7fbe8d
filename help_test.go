package main

import (
	"context"
	"strings"
	"testing"
)

// TestHelpNamesBothMuxes: muxtop's own help says it watches yamux
// sessions as well as smux's, as every command does. Before, it said
// "muxtop shows what happens inside github.com/xtaci/smux sessions".
func TestHelpNamesBothMuxes(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	head, _, _ := strings.Cut(out, "Usage:")
	for _, want := range []string{"github.com/xtaci/smux", "github.com/hashicorp/yamux"} {
		if !strings.Contains(head, want) {
			t.Errorf("the help's description does not name %s:\n%s", want, head)
		}
	}
	if short := newRootCmd().Short; !strings.Contains(short, "yamux") {
		t.Errorf("muxtop's short description names smux alone: %q", short)
	}
}
