package compression

import (
	"errors"
	"io"
	"sync"
)

// This file holds the size limit of Decompress for the algorithms decoded
// through an io.Reader (gzip, deflate, and zstd frames without a usable
// content size): how output is gathered so that no more than about limit bytes
// are ever allocated for it.

// errLimit is readLimited's report that the output exceeds the limit. The
// callers turn it into a RESOURCE_EXHAUSTED status.
var errLimit = errors.New("compression: output exceeds the limit")

// growExact returns dst with room for at least n more bytes, allocating
// exactly len(dst)+n when it must: the callers know the size they need, so
// append's amortized growth would only waste memory.
func growExact(dst []byte, n int) []byte {
	if n <= cap(dst)-len(dst) {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

// spillChunkSize is the size of the pooled buffers that hold output which
// does not fit in dst's capacity while its final size is unknown.
const spillChunkSize = 64 << 10

type spillChunk [spillChunkSize]byte

var spillChunkPool = sync.Pool{New: func() any { return new(spillChunk) }}

// maxZeroReads bounds how often a reader may return nothing and no error
// before readLimited gives up, as bufio does.
const maxZeroReads = 100

// readLimited appends what r produces to dst, at most limit bytes, and
// returns errLimit if r has more. Another error is r's and means the input is
// corrupt. On error it returns dst with its original length.
//
// hint is the expected output size, or 0 if unknown; it must not exceed
// limit. dst is grown to hold hint bytes with one exact allocation, so a
// right hint is the only allocation. Output beyond dst's capacity goes to
// pooled chunks until r ends, and then dst grows once, exactly, to take it.
// dst and the chunks together never hold more than limit+1 bytes, so a bomb
// costs at most limit plus one chunk, whatever it would have made. probe must
// have length 1; it tells "ended" from "more" when dst is full, without
// allocating.
func readLimited(dst []byte, r io.Reader, limit, hint int, probe []byte) ([]byte, error) {
	base := len(dst)
	dst = growExact(dst, hint)

	// Phase 1: fill dst's capacity, up to limit bytes.
	zeros := 0
	for {
		room := min(cap(dst)-len(dst), limit-(len(dst)-base))
		if room == 0 {
			break
		}
		n, err := r.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst[:base], err
		case n == 0:
			if zeros++; zeros >= maxZeroReads {
				return dst[:base], io.ErrNoProgress
			}
		}
	}

	// dst is full. Either r has ended, or its next byte goes to the chunks
	// (or exceeds the limit, when dst holds limit bytes already).
	more, err := readProbe(r, probe)
	if err != nil {
		return dst[:base], err
	}
	if !more {
		return dst, nil
	}
	if len(dst)-base == limit {
		return dst[:base], errLimit
	}
	return readSpill(dst, base, r, limit, probe[0])
}

// readProbe reads one byte into probe and reports whether there was one.
func readProbe(r io.Reader, probe []byte) (more bool, err error) {
	for zeros := 0; zeros < maxZeroReads; zeros++ {
		n, err := r.Read(probe[:1])
		if n > 0 {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, io.ErrNoProgress
}

// readSpill is readLimited's second phase: dst holds fewer than limit bytes
// and is full, and first is the next byte of output. It gathers the rest in
// pooled chunks, then grows dst once to take them.
func readSpill(dst []byte, base int, r io.Reader, limit int, first byte) ([]byte, error) {
	var small [8]*spillChunk // enough for 512 KiB before the list itself allocates
	chunks := small[:0]
	defer func() {
		for i, c := range chunks {
			spillChunkPool.Put(c)
			chunks[i] = nil
		}
	}()

	total := len(dst) - base + 1 // output so far, first included
	c := spillChunkPool.Get().(*spillChunk)
	chunks = append(chunks, c)
	c[0] = first
	used := 1 // bytes used in the last chunk

	zeros := 0
	for {
		if used == spillChunkSize {
			c = spillChunkPool.Get().(*spillChunk)
			chunks = append(chunks, c)
			used = 0
		}
		// Read one byte past the limit, to see whether there is one.
		room := spillChunkSize - used
		if left := limit - total; left < room {
			room = left + 1
		}
		n, err := r.Read(c[used : used+room])
		used += n
		total += n
		if total > limit {
			return dst[:base], errLimit
		}
		switch {
		case err == io.EOF:
			// Done: grow dst exactly and gather the chunks.
			out := growExact(dst, total-(len(dst)-base))
			for i, c := range chunks {
				if i == len(chunks)-1 {
					out = append(out, c[:used]...)
				} else {
					out = append(out, c[:]...)
				}
			}
			return out, nil
		case err != nil:
			return dst[:base], err
		case n == 0:
			if zeros++; zeros >= maxZeroReads {
				return dst[:base], io.ErrNoProgress
			}
		}
	}
}
