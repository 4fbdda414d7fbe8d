package main

import (
	"strings"
	"testing"
)

// TestPrefixSkipMismatchWording: a one-byte --prefix beside another
// --skip is "1 byte", not "1 bytes".
func TestPrefixSkipMismatchWording(t *testing.T) {
	for _, c := range []struct{ prefix, want string }{
		{"04", "--prefix 04 is 1 byte, --skip 2"},
		{"0405", "--prefix 0405 is 2 bytes, --skip 1"},
	} {
		skip := 2
		if len(c.prefix) == 4 {
			skip = 1
		}
		_, err := parsePrefix("read", c.prefix, skip)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parsePrefix(%q, skip %d) = %v; want it to say %q", c.prefix, skip, err, c.want)
		}
	}
}
