package compression_test

import (
	"testing"
)

// benchMessage is a 1 KiB message, about as compressible as a typical
// protobuf with text fields.
var benchMessage = textBytes(1 << 10)

// The benchmarks reuse dst, as a transport reusing its buffers does: in the
// steady state a message costs no allocation.
func BenchmarkCompress(b *testing.B) {
	for _, name := range algorithms {
		b.Run(name, func(b *testing.B) {
			c := get(b, name)
			dst := make([]byte, 0, 4<<10)
			b.SetBytes(int64(len(benchMessage)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = c.Compress(dst[:0], benchMessage)
			}
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, name := range algorithms {
		b.Run(name, func(b *testing.B) {
			c := get(b, name)
			comp := compress(b, c, benchMessage)
			dst := make([]byte, 0, 4<<10)
			b.SetBytes(int64(len(benchMessage)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = c.Decompress(dst[:0], comp, 4<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecompressFresh decodes into a nil dst each time: the one
// allocation left is the output itself.
func BenchmarkDecompressFresh(b *testing.B) {
	for _, name := range algorithms {
		b.Run(name, func(b *testing.B) {
			c := get(b, name)
			comp := compress(b, c, benchMessage)
			b.SetBytes(int64(len(benchMessage)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decompress(nil, comp, 4<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
