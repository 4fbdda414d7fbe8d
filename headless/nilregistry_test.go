package headless

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// TestNilRegistryPanicsAtTheCall: NewPrinter, Finish and Run panic on a
// nil registry, naming the call, instead of a nil dereference later.
func TestNilRegistryPanicsAtTheCall(t *testing.T) {
	for name, call := range map[string]func(){
		"headless.NewPrinter": func() { NewPrinter(nil, io.Discard, Plain) },
		"headless.Finish":     func() { Finish(io.Discard, nil, Options{}) },
		"headless.Run":        func() { Run(context.Background(), nil, io.Discard, Options{}) },
	} {
		func() {
			defer func() {
				if r := recover(); fmt.Sprint(r) != name+": nil *live.Registry" {
					t.Errorf("%s(nil): recovered %v", name, r)
				}
			}()
			call()
		}()
	}
}
