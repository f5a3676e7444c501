// Package method describes gRPC methods and turns their messages into bytes.
//
// A [Desc] says what a call is: its path ("/pkg.Service/Method"), its call
// pattern ([Type]) and, when known, its request and response message types.
// Descs come from protobuf descriptors ([FromMethod], [FromService]) or from
// a path alone ([FromPath]). The path rules of SPEC.md ("Requests": the :path
// header, case-sensitive) live in [ParsePath] and [Path].
//
// A [Codec] is the seam between messages and bytes; [Proto] is the protobuf
// codec, content-subtype "proto".
//
// # Imports
//
// method is a leaf: it may import only the standard library,
// google.golang.org/protobuf and google.golang.org/genproto/googleapis/rpc/status.
// It must never import google.golang.org/grpc or another h2grpc package.
//
// # Concurrency
//
// Every function is safe for concurrent use; a Desc is immutable after
// construction and may be shared; Codec implementations, [Proto] included,
// are safe for concurrent use.
package method
