package compression

import (
	"encoding/binary"
	"errors"
	"math"
)

// This file reads the headers of zstd frames and blocks (RFC 8878, section 3)
// without decoding anything, to learn how much output a message can make
// before the decoder is asked for it.

const (
	zstdMagic         = 0xFD2FB528
	zstdSkippableMask = 0xFFFFFFF0
	zstdSkippable     = 0x184D2A50 // to 0x184D2A5F
	zstdMaxBlock      = 128 << 10  // Block_Maximum_Size's upper limit
	zstdMinWindow     = 1 << 10
)

// Block types.
const (
	zstdBlockRaw        = 0
	zstdBlockRLE        = 1
	zstdBlockCompressed = 2
)

var (
	errZstdTruncated  = errors.New("truncated frame")
	errZstdMagic      = errors.New("not a zstd frame")
	errZstdReserved   = errors.New("reserved bit or block type set")
	errZstdBlockSize  = errors.New("block larger than the block maximum")
	errZstdContentLen = errors.New("blocks disagree with the frame content size")
)

// zstdSizes is what the headers of a message's frames say about its output.
// Sizes saturate at math.MaxUint64.
type zstdSizes struct {
	// min is the output valid frames make: the stated content sizes, plus
	// the raw and RLE blocks of frames that state none. Valid frames make at
	// least this much; a frame that does not is corrupt.
	min uint64
	// room is the most output valid frames can make: the content sizes,
	// plus, for frames that state none, the raw and RLE block sizes and a
	// block maximum for each compressed block.
	room uint64
	// max is the most output klauspost's DecodeAll can write before it
	// returns, whether the frames are valid or not: room, plus the one block
	// it decodes past the content size of the first frame that lies about it
	// before it notices.
	max uint64
	// window is the largest window size, which a streaming decoder
	// allocates.
	window uint64
}

// zstdFrameSizes walks the frames and blocks of src. It fails on input that
// is certainly not valid: truncated, a bad magic number, a reserved bit or
// block type, a block larger than its frame allows, or blocks that cannot
// make the content size their frame states. The decoder checks everything
// else.
func zstdFrameSizes(src []byte) (zstdSizes, error) {
	var sz zstdSizes
	var contentSizes, looseSizes, overrun uint64
	for len(src) > 0 {
		if len(src) < 4 {
			return sz, errZstdTruncated
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic&zstdSkippableMask == zstdSkippable {
			if len(src) < 8 {
				return sz, errZstdTruncated
			}
			n := uint64(binary.LittleEndian.Uint32(src[4:]))
			if uint64(len(src)-8) < n {
				return sz, errZstdTruncated
			}
			src = src[8+n:]
			continue
		}
		if magic != zstdMagic {
			return sz, errZstdMagic
		}
		f, rest, err := zstdFrame(src[4:])
		if err != nil {
			return sz, err
		}
		src = rest
		sz.window = max(sz.window, f.window)
		if f.hasContentSize {
			sz.min = addSat(sz.min, f.contentSize)
			contentSizes = addSat(contentSizes, f.contentSize)
			// The decoder stops after the first block that takes the frame
			// past its content size, and the frame's blocks bound it too.
			overrun = max(overrun, min(f.blockMax, f.bound-f.contentSize))
		} else {
			sz.min = addSat(sz.min, f.exact)
			looseSizes = addSat(looseSizes, f.bound)
		}
	}
	sz.room = addSat(contentSizes, looseSizes)
	sz.max = addSat(sz.room, overrun)
	return sz, nil
}

// zstdFrameInfo is what zstdFrame learns about one frame.
type zstdFrameInfo struct {
	hasContentSize bool
	contentSize    uint64 // if hasContentSize
	window         uint64 // as klauspost's decoder sets it
	blockMax       uint64 // the most one block may decode to
	exact          uint64 // the sum of the raw and RLE block sizes
	bound          uint64 // exact plus blockMax per compressed block
}

// zstdFrame reads the frame that src starts, after its magic number, and
// returns what follows it.
func zstdFrame(src []byte) (f zstdFrameInfo, rest []byte, err error) {
	if len(src) < 1 {
		return f, nil, errZstdTruncated
	}
	fhd := src[0]
	src = src[1:]
	if fhd&0x08 != 0 {
		return f, nil, errZstdReserved
	}
	singleSegment := fhd&0x20 != 0
	hasChecksum := fhd&0x04 != 0
	dictIDSize := [4]int{0, 1, 2, 4}[fhd&3]
	fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsSize == 0 && singleSegment {
		fcsSize = 1
	}

	if !singleSegment {
		if len(src) < 1 {
			return f, nil, errZstdTruncated
		}
		wd := src[0]
		src = src[1:]
		base := uint64(1) << (10 + wd>>3)
		f.window = base + base/8*uint64(wd&7)
	}
	if len(src) < dictIDSize+fcsSize {
		return f, nil, errZstdTruncated
	}
	src = src[dictIDSize:]
	if fcsSize > 0 {
		f.hasContentSize = true
		switch fcsSize {
		case 1:
			f.contentSize = uint64(src[0])
		case 2:
			f.contentSize = uint64(binary.LittleEndian.Uint16(src)) + 256
		case 4:
			f.contentSize = uint64(binary.LittleEndian.Uint32(src))
		case 8:
			f.contentSize = binary.LittleEndian.Uint64(src)
		}
		src = src[fcsSize:]
	}
	if singleSegment {
		// The window is the content; klauspost's decoder gives it at least
		// the minimum window, and so may each block.
		f.window = max(f.contentSize, zstdMinWindow)
	}
	f.blockMax = min(f.window, zstdMaxBlock)

	for last := false; !last; {
		if len(src) < 3 {
			return f, nil, errZstdTruncated
		}
		h := uint32(src[0]) | uint32(src[1])<<8 | uint32(src[2])<<16
		src = src[3:]
		last = h&1 != 0
		size := uint64(h >> 3)
		if size > f.blockMax {
			return f, nil, errZstdBlockSize
		}
		switch (h >> 1) & 3 {
		case zstdBlockRaw:
			if uint64(len(src)) < size {
				return f, nil, errZstdTruncated
			}
			src = src[size:]
			f.exact += size
			f.bound += size
		case zstdBlockRLE:
			if len(src) < 1 {
				return f, nil, errZstdTruncated
			}
			src = src[1:]
			f.exact += size
			f.bound += size
		case zstdBlockCompressed:
			if uint64(len(src)) < size {
				return f, nil, errZstdTruncated
			}
			src = src[size:]
			f.bound += f.blockMax
		default:
			return f, nil, errZstdReserved
		}
	}
	if hasChecksum {
		if len(src) < 4 {
			return f, nil, errZstdTruncated
		}
		src = src[4:]
	}
	if f.hasContentSize && (f.exact > f.contentSize || f.bound < f.contentSize) {
		return f, nil, errZstdContentLen
	}
	return f, src, nil
}

// addSat returns a+b, or math.MaxUint64 if that overflows.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}
