package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/live"
)

// TestClosedStreamsFlag: --closed-streams is the registry's budget of
// closed streams kept in detail, counted exactly: 0 keeps none.
func TestClosedStreamsFlag(t *testing.T) {
	for _, tc := range []struct {
		args string
		want int
	}{
		{"", live.DefaultStreamBudget},
		{"--closed-streams 0", 0},
		{"--closed-streams 5000", 5000},
	} {
		cmd := &cobra.Command{}
		var f watchFlags
		f.register(cmd)
		if err := cmd.Flags().Parse(strings.Fields(tc.args)); err != nil {
			t.Fatal(err)
		}
		if err := f.validate(io.Discard); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := f.registry().Config().StreamBudget; got != tc.want {
			t.Errorf("%q: the registry keeps %d closed streams, want %d", tc.args, got, tc.want)
		}
	}
}
