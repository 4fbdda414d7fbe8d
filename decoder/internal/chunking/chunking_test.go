package chunking_test

import (
	"slices"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
)

func TestFromCuts(t *testing.T) {
	for _, tc := range []struct {
		cuts []byte
		want []int
	}{
		{nil, []int{1, 1, 1}},
		{[]byte{0, 2, 255}, []int{1, 5, 65026, 1, 5}},
	} {
		next := chunking.FromCuts(tc.cuts)
		var got []int
		for range tc.want {
			got = append(got, next())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("FromCuts(%v): %v, want %v", tc.cuts, got, tc.want)
		}
	}
}
