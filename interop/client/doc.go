// Command client is the gRPC interop test client written on h2grpc's
// client: it runs the cases of gRPC's doc/interop-test-descriptions.md
// against a server of grpc.testing.TestService (grpc-go's, h2grpc's, any
// other), with grpc-go's interop client flags (--server_host,
// --server_host_override, --server_port, --test_case, --use_tls,
// --use_test_ca, --ca_file and the --soak_* flags).
//
// --test_case takes one case, a comma-separated list, or "all". Each case
// runs on a Conn of its own with a timeout of its own, so one failure does
// not stop or spoil the others, and prints one line to stdout:
//
//	PASS <case> <duration>
//	FAIL <case>: <reason>
//
// Progress (soak iterations) goes to stderr. The exit status is 1 when any
// case failed.
//
// The messages and stubs are grpc-go's exported generated package
// google.golang.org/grpc/interop/grpc_testing: a second generated copy of
// the same proto names would clash with it in the protobuf registry. The
// compression cases need what generated stubs cannot reach: they make
// their calls through Conn.NewStream and use client.Call's
// SetMessageCompression and RecvCompressed.
//
// Being a command, it may import everything: h2grpc and grpc-go alike.
package main
