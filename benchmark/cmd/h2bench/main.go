// Command h2bench measures h2grpc against grpc-go: the same workloads on
// both stacks through the same generated stubs, alternating A B A B, with
// client and server in separate processes and in one process, idle
// connection and stream memory, and a raw TCP floor. It prints markdown
// tables of the medians and writes them, with every sample, to
// .tmp/bench/results.md and results.json (-out). `make bench` runs it;
// -quick is a smoke test of under a minute. It re-executes itself as the
// server and client processes of each run (-serve=STACK, -child=...).
//
// See benchmark/internal/harness for what each workload does.
package main

import (
	"os"

	"github.com/h2grpc/h2grpc/benchmark/internal/harness"
)

func main() {
	os.Exit(harness.Main(os.Args[1:], os.Stdout, os.Stderr))
}
