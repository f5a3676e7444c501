package connection

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
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
// with pooled buffers it takes on the first Write and gives back once
// written. While a flush is writing to the socket outside Conn.wmu (busy),
// writers go on filling buffers, chained rather than written, and the
// flush takes them all for its next write: concurrent writers share
// syscalls. Owned by the holder of Conn.wmu, except the buffers a flush
// took (out, vec), which belong to that flush.
type sockWriter struct {
	w    io.Writer
	pool *sync.Pool
	size int
	full []*[]byte // filled buffers, chained while busy
	buf  *[]byte   // the buffer being filled; nil while empty
	n    int       // bytes buffered in *buf
	busy bool      // a flush is writing outside Conn.wmu

	out []*[]byte   // the buffers being written by the flush
	vec net.Buffers // their bytes
	wv  net.Buffers // what WriteTo consumes: a local would escape, one allocation per write
}

func (w *sockWriter) init(wr io.Writer, size int) {
	w.w, w.size, w.pool = wr, size, bufPool(size)
}

// Buffered returns the number of bytes waiting to be written.
func (w *sockWriter) Buffered() int { return len(w.full)*w.size + w.n }

// Write buffers p. A buffer that fills is written out at once unless a
// flush is busy (then it is chained); a write at least as large as a
// buffer, with nothing buffered, goes straight to the socket.
func (w *sockWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			if len(p) >= w.size && !w.busy && len(w.full) == 0 {
				n, err := w.w.Write(p)
				return total - len(p) + n, err
			}
			w.buf = w.pool.Get().(*[]byte)
		}
		k := copy((*w.buf)[w.n:], p)
		w.n += k
		p = p[k:]
		if w.n == len(*w.buf) {
			if w.busy {
				w.full = append(w.full, w.buf)
				w.buf, w.n = nil, 0
			} else if err := w.Flush(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// Flush writes what is buffered, holding Conn.wmu, and gives the buffers
// back to the pool. It must not be called while busy.
func (w *sockWriter) Flush() error {
	w.take()
	return w.writeOut()
}

// take moves what is buffered to the flush (out, vec).
func (w *sockWriter) take() {
	w.out = append(w.out[:0], w.full...)
	clear(w.full)
	w.full = w.full[:0]
	w.vec = w.vec[:0]
	for _, b := range w.out {
		w.vec = append(w.vec, *b)
	}
	if w.buf != nil {
		w.out = append(w.out, w.buf)
		w.vec = append(w.vec, (*w.buf)[:w.n])
		w.buf, w.n = nil, 0
	}
}

// writeOut writes what take took, in one syscall where the socket allows
// (writev), and gives the buffers back to the pool.
func (w *sockWriter) writeOut() error {
	var err error
	switch len(w.vec) {
	case 0:
	case 1:
		_, err = w.w.Write(w.vec[0])
	default:
		w.wv = w.vec // WriteTo consumes its receiver
		_, err = w.wv.WriteTo(w.w)
		w.wv = nil
	}
	for i, b := range w.out {
		w.pool.Put(b)
		w.out[i] = nil
	}
	clear(w.vec[:cap(w.vec)])
	w.out, w.vec = w.out[:0], w.vec[:0]
	return err
}

// sockReader buffers what is read from the socket for the Framer (and
// for readData, which takes DATA payloads from it with peek), as
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
	// beforeRead, if set, runs before each read from the socket, which
	// may block: the connection delivers what it batched (batch.go).
	beforeRead func()
	// idleArmed says the read deadline is the idle wait's (Conn.awaitData),
	// set when fills was fillsAtArm: it is not the connection's deadline,
	// and a read in the middle of a frame that runs into it goes on
	// waiting.
	idleArmed bool
	// interrupted says a read deadline was set to wake a caller reading
	// its own response (Conn.interruptCaller): like the idle wait's, it
	// is not the connection's.
	interrupted atomic.Bool
	fills       uint64 // reads from the socket that returned data
	fillsAtArm  uint64
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

// peek returns up to max buffered bytes without consuming them, reading
// from the socket when none are buffered: the DATA path (readData) feeds
// payloads to streams straight from the buffer. The bytes are valid until
// the next call on r; discard consumes them.
func (r *sockReader) peek(max int) ([]byte, error) {
	if r.rpos == r.wpos {
		if r.buf == nil && r.raw == nil {
			r.buf = r.pool.Get().(*[]byte)
		}
		if n, err := r.fillBuf(); n == 0 {
			return nil, err
		}
	}
	return (*r.buf)[r.rpos:min(r.wpos, r.rpos+max)], nil
}

// discard consumes n bytes that peek returned, giving the buffer back to
// the pool once it is empty (with raw), as Read does.
func (r *sockReader) discard(n int) {
	r.rpos += n
	if r.rpos == r.wpos && r.raw != nil {
		r.release()
	}
}

// fill reads from the socket into p.
func (r *sockReader) fill(p []byte) (int, error) {
	if r.beforeRead != nil {
		r.beforeRead()
	}
	n, err := r.r.Read(p)
	for n == 0 && err != nil && r.benignTimeout(err) {
		// The idle wait's deadline, passed in the middle of a frame
		// (one larger than the buffer) whose rest is on its way; or a
		// caller's interrupt (Conn.interruptCaller), which may come
		// again while the read waits.
		r.disarmIdle()
		n, err = r.r.Read(p)
	}
	if err != nil {
		r.eof = true
	}
	if n > 0 {
		r.fills++
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
		if r.beforeRead != nil {
			r.beforeRead()
		}
		r.raw.reader = r
		n, err = r.raw.read()
		for err != nil && r.benignTimeout(err) {
			// The idle wait's deadline, passed in the middle of a frame
			// whose rest is still on its way; or a caller's interrupt,
			// which may come again while the read waits.
			r.disarmIdle()
			n, err = r.raw.read()
		}
	} else {
		n, err = r.fill(*r.buf)
	}
	if err != nil {
		r.eof = true
	}
	if n > 0 {
		r.fills++
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

// fillIdle is fillBuf for the reader waiting between frames with nothing
// buffered (Conn.awaitData): with the idle deadline armed, a read that
// runs into it returns timedOut instead of failing the connection.
func (r *sockReader) fillIdle() (n int, timedOut bool, err error) {
	if r.beforeRead != nil {
		r.beforeRead()
	}
	r.rpos, r.wpos = 0, 0
	r.raw.reader = r
	n, err = r.raw.read()
	if err != nil && r.benignTimeout(err) {
		r.idleArmed = false
		return 0, true, nil
	}
	if err != nil {
		r.eof = true
	}
	if n > 0 {
		r.fills++
	}
	r.wpos = n
	if n == 0 {
		r.release()
	}
	return n, false, err
}

// armIdle sets the idle wait's read deadline, d from now.
func (r *sockReader) armIdle(d time.Duration) {
	r.raw.nc.SetReadDeadline(time.Now().Add(d))
	r.idleArmed = true
	r.fillsAtArm = r.fills
}

// disarmIdle clears the idle wait's read deadline.
func (r *sockReader) disarmIdle() {
	r.raw.nc.SetReadDeadline(time.Time{})
	r.idleArmed = false
}

// holdsFrame reports whether the buffer holds the next frame whole, and,
// for HEADERS, the header block's end: a frame parsed from it reads
// nothing from the socket.
func (r *sockReader) holdsFrame() bool {
	n := r.wpos - r.rpos
	if n < frameHeaderLen {
		return false
	}
	h := (*r.buf)[r.rpos:]
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if http2.FrameType(h[3]) == http2.FrameHeaders && !http2.Flags(h[4]).Has(http2.FlagHeadersEndHeaders) {
		return false // CONTINUATION frames follow, read with it
	}
	return n >= frameHeaderLen+length
}

// frameHeaderLen is the size of an HTTP/2 frame header (RFC 9113 §4.1).
const frameHeaderLen = 9

// benignTimeout reports whether err is the passing of a read deadline that
// is not the connection's: the idle wait's or a caller's interrupt.
func (r *sockReader) benignTimeout(err error) bool {
	return (r.idleArmed || r.interrupted.Load()) && isTimeout(err)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
