//go:build !unix

package connection

import (
	"io"
	"net"
)

// rawReader is not available here: sockReader reads the blocking way.
type rawReader struct {
	nc     net.Conn
	reader *sockReader
}

func newRawReader(io.Reader) *rawReader { return nil }

func (rr *rawReader) read() (int, error) { panic("unreachable") }
