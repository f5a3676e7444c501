package compression

import (
	"bytes"
	"errors"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// This file holds "zstd": Zstandard frames, by klauspost's zstd package.
// Messages are coded whole with one shared encoder per level (EncodeAll) and
// one shared decoder (DecodeAll); zstd_frames.go reads the frame headers that
// keep DecodeAll within the limit.

// zstdOverAlloc is spare capacity past the output that lets klauspost's
// decoder use its fast copies to the very end (its compressedBlockOverAlloc).
const zstdOverAlloc = 16

// zstdReallocSlack is how far past the limit Decompress lets a lying zstd
// frame push its allocations, so that valid frames can get the exact room
// they need rather than an extra block for the lie (see Decompress).
const zstdReallocSlack = 256 << 10

// zstdCompressor is "zstd" at one level. It is safe for concurrent use.
type zstdCompressor struct {
	encoder func() (*zstd.Encoder, error) // made on first use, then shared
}

var _ Compressor = (*zstdCompressor)(nil)

func newZstdCompressor(level zstd.EncoderLevel) *zstdCompressor {
	return &zstdCompressor{
		encoder: sync.OnceValues(func() (*zstd.Encoder, error) {
			// A nil writer: the encoder is only used through EncodeAll, which
			// is safe for concurrent use and holds GOMAXPROCS encoders.
			return zstd.NewWriter(nil,
				zstd.WithEncoderLevel(level),
				// An empty message still gets a frame, which every decoder
				// accepts; zero bytes is not a valid zstd stream for all.
				zstd.WithZeroFrames(true),
			)
		}),
	}
}

// zstdDecoder is the decoder every zstd compressor shares for DecodeAll,
// which is safe for concurrent use (up to GOMAXPROCS calls at once; more
// wait). WithDecodeAllCapLimit makes it fail rather than grow dst past its
// capacity, a second line behind the sizes Decompress gives it.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecodeAllCapLimit(true),
	)
})

// zstdStream is a pooled streaming decoder, for frames whose output the
// headers do not bound (see Decompress). It is used by one goroutine at a
// time. With a concurrency of 1 it decodes synchronously and runs no
// goroutines, so a pooled decoder the GC drops leaks nothing.
type zstdStream struct {
	src   bytes.Reader // not a bytes.Buffer, which Reset would decode whole
	dec   *zstd.Decoder
	probe [1]byte
}

var zstdStreams = sync.Pool{New: func() any {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic("compression: zstd: " + err.Error()) // fixed, valid options
	}
	return &zstdStream{dec: dec}
}}

// Name returns "zstd".
func (c *zstdCompressor) Name() string { return nameZstd }

// Compress appends one zstd frame holding src to dst. The frame states its
// content size and carries a checksum.
func (c *zstdCompressor) Compress(dst, src []byte) ([]byte, error) {
	enc, err := c.encoder()
	if err != nil {
		return dst, errCompress(nameZstd, err)
	}
	return enc.EncodeAll(src, dst), nil
}

// Decompress appends the decoded zstd frames src to dst, at most limit bytes.
//
// It first reads the frame and block headers (zstdFrameSizes), which give
// the least output valid frames make and the most the decoder can write,
// valid or not. When the least exceeds the limit it fails at once. Then:
//
//   - When the most is within the limit plus a block, which is so for every
//     frame that states its content size, it grows dst once and decodes with
//     DecodeAll. It grows dst to the most, so that the decoder cannot need
//     more, when the message is large for the limit; else to what valid
//     frames need, which is exact for frames that state their content size
//     (a lie then costs one reallocation of about twice a small size).
//   - Otherwise (frames without a content size, from a streaming encoder,
//     whose compressed blocks the headers do not size) it decodes as a
//     stream through readLimited, which allocates the output once it knows
//     its size. The stream decoder also holds a window of history (pooled
//     with it), so this is only for windows up to the limit, and a bomb
//     costs up to the limit plus the window.
//   - With a larger window it decodes with DecodeAll into the limit plus a
//     block, and the decoder stops when that is full. Valid input within
//     the limit fits. A bomb costs the limit plus a block with klauspost's
//     amd64 assembly, which fails when out of room; its generic code (other
//     platforms) first reallocates the output once, to about 1.25 times.
func (c *zstdCompressor) Decompress(dst, src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	sz, err := zstdFrameSizes(src)
	if err != nil {
		return dst, errCorrupt(nameZstd, err)
	}
	if sz.min > uint64(limit) {
		return dst, errTooLarge(nameZstd, limit)
	}
	switch {
	case sz.max <= uint64(limit)+zstdMaxBlock:
		room := sz.max
		if sz.max <= (uint64(limit)+zstdReallocSlack)/4 {
			// Room for valid frames only. A frame that lies about its
			// content size then makes the decoder reallocate, to at most
			// about twice max: still within the limit and the slack.
			room = sz.room
		}
		return decodeZstdAll(dst, src, limit, room)
	case sz.window <= uint64(limit):
		return decodeZstdStream(dst, src, limit, int(sz.min))
	default:
		return decodeZstdAll(dst, src, limit, uint64(limit)+zstdMaxBlock)
	}
}

// decodeZstdAll decodes src with the shared decoder into dst grown by room
// bytes (and zstdOverAlloc).
func decodeZstdAll(dst, src []byte, limit int, room uint64) ([]byte, error) {
	dec, err := zstdDecoder()
	if err != nil {
		return dst, errCorrupt(nameZstd, err)
	}
	// room is at most the limit plus a block, which overflows an int only
	// for a limit near the largest int; capacity cannot be had there anyway.
	n := int(min(room, uint64(math.MaxInt-zstdOverAlloc)))
	// DecodeAll gets the free space after dst as an empty slice: with no
	// earlier output it decodes blocks in place and, out of room, fails
	// rather than reallocating (with earlier output it would append each
	// block, reallocating past the capacity).
	buf := growExact(dst, n+zstdOverAlloc)
	free := buf[len(dst):cap(buf)]
	out, err := dec.DecodeAll(src, free[:0])
	switch {
	case len(out) > limit, room >= uint64(limit) && errors.Is(err, zstd.ErrDecoderSizeExceeded):
		// On error DecodeAll returns what it decoded before the failing
		// block. Past the limit, an error may be the decoder running out of
		// room (not always ErrDecoderSizeExceeded: its assembly decoder says
		// "output bigger than max block size") and is the limit's anyway.
		// Out of a room smaller than the limit, the frames lied about their
		// size: that is corruption.
		return dst, errTooLarge(nameZstd, limit)
	case err != nil:
		return dst, errCorrupt(nameZstd, err)
	case len(out) > 0 && &out[0] != &free[0]:
		// The decoder reallocated after all (it does not within the room
		// the headers allow): move the output behind dst.
		return append(growExact(dst, len(out)), out...), nil
	}
	return buf[:len(dst)+len(out)], nil
}

// decodeZstdStream decodes src with a pooled streaming decoder, gathering
// the output with readLimited; hint is the least output the headers promise.
func decodeZstdStream(dst, src []byte, limit, hint int) ([]byte, error) {
	s := zstdStreams.Get().(*zstdStream)
	defer zstdStreams.Put(s)
	s.src.Reset(src)
	defer func() {
		s.src.Reset(nil)
		_ = s.dec.Reset(nil) // drop the references to src
	}()

	if err := s.dec.Reset(&s.src); err != nil {
		return dst, errCorrupt(nameZstd, err)
	}
	out, err := readLimited(dst, s.dec, limit, hint, s.probe[:])
	switch {
	case err == errLimit:
		return dst, errTooLarge(nameZstd, limit)
	case err != nil:
		return dst, errCorrupt(nameZstd, err)
	}
	return out, nil
}
