package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// This file holds the two DEFLATE-based algorithms: "gzip" (RFC 1952) and
// "deflate", which gRPC means as the zlib format (RFC 1950), not raw DEFLATE.

// flateFormat says which wrapper a flateCompressor puts around DEFLATE.
type flateFormat uint8

const (
	formatGzip flateFormat = iota // RFC 1952
	formatZlib                    // RFC 1950, grpc-encoding "deflate"
)

// maxDeflateRatio bounds how many bytes one byte of DEFLATE can expand to: a
// 258-byte match costs at least two bits (1032 is the figure zlib's
// documentation gives). It caps the size hint of a gzip trailer, which the
// sender controls.
const maxDeflateRatio = 1032

// flateCompressor is "gzip" or "deflate" at one level. It is safe for
// concurrent use.
type flateCompressor struct {
	name     string
	format   flateFormat
	level    int
	encoders sync.Pool // of *flateEncoder at level
}

var _ Compressor = (*flateCompressor)(nil)

func newFlateCompressor(format flateFormat, level int) *flateCompressor {
	c := &flateCompressor{name: nameGzip, format: format, level: level}
	if format == formatZlib {
		c.name = nameDeflate
	}
	c.encoders.New = c.newEncoder
	return c
}

// flateWriter is what *gzip.Writer and *zlib.Writer have in common.
type flateWriter interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// flateEncoder is a pooled writer and the buffer it writes to. It is used by
// one goroutine at a time (whoever took it from the pool).
type flateEncoder struct {
	out appender
	w   flateWriter
}

// unixEpoch is the gzip header's "no modification time".
var unixEpoch = time.Unix(0, 0)

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

func (c *flateCompressor) newEncoder() any {
	e := &flateEncoder{}
	var err error
	if c.format == formatGzip {
		e.w, err = gzip.NewWriterLevel(&e.out, c.level)
	} else {
		e.w, err = zlib.NewWriterLevel(&e.out, c.level)
	}
	if err != nil {
		// WithLevel checked the level, so this is a bug.
		panic("compression: " + c.name + ": " + err.Error())
	}
	return e
}

// Name returns "gzip" or "deflate".
func (c *flateCompressor) Name() string { return c.name }

// Compress appends the gzip or zlib stream of src to dst.
func (c *flateCompressor) Compress(dst, src []byte) ([]byte, error) {
	e := c.encoders.Get().(*flateEncoder)
	e.out.b = dst
	e.w.Reset(&e.out)
	if gz, ok := e.w.(*gzip.Writer); ok {
		// klauspost writes a zero ModTime as its Unix time truncated to 32
		// bits (a date in 2042); the epoch gives the 0 that compress/gzip
		// and grpc-go write, meaning no time.
		gz.ModTime = unixEpoch
	}
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	out := e.out.b
	e.out.b = nil // do not keep the caller's buffer in the pool
	c.encoders.Put(e)
	if err != nil {
		return dst, errCompress(c.name, err)
	}
	return out, nil
}

// Decompress appends the decompressed gzip or zlib stream src to dst, at
// most limit bytes. The output is gathered by readLimited; a gzip trailer's
// size field, capped by the limit and by DEFLATE's largest ratio, is the
// size hint.
func (c *flateCompressor) Decompress(dst, src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	var out []byte
	var err error
	if c.format == formatGzip {
		out, err = decompressGzip(dst, src, limit)
	} else {
		out, err = decompressZlib(dst, src, limit)
	}
	switch {
	case err == nil:
		return out, nil
	case err == errLimit:
		return dst, errTooLarge(c.name, limit)
	default:
		return dst, errCorrupt(c.name, err)
	}
}

// gzipDecoder is a pooled gzip reader and the reader of its input. It is
// used by one goroutine at a time. gzip.Reader works from its zero value:
// Reset makes it ready.
type gzipDecoder struct {
	src   bytes.Reader // a flate.Reader, so gzip reads it without a bufio
	zr    gzip.Reader
	probe [1]byte
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func decompressGzip(dst, src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer gzipDecoders.Put(d)
	defer d.src.Reset(nil) // do not keep the caller's input in the pool

	d.src.Reset(src)
	if err := d.zr.Reset(&d.src); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // empty input is not a gzip stream
		}
		return dst, err
	}
	return readLimited(dst, &d.zr, limit, gzipSizeHint(src, limit), d.probe[:])
}

// gzipSizeHint returns the uncompressed size that src's trailer states
// (ISIZE, the size modulo 2^32 of the last member), capped by limit and by
// what src could expand to. It is only a hint: the sender controls it, and a
// stream of several members states only the last one's size.
func gzipSizeHint(src []byte, limit int) int {
	const minMember = 18 // 10-byte header, 8-byte trailer
	if len(src) < minMember {
		return 0
	}
	hint := uint64(binary.LittleEndian.Uint32(src[len(src)-4:]))
	hint = min(hint, uint64(limit), maxDeflateRatio*uint64(len(src)))
	return int(hint)
}

// zlibDecoder is a pooled zlib reader and the reader of its input. It is
// used by one goroutine at a time.
type zlibDecoder struct {
	src   bytes.Reader
	zr    io.ReadCloser // implements zlib.Resetter
	probe [1]byte
}

// emptyZlib is the zlib stream of no data. zlib has no zero-value reader, so
// a pooled decoder's reader starts on this stream and is Reset from then on:
// corrupt input never costs a new reader.
var emptyZlib = []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}

var zlibDecoders = sync.Pool{New: func() any {
	d := new(zlibDecoder)
	d.src.Reset(emptyZlib)
	zr, err := zlib.NewReader(&d.src)
	if err != nil {
		panic("compression: deflate: " + err.Error()) // emptyZlib is valid
	}
	d.zr = zr
	return d
}}

// errTrailingData reports bytes after the end of a zlib stream.
var errTrailingData = errors.New("data after the end of the compressed stream")

func decompressZlib(dst, src []byte, limit int) ([]byte, error) {
	d := zlibDecoders.Get().(*zlibDecoder)
	defer zlibDecoders.Put(d)
	defer d.src.Reset(nil)

	d.src.Reset(src)
	if err := d.zr.(zlib.Resetter).Reset(&d.src, nil); err != nil {
		return dst, err
	}
	out, err := readLimited(dst, d.zr, limit, 0, d.probe[:])
	if err == nil && d.src.Len() != 0 {
		// zlib, unlike gzip, has no multi-member form; the flate reader reads
		// a bytes.Reader byte by byte, so what is left was never read.
		return dst, errTrailingData
	}
	return out, err
}
