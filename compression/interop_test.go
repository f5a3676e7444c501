package compression_test

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/status"
)

// These tests check that h2grpc speaks each format as other implementations
// do, with encoders and decoders that are not the ones under test: the
// standard library for gzip and zlib, the zstd command-line tool and files it
// wrote, python-snappy's framing over the C++ snappy library (golden files,
// see testdata/README.md), and streams built by hand.

func interopData() map[string][]byte {
	return map[string][]byte{
		"empty":  nil,
		"one":    {0},
		"text":   textBytes(100 << 10),
		"random": randomBytes(70<<10, 11),
	}
}

func TestGzipStdlib(t *testing.T) {
	c := get(t, "gzip")
	for name, data := range interopData() {
		// The standard library decodes ours.
		r, err := stdgzip.NewReader(bytes.NewReader(compress(t, c, data)))
		if err != nil {
			t.Fatalf("%s: compress/gzip NewReader: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: compress/gzip read %d bytes, %v; want %d", name, len(got), err, len(data))
		}

		// We decode the standard library's, at every level, with header
		// fields set.
		for _, level := range []int{stdgzip.HuffmanOnly, stdgzip.NoCompression, stdgzip.BestSpeed, stdgzip.DefaultCompression, stdgzip.BestCompression} {
			var b bytes.Buffer
			w, _ := stdgzip.NewWriterLevel(&b, level)
			w.Name, w.Comment, w.Extra = "message.bin", "a comment", []byte("extra")
			w.Write(data)
			w.Close()
			got, err := c.Decompress(nil, b.Bytes(), len(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: Decompress(compress/gzip level %d) = %d bytes, %v", name, level, len(got), err)
			}
		}
	}

	// The header is compress/gzip's: no name, no time, unknown OS.
	var std bytes.Buffer
	w := stdgzip.NewWriter(&std)
	w.Write([]byte("x"))
	w.Close()
	if got := compress(t, c, []byte("x")); !bytes.Equal(got[:10], std.Bytes()[:10]) {
		t.Errorf("gzip header % x, compress/gzip writes % x", got[:10], std.Bytes()[:10])
	}

	// Several members decode as their concatenation, as with compress/gzip.
	var b bytes.Buffer
	for _, part := range []string{"first member, ", "second member"} {
		w := stdgzip.NewWriter(&b)
		w.Write([]byte(part))
		w.Close()
	}
	got, err := c.Decompress(nil, b.Bytes(), 100)
	if err != nil || string(got) != "first member, second member" {
		t.Fatalf("Decompress(two members) = %q, %v", got, err)
	}
	_, err = c.Decompress(nil, b.Bytes(), len("first member, second member")-1)
	checkCode(t, err, status.ResourceExhausted, "two members over the limit")
}

func TestDeflateStdlib(t *testing.T) {
	c := get(t, "deflate")
	for name, data := range interopData() {
		comp := compress(t, c, data)
		// The zlib header (RFC 1950): method 8, a check multiple of 31. Raw
		// DEFLATE would have neither.
		if comp[0]&0x0f != 8 || binary.BigEndian.Uint16(comp)%31 != 0 {
			t.Fatalf("%s: output starts % x, not a zlib header", name, comp[:2])
		}
		r, err := stdzlib.NewReader(bytes.NewReader(comp))
		if err != nil {
			t.Fatalf("%s: compress/zlib NewReader: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: compress/zlib read %d bytes, %v; want %d", name, len(got), err, len(data))
		}

		for _, level := range []int{stdzlib.HuffmanOnly, stdzlib.NoCompression, stdzlib.BestSpeed, stdzlib.DefaultCompression, stdzlib.BestCompression} {
			var b bytes.Buffer
			w, _ := stdzlib.NewWriterLevel(&b, level)
			w.Write(data)
			w.Close()
			got, err := c.Decompress(nil, b.Bytes(), len(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: Decompress(compress/zlib level %d) = %d bytes, %v", name, level, len(got), err)
			}
		}
	}

	// A zlib stream with a preset dictionary is refused: gRPC has none to
	// give.
	var b bytes.Buffer
	w, _ := stdzlib.NewWriterLevelDict(&b, stdzlib.DefaultCompression, []byte("dictionary"))
	w.Write([]byte("dictionary words"))
	w.Close()
	_, err := c.Decompress(nil, b.Bytes(), 100)
	checkCode(t, err, status.Internal, "zlib stream with a dictionary")
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestZstdGolden(t *testing.T) {
	want := readTestdata(t, "golden.txt")
	c := get(t, "zstd")
	for _, file := range []string{
		"golden.txt.zst",        // zstd -19: content size and checksum
		"golden.txt.nosize.zst", // zstd -3 from a pipe: no content size, no checksum
	} {
		comp := readTestdata(t, file)
		got, err := c.Decompress(nil, comp, len(want))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Decompress(%s) = %d bytes, %v; want golden.txt", file, len(got), err)
		}
		_, err = c.Decompress(nil, comp, len(want)-1)
		checkCode(t, err, status.ResourceExhausted, file+" over the limit")
	}
}

// TestZstdCLI checks both directions against the zstd command-line tool (the
// reference implementation), when it is installed.
func TestZstdCLI(t *testing.T) {
	zstdCmd, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("the zstd command is not installed (Debian: apt-get install zstd); TestZstdGolden covers decoding")
	}
	c := get(t, "zstd")
	for name, data := range interopData() {
		for level := 1; level <= 4; level++ {
			lc, _ := compression.WithLevel("zstd", level)
			cmd := exec.Command(zstdCmd, "-d", "-q", "-c")
			cmd.Stdin = bytes.NewReader(compress(t, lc, data))
			got, err := cmd.Output()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: zstd -d of our level %d = %d bytes, %v", name, level, len(got), err)
			}
		}
		for _, args := range [][]string{{"-1"}, {"-19", "--no-check"}, {"-3", "--no-content-size"}, {"--long=20", "--no-content-size"}} {
			cmd := exec.Command(zstdCmd, append(args, "-q", "-c")...)
			cmd.Stdin = bytes.NewReader(data)
			comp, err := cmd.Output()
			if err != nil {
				t.Fatalf("zstd %v: %v", args, err)
			}
			got, err := c.Decompress(nil, comp, len(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: Decompress(zstd %v) = %d bytes, %v", name, args, len(got), err)
			}
		}
	}
}

// TestZstdFrames covers frame layouts EncodeAll does not make.
func TestZstdFrames(t *testing.T) {
	c := get(t, "zstd")
	a, b := textBytes(5000), randomBytes(300, 5)
	frameA, frameB := compress(t, c, a), compress(t, c, b)
	skippable := []byte{0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'}
	ab := slices.Concat(a, b)

	// A streaming encoder, flushed often: frames with no content size and
	// many blocks, whose sizes the headers do not bound.
	var streamed bytes.Buffer
	enc, _ := zstd.NewWriter(&streamed, zstd.WithWindowSize(1<<16), zstd.WithEncoderConcurrency(1))
	many := textBytes(300 << 10)
	for p := many; len(p) > 0; p = p[min(len(p), 1000):] {
		enc.Write(p[:min(len(p), 1000)])
		enc.Flush()
	}
	enc.Close()

	tests := []struct {
		name string
		src  []byte
		want []byte
	}{
		{"two frames", slices.Concat(frameA, frameB), ab},
		{"skippable frames around", slices.Concat(skippable, frameA, skippable, frameB, skippable), ab},
		{"only a skippable frame", skippable, nil},
		{"streamed, many blocks", streamed.Bytes(), many},
		{"streamed then framed", slices.Concat(streamed.Bytes(), frameA), slices.Concat(many, a)},
		{"hand-built raw block", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 5, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}, []byte("hello")},
		{"hand-built RLE block", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 10, 0x53, 0, 0, 'a'}, []byte("aaaaaaaaaa")},
		{"hand-built, no content size", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x19, 0, 0, 'a', 'b', 'c'}, []byte("abc")},
	}
	for _, tt := range tests {
		got, err := c.Decompress(nil, tt.src, len(tt.want))
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: Decompress = %d bytes, %v; want %d", tt.name, len(got), err, len(tt.want))
			continue
		}
		if len(tt.want) > 0 {
			_, err = c.Decompress(nil, tt.src, len(tt.want)-1)
			checkCode(t, err, status.ResourceExhausted, tt.name+" over the limit")
		}
	}

	for _, tt := range []struct {
		name string
		src  []byte
	}{
		{"content size larger than the blocks", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 6, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}},
		{"content size smaller than the blocks", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 4, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}},
		{"reserved block type", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 5, 0x2f, 0, 0, 'h', 'e', 'l', 'l', 'o'}},
		{"reserved header bit", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x28, 5, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}},
		{"unknown dictionary", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x21, 7, 5, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}},
		{"truncated skippable frame", skippable[:9]},
		{"magic only", []byte{0x28, 0xb5, 0x2f, 0xfd}},
		{"bad magic", []byte{0x28, 0xb5, 0x2f, 0xfe, 0x20, 0, 1, 0, 0}},
	} {
		_, err := c.Decompress(nil, tt.src, 100)
		checkCode(t, err, status.Internal, tt.name)
	}
}

func TestSnappyGolden(t *testing.T) {
	want := readTestdata(t, "golden.txt")
	comp := readTestdata(t, "golden.txt.sz") // one compressed chunk, one uncompressed
	c := get(t, "snappy")
	got, err := c.Decompress(nil, comp, len(want))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Decompress(golden.txt.sz) = %d bytes, %v; want golden.txt", len(got), err)
	}
	_, err = c.Decompress(nil, comp, len(want)-1)
	checkCode(t, err, status.ResourceExhausted, "golden.txt.sz over the limit")
}

// streamIdentifier is the chunk every framed snappy stream starts with, as
// github.com/golang/snappy's NewBufferedWriter writes it.
var streamIdentifier = []byte{0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59}

func TestSnappyStreamIdentifier(t *testing.T) {
	c := get(t, "snappy")
	for name, data := range interopData() {
		if comp := compress(t, c, data); !bytes.HasPrefix(comp, streamIdentifier) {
			t.Errorf("%s: output starts % x, want the stream identifier % x", name, comp[:min(len(comp), 10)], streamIdentifier)
		}
	}
}

// maskedCRC32C is the framing format's checksum, written out here apart from
// the code under test. TestSnappyHandBuilt pins it to values computed by a
// bitwise CRC-32C in Python.
func maskedCRC32C(b []byte) uint32 {
	c := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

func TestSnappyHandBuilt(t *testing.T) {
	for s, want := range map[string]uint32{
		"hello, snappy framing": 0x2fa14105,
		"a literal-only block":  0x440805be,
	} {
		if got := maskedCRC32C([]byte(s)); got != want {
			t.Fatalf("maskedCRC32C(%q) = %#x, want %#x", s, got, want)
		}
	}

	stream := slices.Concat(
		streamIdentifier,
		[]byte{0xfe, 3, 0, 0, 0, 0, 0},  // padding
		[]byte{0x80, 2, 0, 0, 'x', 'y'}, // reserved skippable
		[]byte{0x01, 25, 0, 0},          // uncompressed data, 4+21 bytes
		[]byte{0x05, 0x41, 0xa1, 0x2f},  // its masked CRC-32C
		[]byte("hello, snappy framing"), //
		streamIdentifier,                // streams may be concatenated
		[]byte{0x00, 26, 0, 0},          // compressed data, 4+22 bytes
		[]byte{0xbe, 0x05, 0x08, 0x44},  // masked CRC-32C of the decoded data
		[]byte{20, 19 << 2},             // snappy block: length 20, one 20-byte literal
		[]byte("a literal-only block"),  //
		[]byte{0x9a, 0, 0, 0},           // an empty skippable chunk at the end
	)
	want := "hello, snappy framinga literal-only block"
	c := get(t, "snappy")
	got, err := c.Decompress(nil, stream, len(want))
	if err != nil || string(got) != want {
		t.Fatalf("Decompress(hand-built stream) = %q, %v; want %q", got, err, want)
	}
	// klauspost's port of golang/snappy's reader agrees.
	got, err = io.ReadAll(snappy.NewReader(bytes.NewReader(stream)))
	if err != nil || string(got) != want {
		t.Fatalf("snappy.NewReader(hand-built stream) = %q, %v", got, err)
	}

	uncompressedChunk := func(data []byte) []byte {
		n := 4 + len(data)
		h := []byte{0x01, byte(n), byte(n >> 8), byte(n >> 16), 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(h[4:], maskedCRC32C(data))
		return append(h, data...)
	}
	if got, err := c.Decompress(nil, slices.Concat(streamIdentifier, uncompressedChunk(make([]byte, 65536))), 65536); err != nil || len(got) != 65536 {
		t.Fatalf("Decompress(64 KiB chunk) = %d bytes, %v", len(got), err)
	}
	badCRC := slices.Concat(streamIdentifier, uncompressedChunk([]byte("data")))
	badCRC[len(badCRC)-5] ^= 1
	for _, tt := range []struct {
		name string
		src  []byte
	}{
		{"no stream identifier", uncompressedChunk([]byte("data"))},
		{"padding before the stream identifier", slices.Concat([]byte{0xfe, 0, 0, 0}, streamIdentifier)},
		{"S2 stream identifier", []byte{0xff, 6, 0, 0, 'S', '2', 's', 'T', 'w', 'O'}},
		{"short stream identifier", []byte{0xff, 5, 0, 0, 's', 'N', 'a', 'P', 'p'}},
		{"reserved unskippable chunk", slices.Concat(streamIdentifier, []byte{0x02, 0, 0, 0})},
		{"reserved unskippable chunk 0x7f", slices.Concat(streamIdentifier, []byte{0x7f, 1, 0, 0, 0})},
		{"bad checksum", badCRC},
		{"chunk over 64 KiB", slices.Concat(streamIdentifier, uncompressedChunk(make([]byte, 65537)))},
		{"data chunk shorter than a checksum", slices.Concat(streamIdentifier, []byte{0x01, 3, 0, 0, 1, 2, 3})},
		{"truncated chunk", slices.Concat(streamIdentifier, []byte{0x01, 9, 0, 0, 1, 2, 3})},
		{"truncated header", slices.Concat(streamIdentifier, []byte{0x01, 9})},
		{"compressed block too long", slices.Concat(streamIdentifier, []byte{0x00, 4 + 4, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0})},
		{"compressed block bad", slices.Concat(streamIdentifier, []byte{0x00, 4 + 2, 0, 0, 0, 0, 0, 0, 5, 0})},
	} {
		_, err := c.Decompress(nil, tt.src, 1<<20)
		checkCode(t, err, status.Internal, tt.name)
	}
}

// TestSnappyKlauspostStream checks both directions against klauspost's port
// of github.com/golang/snappy's stream API (NewBufferedWriter, NewReader).
func TestSnappyKlauspostStream(t *testing.T) {
	c := get(t, "snappy")
	for name, data := range interopData() {
		data = slices.Concat(data, data, data) // several chunks for the larger ones
		got, err := io.ReadAll(snappy.NewReader(bytes.NewReader(compress(t, c, data))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: snappy.NewReader read %d bytes, %v; want %d", name, len(got), err, len(data))
		}

		var b bytes.Buffer
		w := snappy.NewBufferedWriter(&b)
		w.Write(data)
		w.Close()
		if len(data) > 0 && !bytes.HasPrefix(b.Bytes(), streamIdentifier) {
			t.Fatalf("snappy.NewBufferedWriter wrote % x..., not the stream identifier", b.Bytes()[:10])
		}
		got, err = c.Decompress(nil, b.Bytes(), len(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: Decompress(snappy.NewBufferedWriter) = %d bytes, %v", name, len(got), err)
		}
	}
}
