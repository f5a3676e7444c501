//go:build unix

package connection

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawReader reads a socket through its syscall.RawConn: it lets the poller
// wait until the socket is readable, and only then takes a buffer (from
// the sockReader's pool) to read into. Owned by the reader goroutine.
type rawReader struct {
	nc     net.Conn
	rc     syscall.RawConn
	fn     func(fd uintptr) bool // readFD, bound once so reads do not allocate
	reader *sockReader
	n      int
	err    error
}

// newRawReader returns a rawReader for a TCP or Unix socket, or nil. Only
// for those exact types: a wrapper may offer the SyscallConn of the socket
// under it while its Read returns something else (grpc-go's TLS
// credentials return a tls.Conn that does, so SyscallConn would read
// ciphertext).
func newRawReader(rd io.Reader) *rawReader {
	var nc net.Conn
	var sc syscall.Conn
	switch c := rd.(type) {
	case *net.TCPConn:
		nc, sc = c, c
	case *net.UnixConn:
		nc, sc = c, c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	rr := &rawReader{nc: nc, rc: rc}
	rr.fn = rr.readFD
	return rr
}

// read reads once into the reader's buffer, which it takes from the pool
// when the socket has data; it holds the read deadline as net.Conn's Read
// does, and returns io.EOF when the peer has closed its side.
func (rr *rawReader) read() (int, error) {
	rr.n, rr.err = 0, nil
	if err := rr.rc.Read(rr.fn); err != nil {
		return 0, rr.opError(err)
	}
	if rr.err != nil {
		return 0, rr.opError(os.NewSyscallError("read", rr.err))
	}
	if rr.n == 0 {
		return 0, io.EOF
	}
	return rr.n, nil
}

// opError wraps err as net.Conn's Read would.
func (rr *rawReader) opError(err error) error {
	return &net.OpError{Op: "read", Net: rr.nc.LocalAddr().Network(), Source: rr.nc.LocalAddr(), Addr: rr.nc.RemoteAddr(), Err: err}
}

// readFD is called by the poller with the socket's descriptor; false asks
// it to wait until the socket is readable and call again.
func (rr *rawReader) readFD(fd uintptr) bool {
	r := rr.reader
	if r.buf == nil {
		r.buf = r.pool.Get().(*[]byte)
	}
	for {
		n, err := syscall.Read(int(fd), *r.buf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			// Nothing to read: do not hold a buffer while waiting.
			r.pool.Put(r.buf)
			r.buf = nil
			return false
		}
		rr.n, rr.err = max(n, 0), err
		return true
	}
}
