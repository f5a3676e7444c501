// Command h2specrun checks h2grpc's HTTP/2 state machine with h2spec, the
// HTTP/2 conformance checker: it serves an h2grpc server (one registered
// unary method) on a loopback port, first over h2c, then over TLS with
// internal/tlstest's certificate made at start, runs `h2spec --strict`
// against each, prints h2spec's report and exits non-zero unless every case
// passed both times, none skipped or failed. It is a test tool.
//
// h2spec is built from the tools module in internal/tools/h2spec, which
// pins its version:
//
//	go build -C internal/tools/h2spec -o .tmp/bin/h2spec github.com/summerwind/h2spec/cmd/h2spec
//	go run ./internal/tools/h2specrun -h2spec=.tmp/bin/h2spec
//
// `make h2spec` does both.
//
// It may import server/, internal/tlstest, protobuf's well-known types and
// the standard library.
package main
