// Package benchmark measures h2grpc against grpc-go, the implementation it
// aims to beat on speed, allocations and memory.
//
// The harness is h2bench (cmd/h2bench, its machinery in
// internal/harness), which `make bench` runs: the workloads of the
// performance issue on both stacks through the same generated stubs
// (grpc-go's interop TestService), alternating A B A B over several
// rounds, with client and server in separate processes (CPU time of both,
// latency percentiles) and in one process (allocations of both sides
// together), the mixed pairings, memory per idle connection and per idle
// stream with each side in its own process, and a raw TCP ping-pong as
// the loopback floor. It prints markdown tables of the medians and writes
// them with every sample to .tmp/bench/results.md and results.json.
// `h2bench -quick` runs every workload once, briefly; TestHarnessQuick runs
// the same plumbing on a subset so CI catches a broken harness, and
// asserts nothing about speed.
//
// The Go benchmarks here (Benchmark*) are for profiling one path with
// `go test -bench -cpuprofile`/`-memprofile`: client and server in one
// process over loopback TCP, through the example service
// (testdata/example), both stacks side by side, comparable with benchstat.
//
// The package holds only benchmarks and their harness. It may import
// everything: every h2grpc package, and grpc-go as the peer being measured
// against.
package benchmark
