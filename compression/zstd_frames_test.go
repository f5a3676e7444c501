package compression

import (
	"math"
	"slices"
	"testing"
)

// Hand-built zstd frames (RFC 8878, section 3.1.1).
var (
	zstdMagicBytes = []byte{0x28, 0xb5, 0x2f, 0xfd}
	// Single segment, 1-byte content size 5, one raw block "hello".
	zstdRawFrame = slices.Concat(zstdMagicBytes, []byte{0x20, 5, 0x29, 0, 0}, []byte("hello"))
	// Single segment, content size 10, one RLE block of 10 'a's.
	zstdRLEFrame = slices.Concat(zstdMagicBytes, []byte{0x20, 10, 0x53, 0, 0, 'a'})
	// A 3-byte skippable frame.
	zstdSkippableFrame = []byte{0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'}
)

// zstdBlock returns a block header.
func zstdBlock(last bool, typ, size int) []byte {
	h := size<<3 | typ<<1
	if last {
		h |= 1
	}
	return []byte{byte(h), byte(h >> 8), byte(h >> 16)}
}

func TestZstdFrameSizes(t *testing.T) {
	// No content size, 64 KiB window (windowLog 16), with a checksum: a raw
	// block of 3, an RLE block of 1000, two compressed blocks.
	noFCS := slices.Concat(zstdMagicBytes, []byte{0x04, 6 << 3},
		zstdBlock(false, 0, 3), []byte("abc"),
		zstdBlock(false, 1, 1000), []byte{'z'},
		zstdBlock(false, 2, 2), []byte{0, 0},
		zstdBlock(true, 2, 1), []byte{0},
		[]byte{1, 2, 3, 4})
	// Content size 300 (2-byte field: 300-256), 1 MiB window
	// (windowLog 20), one compressed block: it may overrun by a block.
	fcs2 := slices.Concat(zstdMagicBytes, []byte{0x40, 10 << 3, 44, 0}, zstdBlock(false, 2, 4), []byte{0, 0, 0, 0}, zstdBlock(true, 2, 4), []byte{0, 0, 0, 0})
	// Content size 2^40 in an 8-byte field, not single segment, blocks
	// that cannot make it.
	huge := slices.Concat(zstdMagicBytes, []byte{0xc0, 30 << 3, 0, 0, 0, 0, 0, 1, 0, 0}, zstdBlock(true, 1, 5), []byte{0})
	// A dictionary ID (4 bytes) before a 4-byte content size.
	dictFCS4 := slices.Concat(zstdMagicBytes, []byte{0xa3, 1, 2, 3, 4, 5, 0, 0, 0}, zstdBlock(true, 0, 5), []byte("hello"))

	tests := []struct {
		name    string
		src     []byte
		want    zstdSizes
		wantErr error
	}{
		{"empty", nil, zstdSizes{}, nil},
		{"raw", zstdRawFrame, zstdSizes{min: 5, room: 5, max: 5, window: 1024}, nil},
		{"RLE", zstdRLEFrame, zstdSizes{min: 10, room: 10, max: 10, window: 1024}, nil},
		{"skippable", zstdSkippableFrame, zstdSizes{}, nil},
		{"two frames and skippable ones", slices.Concat(zstdSkippableFrame, zstdRawFrame, zstdSkippableFrame, zstdRLEFrame),
			zstdSizes{min: 15, room: 15, max: 15, window: 1024}, nil},
		{"no content size", noFCS, zstdSizes{min: 1003, room: 1003 + 2*64<<10, max: 1003 + 2*64<<10, window: 64 << 10}, nil},
		{"content size 300, two compressed blocks", fcs2, zstdSizes{min: 300, room: 300, max: 300 + 128<<10, window: 1 << 20}, nil},
		{"dictionary ID, 4-byte content size", dictFCS4, zstdSizes{min: 5, room: 5, max: 5, window: 1024}, nil},
		{"content size larger than the blocks", huge, zstdSizes{}, errZstdContentLen},
		{"content size smaller than the raw blocks", slices.Concat(zstdMagicBytes, []byte{0x20, 4, 0x29, 0, 0}, []byte("hello")), zstdSizes{}, errZstdContentLen},
		{"block larger than the window", slices.Concat(zstdMagicBytes, []byte{0x00, 0x00}, zstdBlock(true, 1, 1025), []byte{0}), zstdSizes{}, errZstdBlockSize},
		{"reserved block type", slices.Concat(zstdMagicBytes, []byte{0x20, 0}, zstdBlock(true, 3, 0)), zstdSizes{}, errZstdReserved},
		{"reserved header bit", slices.Concat(zstdMagicBytes, []byte{0x28, 0}, zstdBlock(true, 0, 0)), zstdSizes{}, errZstdReserved},
		{"bad magic", []byte{0x28, 0xb5, 0x2f, 0xfc, 0x20, 0}, zstdSizes{}, errZstdMagic},
		{"trailing garbage", slices.Concat(zstdRawFrame, []byte{1}), zstdSizes{}, errZstdTruncated},
		{"short magic", zstdMagicBytes[:3], zstdSizes{}, errZstdTruncated},
		{"truncated skippable", zstdSkippableFrame[:10], zstdSizes{}, errZstdTruncated},
		{"truncated skippable size", zstdSkippableFrame[:6], zstdSizes{}, errZstdTruncated},
		{"no header", zstdMagicBytes, zstdSizes{}, errZstdTruncated},
		{"no window descriptor", slices.Concat(zstdMagicBytes, []byte{0x00}), zstdSizes{}, errZstdTruncated},
		{"short content size", slices.Concat(zstdMagicBytes, []byte{0x60, 1}), zstdSizes{}, errZstdTruncated},
		{"no blocks", slices.Concat(zstdMagicBytes, []byte{0x20, 0}), zstdSizes{}, errZstdTruncated},
		{"short raw block", zstdRawFrame[:len(zstdRawFrame)-1], zstdSizes{}, errZstdTruncated},
		{"short RLE block", zstdRLEFrame[:len(zstdRLEFrame)-1], zstdSizes{}, errZstdTruncated},
		{"short compressed block", slices.Concat(zstdMagicBytes, []byte{0x20, 9}, zstdBlock(true, 2, 4), []byte{0}), zstdSizes{}, errZstdTruncated},
		{"missing checksum", noFCS[:len(noFCS)-1], zstdSizes{}, errZstdTruncated},
	}
	for _, tt := range tests {
		got, err := zstdFrameSizes(tt.src)
		if err != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("%s: zstdFrameSizes = %+v, %v; want %+v, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAddSat(t *testing.T) {
	for _, tt := range []struct{ a, b, want uint64 }{
		{1, 2, 3},
		{math.MaxUint64, 0, math.MaxUint64},
		{math.MaxUint64, 1, math.MaxUint64},
		{math.MaxUint64 - 1, 1, math.MaxUint64},
		{1 << 63, 1 << 63, math.MaxUint64},
	} {
		if got := addSat(tt.a, tt.b); got != tt.want {
			t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
