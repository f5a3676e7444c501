// Package conformancev1 holds the Go code generated from the connectrpc
// conformance suite's protos (connectrpc.com/conformance v1.0.7,
// proto/connectrpc/conformance/v1): the messages the conformance runner
// exchanges with the client and server under test, and the grpc-go stubs of
// ConformanceService. The suite's own generated package is internal to its
// module, hence this copy. Regenerate it with interop/conformance/generate.sh
// (make generate); do not edit the .pb.go files.
package conformancev1
