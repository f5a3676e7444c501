package compression_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/status"
)

// algorithms are the built-in names, in preference order.
var algorithms = []string{"gzip", "deflate", "zstd", "snappy"}

// randomBytes returns n incompressible bytes, the same for the same seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// textBytes returns n bytes of compressible, but not trivially repetitive,
// text.
func textBytes(n int) []byte {
	var b bytes.Buffer
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d %s %s; ", i, words[i%len(words)], words[(i*7)%len(words)])
	}
	return b.Bytes()[:n]
}

// payload is a named test message.
type payload struct {
	name string
	data []byte
}

// payloads are the round-trip messages: sizes 0, 1, 1 KiB and 1 MiB, random
// and compressible.
func payloads() []payload {
	var ps []payload
	for _, n := range []int{0, 1, 1 << 10, 1 << 20} {
		ps = append(ps,
			payload{fmt.Sprintf("random-%d", n), randomBytes(n, uint64(n))},
			payload{fmt.Sprintf("text-%d", n), textBytes(n)},
		)
	}
	return ps
}

func get(t testing.TB, name string) compression.Compressor {
	t.Helper()
	c := compression.Get(name)
	if c == nil {
		t.Fatalf("Get(%q) = nil", name)
	}
	return c
}

func compress(t testing.TB, c compression.Compressor, data []byte) []byte {
	t.Helper()
	out, err := c.Compress(nil, data)
	if err != nil {
		t.Fatalf("%s: Compress(%d bytes): %v", c.Name(), len(data), err)
	}
	return out
}

// checkCode fails t unless err is a status error with code want.
func checkCode(t testing.TB, err error, want status.Code, what string) {
	t.Helper()
	if _, ok := status.FromError(err); !ok || status.CodeOf(err) != want {
		t.Fatalf("%s: error %v (%T), want a %v status", what, err, err, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, name := range algorithms {
		c := get(t, name)
		for _, p := range payloads() {
			t.Run(name+"/"+p.name, func(t *testing.T) {
				comp := compress(t, c, p.data)
				got, err := c.Decompress(nil, comp, len(p.data))
				if err != nil {
					t.Fatalf("Decompress: %v", err)
				}
				if !bytes.Equal(got, p.data) {
					t.Fatalf("Decompress gave %d bytes, want the %d compressed", len(got), len(p.data))
				}

				// Both directions append to dst and leave its bytes alone.
				prefix := []byte("prefix")
				comp2, err := c.Compress(slices.Clone(prefix), p.data)
				if err != nil || !bytes.Equal(comp2[:len(prefix)], prefix) || !bytes.Equal(comp2[len(prefix):], comp) {
					t.Fatalf("Compress(prefix) = %q..., %v; want the prefix and then the same output", comp2[:min(len(comp2), 8)], err)
				}
				got, err = c.Decompress(slices.Clone(prefix), comp, len(p.data))
				if err != nil || !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], p.data) {
					t.Fatalf("Decompress(prefix) = %d bytes, %v; want the prefix and the data", len(got), err)
				}

				// A dst with room is used in place.
				room := make([]byte, 0, len(p.data)+64)
				got, err = c.Decompress(room, comp, len(p.data))
				if err != nil || !bytes.Equal(got, p.data) || (len(p.data) > 0 && &got[0] != &room[:1][0]) {
					t.Fatalf("Decompress(dst with room): %v, in place: %v", err, len(got) > 0 && &got[0] == &room[:1][0])
				}
			})
		}
	}
}

func TestRoundTripLevels(t *testing.T) {
	levels := map[string][]int{
		"gzip":    {-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		"deflate": {-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		"zstd":    {1, 2, 3, 4},
		"snappy":  {0},
	}
	data := [][]byte{nil, textBytes(100 << 10), randomBytes(3000, 7)}
	for _, name := range algorithms {
		for _, level := range levels[name] {
			c, err := compression.WithLevel(name, level)
			if err != nil {
				t.Fatalf("WithLevel(%q, %d): %v", name, level, err)
			}
			if c.Name() != name {
				t.Fatalf("WithLevel(%q, %d).Name() = %q", name, level, c.Name())
			}
			for _, d := range data {
				comp := compress(t, c, d)
				// Any level decodes with the default compressor.
				got, err := get(t, name).Decompress(nil, comp, len(d))
				if err != nil || !bytes.Equal(got, d) {
					t.Fatalf("%s level %d: round trip of %d bytes: got %d bytes, %v", name, level, len(d), len(got), err)
				}
			}
		}
	}
}

func TestGet(t *testing.T) {
	for _, name := range algorithms {
		if c := compression.Get(name); c == nil || c.Name() != name {
			t.Errorf("Get(%q) = %v, want the %s compressor", name, c, name)
		}
	}
	for _, name := range []string{"", "identity", "GZIP", "Gzip", " gzip", "gzip ", "x-gzip", "br", "lz4", "zlib", "s2"} {
		if c := compression.Get(name); c != nil {
			t.Errorf("Get(%q) = %s compressor, want nil", name, c.Name())
		}
	}
	if !compression.RaceEnabled {
		if n := testing.AllocsPerRun(100, func() { compression.Get("snappy") }); n != 0 {
			t.Errorf("Get allocates %v times", n)
		}
	}
}

func TestNames(t *testing.T) {
	names := compression.Names()
	if !slices.Equal(names, algorithms) {
		t.Fatalf("Names() = %q, want %q", names, algorithms)
	}
	names[0] = "changed"
	if got := compression.Names(); got[0] != "gzip" {
		t.Fatalf("Names() after changing a returned slice = %q", got)
	}
}

func TestAcceptEncoding(t *testing.T) {
	if got, want := compression.AcceptEncoding(), strings.Join(algorithms, ","); got != want {
		t.Fatalf("AcceptEncoding() = %q, want %q", got, want)
	}
	for _, name := range compression.Names() {
		if !compression.Advertises(compression.AcceptEncoding(), name) {
			t.Errorf("AcceptEncoding() does not advertise %q", name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = compression.AcceptEncoding() }); n != 0 {
		t.Errorf("AcceptEncoding allocates %v times", n)
	}
}

func TestWithLevel(t *testing.T) {
	tests := []struct {
		name    string
		level   int
		wantErr bool
	}{
		{"gzip", -3, true}, // klauspost's StatelessCompression is not offered
		{"gzip", -2, false},
		{"gzip", -1, false},
		{"gzip", 0, false},
		{"gzip", 9, false},
		{"gzip", 10, true},
		{"deflate", -3, true},
		{"deflate", -2, false},
		{"deflate", 9, false},
		{"deflate", 10, true},
		{"zstd", 0, true},
		{"zstd", 1, false},
		{"zstd", 4, false},
		{"zstd", 5, true},
		{"zstd", -1, true},
		{"snappy", 0, false},
		{"snappy", 1, true},
		{"snappy", -1, true},
		{"identity", 0, true},
		{"", 0, true},
		{"brotli", 1, true},
	}
	for _, tt := range tests {
		c, err := compression.WithLevel(tt.name, tt.level)
		if (err != nil) != tt.wantErr {
			t.Errorf("WithLevel(%q, %d) error = %v, want error: %v", tt.name, tt.level, err, tt.wantErr)
			continue
		}
		if err == nil && c.Name() != tt.name {
			t.Errorf("WithLevel(%q, %d).Name() = %q", tt.name, tt.level, c.Name())
		}
		if err != nil && c != nil {
			t.Errorf("WithLevel(%q, %d) = %v with an error, want nil", tt.name, tt.level, c)
		}
	}

	// The same arguments give the same shared compressor; the default level
	// is Get's.
	for _, tt := range []struct {
		name  string
		level int
	}{{"gzip", -1}, {"deflate", -1}, {"zstd", 2}, {"snappy", 0}} {
		c, _ := compression.WithLevel(tt.name, tt.level)
		if c != compression.Get(tt.name) {
			t.Errorf("WithLevel(%q, %d) is not Get(%q)", tt.name, tt.level, tt.name)
		}
	}
	a, _ := compression.WithLevel("gzip", 9)
	b, _ := compression.WithLevel("gzip", 9)
	if a != b {
		t.Errorf("WithLevel(gzip, 9) twice gave two compressors")
	}
}

// Levels change the output: a check that the level reaches the encoder.
func TestWithLevelChangesOutput(t *testing.T) {
	data := textBytes(64 << 10)
	for _, tt := range []struct {
		name     string
		low, hi  int
		lowIsBig bool
	}{{"gzip", 1, 9, true}, {"deflate", 1, 9, true}, {"zstd", 1, 4, true}, {"gzip", 0, 9, true}} {
		lo, _ := compression.WithLevel(tt.name, tt.low)
		hi, _ := compression.WithLevel(tt.name, tt.hi)
		a, b := compress(t, lo, data), compress(t, hi, data)
		if len(a) <= len(b) {
			t.Errorf("%s: level %d gave %d bytes, level %d gave %d; want the higher level smaller", tt.name, tt.low, len(a), tt.hi, len(b))
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	for _, name := range algorithms {
		c := get(t, name)
		for _, p := range []payload{
			{"empty", nil},
			{"one", []byte{'x'}},
			{"text-1KiB", textBytes(1 << 10)},
			{"random-70KiB", randomBytes(70<<10, 3)}, // more than one snappy chunk
			{"text-1MiB", textBytes(1 << 20)},
			{"zeros-1MiB", make([]byte, 1<<20)},
		} {
			t.Run(name+"/"+p.name, func(t *testing.T) {
				comp := compress(t, c, p.data)
				n := len(p.data)

				// Exactly at the limit succeeds, also into a dst that is
				// exactly full then, and into one with a prefix.
				for _, dst := range [][]byte{nil, make([]byte, 0, n), []byte("abc")} {
					got, err := c.Decompress(dst, comp, n)
					if err != nil || !bytes.Equal(got[len(dst):], p.data) {
						t.Fatalf("Decompress(limit %d = size, cap(dst) %d) = %d bytes, %v", n, cap(dst), len(got), err)
					}
				}
				if n == 0 {
					// A negative limit is a limit of 0.
					if _, err := c.Decompress(nil, comp, -1); err != nil {
						t.Fatalf("Decompress(empty, limit -1): %v", err)
					}
					return
				}

				// One byte less fails with RESOURCE_EXHAUSTED and gives back
				// dst as it was, for every dst shape.
				for _, dst := range [][]byte{nil, make([]byte, 0, n), make([]byte, 0, n-1), []byte("abc")} {
					got, err := c.Decompress(dst, comp, n-1)
					checkCode(t, err, status.ResourceExhausted, fmt.Sprintf("Decompress(limit %d, cap(dst) %d)", n-1, cap(dst)))
					if len(got) != len(dst) || (len(dst) > 0 && &got[0] != &dst[0]) {
						t.Fatalf("Decompress error returned %d bytes, want dst back (%d bytes)", len(got), len(dst))
					}
				}
				// No practical limit: nothing overflows.
				if got, err := c.Decompress(nil, comp, math.MaxInt); err != nil || !bytes.Equal(got, p.data) {
					t.Fatalf("Decompress(limit MaxInt) = %d bytes, %v", len(got), err)
				}
				for _, limit := range []int{0, -5, n / 2, math.MinInt} {
					_, err := c.Decompress(nil, comp, limit)
					checkCode(t, err, status.ResourceExhausted, fmt.Sprintf("Decompress(limit %d)", limit))
				}
			})
		}
	}
}

func TestDecompressCorrupt(t *testing.T) {
	data := textBytes(10 << 10)
	for _, name := range algorithms {
		c := get(t, name)
		comp := compress(t, c, data)
		t.Run(name, func(t *testing.T) {
			corrupt := map[string][]byte{
				"garbage":  []byte("this is not compressed data at all, not in any format"),
				"zeros":    make([]byte, 64),
				"trailing": append(slices.Clone(comp), 'x'),
			}
			// A flipped bit in every part of the message: header, data,
			// checksum. Every format here carries a checksum.
			for _, i := range []int{len(comp) / 3, len(comp) / 2, len(comp) * 2 / 3, len(comp) - 1} {
				b := slices.Clone(comp)
				b[i] ^= 0x10
				corrupt[fmt.Sprintf("flip-%d", i)] = b
			}
			for what, b := range corrupt {
				dst := []byte("keep")
				got, err := c.Decompress(dst, b, 1<<20)
				checkCode(t, err, status.Internal, what)
				if string(got) != "keep" {
					t.Fatalf("%s: Decompress error returned %q, want dst back", what, got)
				}
			}

			// Every cut of the message either fails with INTERNAL or, for
			// snappy, whose chunks are complete units, gives a prefix of the
			// data.
			for n := range len(comp) {
				got, err := c.Decompress(nil, comp[:n], 1<<20)
				if err == nil && name == "snappy" && bytes.HasPrefix(data, got) {
					continue
				}
				if err == nil && n == 0 && len(got) == 0 && (name == "zstd" || name == "snappy") {
					continue // nothing decodes to nothing
				}
				checkCode(t, err, status.Internal, fmt.Sprintf("Decompress(first %d of %d bytes)", n, len(comp)))
			}
		})
	}
}

// Decompress of garbage never allocates a new compressor's worth per call
// once warm; compress and decompress of a warm message allocate nothing.
func TestSteadyStateAllocs(t *testing.T) {
	if compression.RaceEnabled {
		t.Skip("sync.Pool drops Puts under the race detector")
	}
	msg := textBytes(1 << 10)
	for _, name := range algorithms {
		c := get(t, name)
		comp := compress(t, c, msg)
		cbuf := make([]byte, 0, 4<<10)
		dbuf := make([]byte, 0, 4<<10)
		if n := testing.AllocsPerRun(200, func() { cbuf, _ = c.Compress(cbuf[:0], msg) }); n > 0 {
			t.Errorf("%s: Compress allocates %v times per message", name, n)
		}
		if n := testing.AllocsPerRun(200, func() { dbuf, _ = c.Decompress(dbuf[:0], comp, 4<<10) }); n > 0 {
			t.Errorf("%s: Decompress allocates %v times per message", name, n)
		}
	}
}
