// Package compression is the per-message compression of gRPC: the built-in
// grpc-encoding algorithms and the negotiation of which one a response uses.
//
// A [Compressor] is one algorithm, found by its grpc-encoding name with [Get]
// or made at a chosen level with [WithLevel]. Four are built in, all from
// github.com/klauspost/compress (see SPEC.md, "Compression"):
//
//   - "gzip": RFC 1952, as compress/gzip and grpc-go write it;
//   - "deflate": the zlib format of RFC 1950 (not raw RFC 1951 deflate), as
//     gRPC's C core and nameko-grpc use it;
//   - "zstd": Zstandard frames (RFC 8878);
//   - "snappy": the Snappy framing format (stream identifier, CRC-32C per
//     chunk), the format github.com/golang/snappy's NewBufferedWriter writes,
//     not the bare block format.
//
// "identity" means no compression and is not a Compressor.
//
// [Names] and [AcceptEncoding] list the algorithms for grpc-accept-encoding;
// [Negotiate] and [Advertises] decide what a peer may be sent.
//
// # The size limit
//
// [Compressor.Decompress] takes the receiver's message size limit and does
// not allocate much more than that limit, however small and however
// malicious the compressed input: a decompression bomb fails with
// RESOURCE_EXHAUSTED before its output exists. Corrupt input fails with
// INTERNAL. Both errors are *status.Error values from h2grpc's status
// package. Each format is sized as well as it allows:
//
//   - snappy: the chunk headers give the exact output size, so a message
//     over the limit is refused before anything is allocated, and one under
//     it costs one exact allocation.
//   - zstd: the frame and block headers give the least and the most output.
//     Frames that state their content size (every encoder that sees the
//     whole message does) are refused before anything is allocated, or
//     decoded into one exact allocation (a frame that lies about its size
//     may cost one more, small or bounded by the limit). Frames without
//     one, from streaming encoders, are decoded the same way when their
//     blocks are few enough for the limit, and otherwise streamed, when the
//     decoder's window (pooled, at most the limit) comes on top of the
//     limit; a larger window is decoded into the limit plus a block, which
//     klauspost's generic (non-amd64) code may reallocate once, by about a
//     quarter, before it stops.
//   - gzip and deflate: DEFLATE states no size (a gzip trailer's is only a
//     hint), so the output is read into dst's spare capacity, then into
//     pooled 64 KiB chunks, until the limit is passed or the stream ends, and
//     dst then grows once, exactly: at most the limit plus a chunk.
//
// # Imports
//
// compression is a leaf: it may import only the standard library,
// github.com/klauspost/compress and h2grpc's status package (for its errors).
// It must never import google.golang.org/grpc or any other h2grpc package.
//
// # Concurrency
//
// Every function is safe for concurrent use, and so is every Compressor: the
// built-in ones pool their encoders and decoders, so a message costs no new
// compressor state once the pools are warm.
package compression
