package connection

import (
	"io"
	"sync"
)

// Socket buffers. A connection holds a write buffer only while something
// waits to be written and a read buffer only while received bytes wait to
// be parsed: both come from a pool and go back to it once empty, so an
// idle connection holds neither, and they can be larger than a buffer
// every connection kept for its lifetime could afford to be.

// bufPools holds a pool per buffer size (Config.WriteBufferSize and
// ReadBufferSize; in practice the defaults).
var bufPools sync.Map // int -> *sync.Pool of *[]byte

func bufPool(size int) *sync.Pool {
	if p, ok := bufPools.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := bufPools.LoadOrStore(size, &sync.Pool{New: func() any {
		b := make([]byte, size)
		return &b
	}})
	return p.(*sync.Pool)
}

// sockWriter buffers what is written to the socket, as bufio.Writer does,
// with a pooled buffer it takes on the first Write and gives back on Flush.
// Owned by the holder of Conn.wmu.
type sockWriter struct {
	w    io.Writer
	pool *sync.Pool
	size int
	buf  *[]byte // nil while empty
	n    int     // bytes buffered in *buf
}

func (w *sockWriter) init(wr io.Writer, size int) {
	w.w, w.size, w.pool = wr, size, bufPool(size)
}

// Buffered returns the number of bytes waiting for Flush.
func (w *sockWriter) Buffered() int { return w.n }

// Write buffers p, writing the buffer out each time it fills. A write at
// least as large as the buffer, with nothing buffered, goes straight to
// the socket without a copy.
func (w *sockWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			if len(p) >= w.size {
				n, err := w.w.Write(p)
				return total - len(p) + n, err
			}
			w.buf = w.pool.Get().(*[]byte)
		}
		k := copy((*w.buf)[w.n:], p)
		w.n += k
		p = p[k:]
		if w.n == len(*w.buf) {
			if err := w.Flush(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// Flush writes what is buffered and gives the buffer back to the pool.
func (w *sockWriter) Flush() error {
	if w.buf == nil {
		return nil
	}
	_, err := w.w.Write((*w.buf)[:w.n])
	w.n = 0
	w.pool.Put(w.buf)
	w.buf = nil
	return err
}

// sockReader buffers what is read from the socket for the Framer, as
// bufio.Reader does. Where the socket lets us wait for it to be readable
// without reading (rawReader, on TCP and Unix sockets), the buffer is taken
// from the pool only once data is there and given back as soon as it has
// all been parsed: a connection waiting for its peer holds none. Elsewhere
// (TLS, net.Pipe) the blocking read needs a buffer, which is kept.
// Owned by the reader goroutine.
type sockReader struct {
	r    io.Reader
	raw  *rawReader // nil: read r the blocking way
	pool *sync.Pool
	size int
	buf  *[]byte // nil while empty (with raw)
	rpos int     // next unread byte of *buf
	wpos int     // end of the bytes read into *buf
	// eof says a read from the socket failed or ended (io.EOF or any
	// other error): the Framer reports a frame cut short by the end of the
	// connection and a frame too short for the fields its flags announce
	// with the same io.ErrUnexpectedEOF.
	eof bool
}

func (r *sockReader) init(rd io.Reader, size int) {
	r.r, r.size, r.pool = rd, size, bufPool(size)
	r.raw = newRawReader(rd)
}

func (r *sockReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.rpos == r.wpos {
		if len(p) >= r.size {
			// As large as a buffer: read straight into p.
			n, err := r.fill(p)
			return n, err
		}
		if r.buf == nil {
			if r.raw == nil {
				r.buf = r.pool.Get().(*[]byte)
			}
		}
		n, err := r.fillBuf()
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, (*r.buf)[r.rpos:r.wpos])
	r.rpos += n
	if r.rpos == r.wpos && r.raw != nil {
		r.release()
	}
	return n, nil
}

// fill reads from the socket into p.
func (r *sockReader) fill(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.eof = true
	}
	return n, err
}

// fillBuf reads from the socket into the (empty) buffer, taking one from
// the pool once the socket is readable when none is held.
func (r *sockReader) fillBuf() (int, error) {
	r.rpos, r.wpos = 0, 0
	var n int
	var err error
	if r.raw != nil {
		r.raw.reader = r
		n, err = r.raw.read()
	} else {
		n, err = r.fill(*r.buf)
	}
	if err != nil {
		r.eof = true
	}
	r.wpos = n
	if n == 0 && r.raw != nil {
		r.release()
	}
	return n, err
}

func (r *sockReader) release() {
	if r.buf != nil {
		r.pool.Put(r.buf)
		r.buf = nil
	}
	r.rpos, r.wpos = 0, 0
}
