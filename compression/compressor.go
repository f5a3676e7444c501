package compression

import (
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/h2grpc/h2grpc/status"
)

// Compressor is one grpc-encoding algorithm.
//
// Implementations are safe for concurrent use and pool their encoders and
// decoders: no compressor state is allocated per message once warm.
type Compressor interface {
	// Name returns the algorithm's grpc-encoding name: "gzip", "deflate",
	// "zstd" or "snappy" for the built-in ones.
	Name() string

	// Compress appends the compressed form of src to dst and returns the
	// extended slice. dst and src must not overlap. A dst with enough spare
	// capacity is used in place.
	Compress(dst, src []byte) ([]byte, error)

	// Decompress appends the decompressed form of src to dst and returns the
	// extended slice. dst and src must not overlap.
	//
	// If the output would be longer than limit bytes (a negative limit counts
	// as 0) it stops and returns a RESOURCE_EXHAUSTED *status.Error without
	// having allocated much more than limit bytes, however small src is.
	// Output of exactly limit bytes succeeds. Corrupt or truncated input
	// returns an INTERNAL *status.Error. On error the returned slice is dst
	// with its original length, though bytes past that length, up to its
	// capacity, may have been overwritten.
	Decompress(dst, src []byte, limit int) ([]byte, error)
}

// The built-in algorithms' names, in preference order.
const (
	nameGzip    = "gzip"
	nameDeflate = "deflate"
	nameZstd    = "zstd"
	nameSnappy  = "snappy"
)

// acceptEncoding is the grpc-accept-encoding value for every built-in
// algorithm, in the order of [Names].
const acceptEncoding = nameGzip + "," + nameDeflate + "," + nameZstd + "," + nameSnappy

// Levels, in the numbering of compress/flate and of zstd.EncoderLevel.
const (
	minFlateLevel = -2 // flate.HuffmanOnly
	maxFlateLevel = 9  // flate.BestCompression
	minZstdLevel  = int(zstd.SpeedFastest)
	maxZstdLevel  = int(zstd.SpeedBestCompression)

	defaultFlateLevel = -1 // flate.DefaultCompression
	defaultZstdLevel  = int(zstd.SpeedDefault)
)

// The compressors at every level. Each is cheap until used: pools start empty
// and a zstd encoder is made on first use.
var (
	gzipLevels    [maxFlateLevel - minFlateLevel + 1]*flateCompressor
	deflateLevels [maxFlateLevel - minFlateLevel + 1]*flateCompressor
	zstdLevels    [maxZstdLevel - minZstdLevel + 1]*zstdCompressor
	snappyDefault = &snappyCompressor{}
)

func init() {
	for i := range gzipLevels {
		gzipLevels[i] = newFlateCompressor(formatGzip, minFlateLevel+i)
		deflateLevels[i] = newFlateCompressor(formatZlib, minFlateLevel+i)
	}
	for i := range zstdLevels {
		zstdLevels[i] = newZstdCompressor(zstd.EncoderLevel(minZstdLevel + i))
	}
}

// Get returns the built-in compressor named name at its default level, or nil
// if there is none: names are matched exactly, and "identity" (no
// compression) is not a Compressor. It does not allocate.
func Get(name string) Compressor {
	switch name {
	case nameGzip:
		return gzipLevels[defaultFlateLevel-minFlateLevel]
	case nameDeflate:
		return deflateLevels[defaultFlateLevel-minFlateLevel]
	case nameZstd:
		return zstdLevels[defaultZstdLevel-minZstdLevel]
	case nameSnappy:
		return snappyDefault
	}
	return nil
}

// Levels chooses a compression level per algorithm: it maps an
// algorithm's name to its compressor at the chosen level (from WithLevel).
// Algorithms it does not name are at their default level. The nil Levels
// is every algorithm at its default.
type Levels map[string]Compressor

// Get returns the compressor of the named algorithm at l's level for it,
// or nil if there is none (as Get).
func (l Levels) Get(name string) Compressor {
	if c, ok := l[name]; ok {
		return c
	}
	return Get(name)
}

// With returns a copy of l with the named algorithm at level; it fails as
// WithLevel does.
func (l Levels) With(name string, level int) (Levels, error) {
	c, err := WithLevel(name, level)
	if err != nil {
		return l, err
	}
	out := make(Levels, len(l)+1)
	for k, v := range l {
		out[k] = v
	}
	out[name] = c
	return out, nil
}

// Names returns the built-in algorithms' names in preference order: "gzip",
// "deflate", "zstd", "snappy". The slice is new on each call.
func Names() []string {
	return []string{nameGzip, nameDeflate, nameZstd, nameSnappy}
}

// AcceptEncoding returns the value of grpc-accept-encoding that advertises
// every built-in algorithm: "gzip,deflate,zstd,snappy". It does not allocate.
func AcceptEncoding() string {
	return acceptEncoding
}

// WithLevel returns the compressor of the named algorithm at a compression
// level:
//
//   - "gzip" and "deflate": -2 to 9, with the meaning of compress/flate's
//     constants (-2 HuffmanOnly, -1 DefaultCompression, 0 NoCompression,
//     1 BestSpeed to 9 BestCompression);
//   - "zstd": 1 to 4, a zstd.EncoderLevel (1 SpeedFastest, 2 SpeedDefault,
//     3 SpeedBetterCompression, 4 SpeedBestCompression);
//   - "snappy": 0 only, as snappy has no levels.
//
// Calls with the same arguments return the same shared compressor, so a
// caller need not keep it. It fails for an unknown name, "identity" included,
// and for a level out of range.
func WithLevel(name string, level int) (Compressor, error) {
	switch name {
	case nameGzip, nameDeflate:
		if level < minFlateLevel || level > maxFlateLevel {
			return nil, fmt.Errorf("compression: %s level %d out of range [%d, %d]", name, level, minFlateLevel, maxFlateLevel)
		}
		if name == nameGzip {
			return gzipLevels[level-minFlateLevel], nil
		}
		return deflateLevels[level-minFlateLevel], nil
	case nameZstd:
		if level < minZstdLevel || level > maxZstdLevel {
			return nil, fmt.Errorf("compression: zstd level %d out of range [%d, %d]", level, minZstdLevel, maxZstdLevel)
		}
		return zstdLevels[level-minZstdLevel], nil
	case nameSnappy:
		if level != 0 {
			return nil, fmt.Errorf("compression: snappy has no levels, got %d", level)
		}
		return snappyDefault, nil
	}
	return nil, fmt.Errorf("compression: unknown algorithm %q", name)
}

// errTooLarge is Decompress's RESOURCE_EXHAUSTED error.
func errTooLarge(name string, limit int) error {
	return status.Newf(status.ResourceExhausted,
		"grpc: %s-decompressed message larger than the limit of %d bytes", name, limit)
}

// errCorrupt is Decompress's INTERNAL error for input that does not decode.
func errCorrupt(name string, err error) error {
	return status.Newf(status.Internal, "grpc: invalid %s-compressed message: %v", name, err)
}

// errCompress is Compress's INTERNAL error. The built-in encoders write to
// memory and do not fail in practice.
func errCompress(name string, err error) error {
	return status.Newf(status.Internal, "grpc: %s compression failed: %v", name, err)
}
