package compression_test

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"io"
	"testing"

	"github.com/klauspost/compress/snappy"

	"github.com/h2grpc/h2grpc/status"
)

// fuzzMaxLimit keeps the fuzzer's limits, and so its outputs, small.
const fuzzMaxLimit = 1 << 20

// FuzzDecompress feeds arbitrary bytes to an algorithm's Decompress with an
// arbitrary limit. It must not panic, must not return more than the limit,
// must fail only with RESOURCE_EXHAUSTED or INTERNAL and then give dst back,
// and, where a reference decoder exists, must agree with it. The data is
// also round-tripped through Compress.
func FuzzDecompress(f *testing.F) {
	// The committed corpus (testdata/fuzz/FuzzDecompress) holds a valid
	// message of each algorithm; these add the same as plain text.
	for i, name := range algorithms {
		f.Add(compress(f, get(f, name), []byte("hello, hello, hello, fuzzer")), uint8(i), uint32(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, alg uint8, limit32 uint32) {
		name := algorithms[int(alg)%len(algorithms)]
		c := get(t, name)
		limit := int(limit32 % (fuzzMaxLimit + 1))

		dst := []byte("dst")
		out, err := c.Decompress(dst, data, limit)
		if err != nil {
			if code := status.CodeOf(err); code != status.ResourceExhausted && code != status.Internal {
				t.Fatalf("%s: Decompress error %v, want RESOURCE_EXHAUSTED or INTERNAL", name, err)
			}
			if string(out) != "dst" {
				t.Fatalf("%s: Decompress error returned %q, want dst back", name, out)
			}
		} else {
			if !bytes.HasPrefix(out, dst) {
				t.Fatalf("%s: Decompress lost dst", name)
			}
			if n := len(out) - len(dst); n > limit {
				t.Fatalf("%s: Decompress returned %d bytes, more than the limit %d", name, n, limit)
			}
			if want, ok := referenceDecode(name, data); ok && !bytes.Equal(out[len(dst):], want) {
				t.Fatalf("%s: Decompress gave %d bytes, the reference decoder %d", name, len(out)-len(dst), len(want))
			}
		}

		comp, err := c.Compress(nil, data)
		if err != nil {
			t.Fatalf("%s: Compress: %v", name, err)
		}
		back, err := c.Decompress(nil, comp, len(data))
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%s: round trip of %d bytes gave %d, %v", name, len(data), len(back), err)
		}
	})
}

// referenceDecode decodes src with a decoder other than the one under test,
// when there is one: the standard library for gzip and zlib, klauspost's port
// of golang/snappy's stream reader for snappy. It reports false when the
// reference fails or has none.
func referenceDecode(name string, src []byte) ([]byte, bool) {
	var r io.Reader
	var err error
	switch name {
	case "gzip":
		r, err = stdgzip.NewReader(bytes.NewReader(src))
	case "deflate":
		r, err = stdzlib.NewReader(bytes.NewReader(src))
	case "snappy":
		r = snappy.NewReader(bytes.NewReader(src))
	default:
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	out, err := io.ReadAll(io.LimitReader(r, fuzzMaxLimit+1))
	return out, err == nil
}
