package compression_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/h2grpc/h2grpc/status"
)

// allocated returns the bytes of heap f allocates. The tests that use it do
// not run in parallel with others.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A decompression bomb: 64 MiB of output from a small message, with a limit
// of 4 MiB. Decompress must refuse it having allocated about the limit at
// most, whatever path the format takes.
const (
	bombSize  = 64 << 20
	bombLimit = 4 << 20
)

// bomb is one hostile message and what Decompress may spend on it.
type bomb struct {
	name string
	alg  string
	src  []byte
	want status.Code // RESOURCE_EXHAUSTED, or INTERNAL for a frame that lies
	// budget is how many bytes Decompress may allocate, cold pools
	// included.
	budget uint64
}

// Overheads on top of the limit: a decoder's own state when the pool is
// cold, and a spill chunk.
const (
	smallOverhead = 512 << 10
	// A zstd streaming decoder holds a ring of its window plus two blocks
	// (here a 1 MiB window), on top of the output.
	zstdStreamOverhead = 1<<20 + 512<<10
)

func bombs(t *testing.T) []bomb {
	zeros := make([]byte, bombSize)
	// A pattern that is not one byte repeated, so zstd and snappy must use
	// real matches rather than RLE.
	pattern := bytes.Repeat([]byte("0123456789abcdef, not quite zeros. "), bombSize/35+1)[:bombSize]

	gz := compress(t, get(t, "gzip"), zeros)
	// The gzip trailer's size is only a hint: a lying one (0, or just
	// under the limit) must not let the output grow past the limit.
	gzNoHint := slices.Clone(gz)
	binary.LittleEndian.PutUint32(gzNoHint[len(gzNoHint)-4:], 0)
	gzLowHint := slices.Clone(gz)
	binary.LittleEndian.PutUint32(gzLowHint[len(gzLowHint)-4:], bombLimit-1)

	zst := compress(t, get(t, "zstd"), pattern) // states its content size

	// Streaming encoders state no content size.
	stream := func(data []byte, opts ...zstd.EOption) []byte {
		var b bytes.Buffer
		enc, err := zstd.NewWriter(&b, append(opts, zstd.WithEncoderConcurrency(1))...)
		if err != nil {
			t.Fatal(err)
		}
		enc.Write(data)
		enc.Close()
		return b.Bytes()
	}
	zstSmallWindow := stream(pattern, zstd.WithWindowSize(1<<20))
	zstBigWindow := stream(zeros, zstd.WithWindowSize(8<<20))

	// Frames whose content size says less than their blocks make.
	zstLiar := setZstdContentSize(t, slices.Clone(zst), bombLimit)
	zstLiarHalf := setZstdContentSize(t, slices.Clone(zst), bombLimit/2)
	zstLiarSmall := setZstdContentSize(t, slices.Clone(zst), 64<<10)

	// A hand-built frame of 128 KiB RLE blocks and no content size: its
	// block headers alone say it is too large.
	zstRLE := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // no content size, 128 KiB window
	for i := range bombSize / (128 << 10) {
		h := uint32(128<<10)<<3 | 1<<1 // RLE block of 128 KiB
		if i == bombSize/(128<<10)-1 {
			h |= 1 // last
		}
		zstRLE = append(zstRLE, byte(h), byte(h>>8), byte(h>>16), 0)
	}

	return []bomb{
		{"gzip", "gzip", gz, status.ResourceExhausted, bombLimit + smallOverhead},
		{"gzip-no-size-hint", "gzip", gzNoHint, status.ResourceExhausted, bombLimit + smallOverhead},
		{"gzip-low-size-hint", "gzip", gzLowHint, status.ResourceExhausted, bombLimit + smallOverhead},
		{"deflate", "deflate", compress(t, get(t, "deflate"), zeros), status.ResourceExhausted, bombLimit + smallOverhead},
		{"zstd-content-size", "zstd", zst, status.ResourceExhausted, smallOverhead},
		// The decoder passes the limit before it finds the lie.
		{"zstd-content-size-lie", "zstd", zstLiar, status.ResourceExhausted, bombLimit + smallOverhead},
		{"zstd-content-size-lie-half", "zstd", zstLiarHalf, status.Internal, bombLimit/2 + smallOverhead},
		// Small enough that the output gets only the room the content size
		// asks for: the lie costs a reallocation of a small buffer.
		{"zstd-content-size-lie-small", "zstd", zstLiarSmall, status.Internal, smallOverhead},
		{"zstd-rle-blocks", "zstd", zstRLE, status.ResourceExhausted, smallOverhead},
		{"zstd-stream-1MiB-window", "zstd", zstSmallWindow, status.ResourceExhausted, bombLimit + zstdStreamOverhead},
		// A window larger than the limit: DecodeAll into the limit plus a
		// block. With klauspost's amd64 assembly the decoder stops when
		// that is full (about 4.1 MiB here); its generic Go code (other
		// platforms, -tags noasm) reallocates the output once, by about a
		// quarter, before it stops.
		{"zstd-stream-8MiB-window", "zstd", zstBigWindow, status.ResourceExhausted, 9*bombLimit/4 + smallOverhead},
		{"snappy", "snappy", compress(t, get(t, "snappy"), zeros), status.ResourceExhausted, smallOverhead},
		{"snappy-pattern", "snappy", compress(t, get(t, "snappy"), pattern), status.ResourceExhausted, smallOverhead},
	}
}

// setZstdContentSize rewrites the content size of the zstd frame b, which
// must have a 4-byte field.
func setZstdContentSize(t *testing.T, b []byte, size uint32) []byte {
	fhd := b[4]
	if fhd>>6 != 2 || fhd&3 != 0 {
		t.Fatalf("zstd frame header %#x: want a 4-byte content size and no dictionary", fhd)
	}
	pos := 5
	if fhd&0x20 == 0 {
		pos++ // window descriptor
	}
	binary.LittleEndian.PutUint32(b[pos:], size)
	return b
}

func TestDecompressBomb(t *testing.T) {
	for _, b := range bombs(t) {
		t.Run(b.name, func(t *testing.T) {
			c := get(t, b.alg)
			var out []byte
			var err error
			// An empty dst, and one that already holds a message (which
			// changes how zstd's decoder appends).
			for _, dst := range [][]byte{nil, []byte("prefix")} {
				n := allocated(func() { out, err = c.Decompress(dst, b.src, bombLimit) })
				checkCode(t, err, b.want, fmt.Sprintf("Decompress(%d-byte bomb)", len(b.src)))
				if len(out) != len(dst) {
					t.Fatalf("Decompress error returned %d bytes", len(out))
				}
				t.Logf("%d-byte message, %d-byte dst: allocated %.2f MiB for a %d MiB limit (budget %.2f MiB)",
					len(b.src), len(dst), float64(n)/(1<<20), bombLimit>>20, float64(b.budget)/(1<<20))
				if n > b.budget {
					t.Errorf("Decompress allocated %d bytes, more than the budget of %d", n, b.budget)
				}
			}
		})
	}
}

// TestDecompressNearLimitAllocs checks that valid messages do not cost much
// more than their size: one exact allocation when the format states the size.
func TestDecompressNearLimitAllocs(t *testing.T) {
	data := textBytes(3 << 20)
	for _, tt := range []struct {
		alg    string
		budget uint64 // beyond len(data)
	}{
		{"gzip", smallOverhead},                // the trailer's size is right
		{"deflate", uint64(len(data)) + 1<<20}, // chunks, then one exact copy
		{"zstd", smallOverhead},                // content size
		{"snappy", smallOverhead},              // chunk headers
	} {
		c := get(t, tt.alg)
		comp := compress(t, c, data)
		var out []byte
		var err error
		n := allocated(func() { out, err = c.Decompress(nil, comp, len(data)) })
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%s: Decompress = %d bytes, %v", tt.alg, len(out), err)
		}
		t.Logf("%s: %.2f MiB allocated for %.2f MiB", tt.alg, float64(n)/(1<<20), float64(len(data))/(1<<20))
		if n > uint64(len(data))+tt.budget {
			t.Errorf("%s: Decompress of %d bytes allocated %d", tt.alg, len(data), n)
		}
	}
}
