//go:build !unix

package connection

import "io"

// rawReader is not available here: sockReader reads the blocking way.
type rawReader struct{ reader *sockReader }

func newRawReader(io.Reader) *rawReader { return nil }

func (rr *rawReader) read() (int, error) { panic("unreachable") }
