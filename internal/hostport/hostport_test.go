package hostport

import "testing"

func TestLoopback(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{":9000", "127.0.0.1:9000"},
		{"9000", "127.0.0.1:9000"},
		{"10.0.0.5:9000", "10.0.0.5:9000"},
		{"0.0.0.0:9001", "0.0.0.0:9001"},
		{"localhost:80", "localhost:80"},
		{"[::1]:9000", "[::1]:9000"},
		{":0", "127.0.0.1:0"},
	} {
		got, err := Loopback(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Loopback(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "host", ":http", ":70000", "localhost"} {
		if _, err := Loopback(bad); err == nil {
			t.Errorf("Loopback(%q) succeeded, want an error", bad)
		}
	}
}
