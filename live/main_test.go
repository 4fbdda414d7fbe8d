package live_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
)

// realParallel is how many of this package's parallel tests run at once
// unless go test's -parallel says otherwise. Its hundreds of real-session
// tests and subtests wait on real time (leak, stall, keepalive and
// answer thresholds), a fraction of a core each: at -parallel's default,
// GOMAXPROCS (2 on a 2-core machine), the package took 612 s, past the
// 10 minutes go test allows a package by default, so the README's
// go test ./... failed there on a loaded machine; at 8 it took 188 s.
const realParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", fmt.Sprint(max(realParallel, runtime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}
