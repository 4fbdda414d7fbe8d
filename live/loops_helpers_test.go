package live_test

import (
	"context"
	"sync"
	"testing"
)

// serveEach is a pattern's server accept loop: it accepts streams of b
// until Accept fails (the session closed) and runs handle on each in a
// goroutine of its own. It returns when Accept fails; a pattern that
// serves in the background calls it with go.
func serveEach(b muxEnd, handle func(st muxStream)) {
	for {
		st, err := b.Accept()
		if err != nil {
			return
		}
		go handle(st)
	}
}

// openEach is a pattern's clients: n goroutines, each opening a stream
// of a and handing it to use, again and again until ctx is done. A
// client stops when Open fails, telling t (t.Error) unless t is nil.
// openEach returns when every client has stopped.
func openEach(ctx context.Context, a muxEnd, n int, t *testing.T, use func(st muxStream)) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				st, err := a.Open()
				if err != nil {
					if t != nil {
						t.Error(err)
					}
					return
				}
				use(st)
			}
		})
	}
	wg.Wait()
}
