// Command server is the gRPC interop test server on h2grpc: it serves
// grpc.testing.TestService as gRPC's doc/interop-test-descriptions.md
// ("Server") asks, and stands in for grpc-go's
// google.golang.org/grpc/interop/server with the same flags:
//
//	--port           port to listen on, all interfaces (default 10000; 0 picks a free one)
//	--use_tls        speak TLS (ALPN h2) instead of h2c
//	--tls_cert_file  the certificate (PEM); required with --use_tls
//	--tls_key_file   its private key (PEM); required with --use_tls
//
// Once it listens it prints "interop server listening on <addr>" to
// stdout, addr carrying the port, which is how a runner learns a port the
// server picked. SIGINT or SIGTERM stop it gracefully: calls in progress
// get a few seconds to finish.
//
// The messages and service are grpc-go's generated
// google.golang.org/grpc/interop/grpc_testing, registered on an h2grpc
// server: a second generated copy of the same proto names would clash in
// the protobuf registry with the one grpc-go's interop programs use.
//
// It may import anything in this module and grpc-go.
package main
