package tui

import (
	"context"
	"fmt"
	"testing"
)

// TestNilRegistryPanicsAtTheCall: New and Run panic on a nil registry,
// naming the call, instead of a nil dereference later in a snapshot.
func TestNilRegistryPanicsAtTheCall(t *testing.T) {
	for name, call := range map[string]func(){
		"tui.New": func() { New(nil, Options{}) },
		"tui.Run": func() { Run(context.Background(), nil, Options{}) },
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
