package main

import (
	"fmt"
	"os"
)

// sameFileTwice returns the usage error of two of files that are one
// file (read a.pcapng a.pcapng, or ./a.pcapng and a hard link of it:
// merged with itself, every packet would count twice, each stream opened
// twice, without a word), nil if none are; a file it cannot stat, - and a
// URL are left to read's opening. read's argument check calls it.
func sameFileTwice(files []string) error {
	seen := make([]os.FileInfo, len(files))
	for i, name := range files {
		if name == "-" || isURL(name) {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			continue
		}
		for j := range i {
			if seen[j] != nil && os.SameFile(seen[j], st) {
				what := fmt.Sprintf("%s is given twice", name)
				if files[j] != name {
					what = fmt.Sprintf("%s and %s are the same file", files[j], name)
				}
				return usageError{fmt.Errorf("read: %s: its packets would count twice; give it once", what)}
			}
		}
		seen[i] = st
	}
	return nil
}
