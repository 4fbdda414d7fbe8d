package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEGetsABinary: every example calls muxtop, so the README says
// how to get one, near the top, after its two opening commands.
func TestREADMEGetsABinary(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	opening := "```sh\n" +
		"go run . demo        # a random-number service, an HTTP gateway over a pool of smux sessions, and load — watched live\n" +
		"go test ./...        # the tests (CI runs .ci/run: gofmt, vet, these tests, -race and a fuzz smoke)\n" +
		"```\n"
	i := strings.Index(readme, opening)
	if i < 0 || strings.Index(readme, "```") != i {
		t.Fatalf("the README does not open with its two commands, unchanged:\n%s", readme[:min(len(readme), 800)])
	}
	commands := strings.Index(readme, "## Commands")
	for _, line := range []string{"go install github.com/muxtop/muxtop@latest", "go build -o muxtop ."} {
		j := strings.Index(readme, line)
		if j < i+len(opening) || commands < 0 || j > commands {
			t.Errorf("the README lacks %q after its opening commands and before ## Commands", line)
		}
	}
}
