package compression

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"

	"github.com/klauspost/compress/s2"
)

// This file holds "snappy": the Snappy framing format
// (https://github.com/google/snappy/blob/main/framing_format.txt), the format
// github.com/golang/snappy's NewBufferedWriter and NewReader speak. Blocks
// are coded by klauspost's s2 package in its Snappy-compatible mode; the
// framing is done here, in place in dst, which needs no pooled state and lets
// Decompress learn the exact output size before it allocates.

// Chunk types of the framing format.
const (
	snappyChunkCompressed   = 0x00
	snappyChunkUncompressed = 0x01
	snappyMaxUnskippable    = 0x7f // 0x02-0x7f are reserved and unskippable
	snappyChunkPadding      = 0xfe // 0x80-0xfd are reserved and skippable
	snappyChunkStreamID     = 0xff
)

const (
	// snappyMaxBlock is the most uncompressed data one chunk may hold.
	snappyMaxBlock = 65536
	// snappyChunkHeader is a chunk's type and 24-bit little-endian length.
	snappyChunkHeader = 4
	// snappyChecksumSize is the masked CRC-32C before a data chunk's data.
	snappyChecksumSize = 4
)

// snappyStreamID is the stream identifier chunk every stream starts with.
const snappyStreamID = "\xff\x06\x00\x00sNaPpY"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snappyChecksum is the framing format's masked CRC-32C of uncompressed data.
func snappyChecksum(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// snappyCompressor is "snappy". It has no state and is safe for concurrent
// use.
type snappyCompressor struct{}

var _ Compressor = (*snappyCompressor)(nil)

// Name returns "snappy".
func (*snappyCompressor) Name() string { return nameSnappy }

// Compress appends the framed Snappy stream of src to dst: the stream
// identifier, then one chunk per 64 KiB of src, each compressed unless that
// saves less than 12.5% (the rule of golang/snappy's writer). An empty src
// gives the stream identifier alone.
func (*snappyCompressor) Compress(dst, src []byte) ([]byte, error) {
	dst = append(dst, snappyStreamID...)
	for len(src) > 0 {
		n := min(len(src), snappyMaxBlock)
		dst = appendSnappyChunk(dst, src[:n])
		src = src[n:]
	}
	return dst, nil
}

// appendSnappyChunk appends one data chunk holding block (at most
// snappyMaxBlock bytes) to dst.
func appendSnappyChunk(dst, block []byte) []byte {
	const headers = snappyChunkHeader + snappyChecksumSize
	start := len(dst)
	maxLen := s2.MaxEncodedLen(len(block))
	// Amortized growth: Compress appends chunk after chunk.
	dst = slices.Grow(dst, headers+maxLen)[:start+headers]
	enc := s2.EncodeSnappy(dst[len(dst):len(dst)+maxLen], block)
	typ := byte(snappyChunkCompressed)
	if len(enc) >= len(block)-len(block)/8 {
		typ = snappyChunkUncompressed
		enc = append(dst[len(dst):], block...)
	}
	length := snappyChecksumSize + len(enc)
	dst[start] = typ
	dst[start+1] = byte(length)
	dst[start+2] = byte(length >> 8)
	dst[start+3] = byte(length >> 16)
	binary.LittleEndian.PutUint32(dst[start+snappyChunkHeader:], snappyChecksum(block))
	return dst[:len(dst)+len(enc)]
}

var (
	errSnappyTruncated = errors.New("truncated chunk")
	errSnappyNoStream  = errors.New("missing stream identifier")
	errSnappyBadStream = errors.New("bad stream identifier")
	errSnappyReserved  = errors.New("reserved unskippable chunk type")
	errSnappyShort     = errors.New("data chunk shorter than its checksum")
	errSnappyTooLarge  = errors.New("chunk of more than 65536 bytes")
	errSnappyChecksum  = errors.New("checksum mismatch")
)

// Decompress appends the decoded framed Snappy stream src to dst, at most
// limit bytes. A first pass over the chunk headers gives the exact output
// size (each compressed block starts with its decoded length, which decoding
// then checks), so a stream that would exceed the limit is refused before
// anything is allocated, and dst grows once, exactly. An empty src decodes to
// nothing, as with golang/snappy's reader.
func (*snappyCompressor) Decompress(dst, src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	total, err := snappyDecodedLen(src, limit)
	switch {
	case err == errLimit:
		return dst, errTooLarge(nameSnappy, limit)
	case err != nil:
		return dst, errCorrupt(nameSnappy, err)
	}
	out := growExact(dst, total)
	for len(src) > 0 {
		typ, body, rest, _ := nextSnappyChunk(src) // checked by snappyDecodedLen
		src = rest
		var block []byte
		switch typ {
		case snappyChunkCompressed:
			n, _ := s2.DecodedLen(body[snappyChecksumSize:])
			block = out[len(out) : len(out)+n]
			if _, err := s2.Decode(block, body[snappyChecksumSize:]); err != nil {
				return dst, errCorrupt(nameSnappy, err)
			}
		case snappyChunkUncompressed:
			block = append(out[len(out):], body[snappyChecksumSize:]...)
		default:
			continue
		}
		if snappyChecksum(block) != binary.LittleEndian.Uint32(body) {
			return dst, errCorrupt(nameSnappy, errSnappyChecksum)
		}
		out = out[:len(out)+len(block)]
	}
	return out, nil
}

// snappyDecodedLen checks the structure of a framed stream and returns the
// size of its decoded data, or errLimit as soon as that exceeds limit. It
// does not decode blocks or check checksums.
func snappyDecodedLen(src []byte, limit int) (int, error) {
	total := 0
	for first := true; len(src) > 0; first = false {
		typ, body, rest, err := nextSnappyChunk(src)
		if err != nil {
			return 0, err
		}
		src = rest
		if first && typ != snappyChunkStreamID {
			return 0, errSnappyNoStream
		}
		switch {
		case typ == snappyChunkStreamID:
			if string(body) != snappyStreamID[snappyChunkHeader:] {
				return 0, errSnappyBadStream
			}
		case typ == snappyChunkCompressed || typ == snappyChunkUncompressed:
			if len(body) < snappyChecksumSize {
				return 0, errSnappyShort
			}
			n := len(body) - snappyChecksumSize
			if typ == snappyChunkCompressed {
				if n, err = s2.DecodedLen(body[snappyChecksumSize:]); err != nil {
					return 0, err
				}
			}
			if n > snappyMaxBlock {
				return 0, errSnappyTooLarge
			}
			if total += n; total > limit {
				return 0, errLimit
			}
		case typ == snappyChunkPadding || typ > snappyMaxUnskippable:
			// Padding and reserved skippable chunks are skipped.
		default:
			return 0, errSnappyReserved
		}
	}
	return total, nil
}

// nextSnappyChunk splits the first chunk off src.
func nextSnappyChunk(src []byte) (typ byte, body, rest []byte, err error) {
	if len(src) < snappyChunkHeader {
		return 0, nil, nil, errSnappyTruncated
	}
	n := int(src[1]) | int(src[2])<<8 | int(src[3])<<16
	if len(src)-snappyChunkHeader < n {
		return 0, nil, nil, errSnappyTruncated
	}
	return src[0], src[snappyChunkHeader : snappyChunkHeader+n], src[snappyChunkHeader+n:], nil
}
