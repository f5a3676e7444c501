// Package metadata is gRPC request and response metadata and the wire
// conventions of its headers.
//
// [MD] maps lowercase keys to values in order, the same shape as grpc-go's
// metadata.MD, so the grpc-go compatible surface converts with a plain type
// conversion. The package also owns the header rules of SPEC.md, "Requests":
//
//   - which keys the application may use ([ValidKey], [IsReserved]) and which
//     values it may send ([ValidValue], [MD.Validate]);
//   - the "-bin" base64 form ([IsBinKey], [EncodeBin], [DecodeBin]);
//   - the grpc-timeout codec ([EncodeTimeout], [DecodeTimeout]).
//
// # Imports
//
// metadata is a leaf: it may import only the standard library (and, if it
// ever needs them, google.golang.org/protobuf and
// google.golang.org/genproto/googleapis/rpc/status). It must never import
// google.golang.org/grpc or another h2grpc package.
//
// # Concurrency
//
// The functions are safe for concurrent use. An [MD] is a plain map: reading
// it from several goroutines is safe, but a goroutine that changes it (Set,
// Append, Delete) must not run alongside any other use. Hand a copy
// ([MD.Copy]) to code that may change it.
package metadata
