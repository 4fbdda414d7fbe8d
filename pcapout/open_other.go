//go:build !unix

package pcapout

import (
	"context"
	"os"
)

// openFile creates or truncates path to write it.
func openFile(ctx context.Context, path string, noReader func()) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
}
