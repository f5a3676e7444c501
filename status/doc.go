// Package status is h2grpc's one RPC error type and the wire forms of a gRPC
// status.
//
// An RPC ends with a status: a [Code], a message and optional details
// (google.rpc.Status). h2grpc represents a non-OK status as an [*Error]; a nil
// *Error, or a nil error, means OK. The package also holds every wire
// convention that concerns a status (see SPEC.md, "Responses" and
// "RST_STREAM and connection events"):
//
//   - grpc-status: [WireCode], [AppendCode] and [Parse];
//   - grpc-message percent-encoding: [EncodeMessage] and [DecodeMessage];
//   - grpc-status-details-bin: [EncodeDetails] and [Parse];
//   - the mapping of HTTP statuses and HTTP/2 error codes to codes:
//     [FromHTTPStatus] and [FromHTTP2ErrCode].
//
// The grpc-go compatible surface converts an *Error to grpc-go's status at the
// boundary (server/, client/); this package never does.
//
// # Imports
//
// status is a leaf: it may import only the standard library,
// google.golang.org/protobuf and google.golang.org/genproto/googleapis/rpc/status.
// It must never import google.golang.org/grpc or another h2grpc package.
//
// # Concurrency
//
// Every function is safe for concurrent use. An *Error is immutable once made
// and may be shared freely between goroutines.
package status
