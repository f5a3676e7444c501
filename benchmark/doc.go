// Package benchmark measures h2grpc against grpc-go, the implementation it
// aims to beat on speed and allocations. Its benchmarks run both stacks
// side by side in one `go test -bench` invocation, client and server in
// one process over loopback TCP, through the same example service
// (testdata/example) and the same messages, so benchstat can compare them
// directly. Mixed pairings (one stack's client against the other's server)
// show what each side costs.
//
// Run them with `make bench`, which keeps the output in .tmp/bench.txt and
// summarises it with benchstat.
//
// The package holds only benchmarks. It may import everything: every
// h2grpc package, and grpc-go as the peer being measured against.
package benchmark
