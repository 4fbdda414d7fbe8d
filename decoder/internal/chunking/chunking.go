// Package chunking cuts a fuzz target's input into the chunks its cut
// pattern says, for the decoders' fuzz tests, which check that any
// chunking yields what the whole input does.
package chunking

// FromCuts returns chunk sizes taken from cuts in turn, 1 + c² for a byte
// c (1 to 65 026, so that one pattern mixes single bytes with whole
// frames), or 1 each time when cuts is empty.
func FromCuts(cuts []byte) func() int {
	i := 0
	return func() int {
		if len(cuts) == 0 {
			return 1
		}
		c := int(cuts[i%len(cuts)])
		i++
		return 1 + c*c
	}
}
