// Command server is the server under test of the connectrpc conformance
// suite (connectrpc.com/conformance v1.0.7) on h2grpc: it serves
// connectrpc.conformance.v1.ConformanceService over gRPC on HTTP/2.
//
// It speaks the runner's protocol (connectconformance --mode server): it
// reads one ServerCompatRequest from stdin, prefixed with its length (4 bytes,
// big-endian), starts an h2grpc server on a free loopback port (h2c, or TLS
// with the request's certificate, client certificates required when the
// request carries a client CA, the request's receive limit), writes the
// ServerCompatResponse (host, port, certificate) to stdout in the same
// framing, and serves until SIGTERM or SIGINT. The runner closes stdin once
// it has written the request, so stdin's end means nothing.
//
// The service is the suite's grpc-go reference server
// (connectrpc.com/conformance internal/app/grpcserver) ported to h2grpc: the
// code written for grpc-go's generated stubs runs unchanged on an h2grpc
// server.
//
// It may import anything in this module and grpc-go.
package main
