package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpNotRagged: the commands' descriptions are filled paragraphs: no
// line within a sentence is shorter than three quarters of the widest
// line of its description where the next line's first word would have
// fitted after it. Before, read's said "look like. --protocol
// smux|yamux forces the" with "protocol;" on the next line. (cobra's own
// completion commands are not muxtop's words.)
func TestHelpNotRagged(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "completion" {
			return
		}
		lines := strings.Split(c.Long, "\n")
		width := 0
		for _, l := range lines {
			width = max(width, len([]rune(l)))
		}
		for i := 0; i+1 < len(lines); i++ {
			line, next := lines[i], lines[i+1]
			if line == "" || next == "" || strings.HasSuffix(line, ".") || strings.HasPrefix(next, " ") || strings.HasPrefix(next, "-") || strings.HasPrefix(next, "•") {
				continue // a paragraph's end, or a list's or an example's line
			}
			word, _, _ := strings.Cut(next, " ")
			if n := len([]rune(line)); n < width*3/4 && n+1+len([]rune(word)) <= width {
				t.Errorf("muxtop %s --help: a ragged line, %q would fit after it:\n%s\n%s", c.Name(), word, line, next)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
