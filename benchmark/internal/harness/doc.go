// Package harness is h2bench's machinery: the workloads of the performance
// issue run on h2grpc and on grpc-go through the same generated stubs
// (grpc-go's interop TestService), alternating A B A B, with client and
// server in separate processes and in one process, and the tables made of
// their medians.
//
// One executable plays every part. Run plainly, it is the driver: it plans
// the runs and re-executes itself, with flags naming a part, as the
// processes of each run:
//
//   - a server (-serve=h2grpc|grpcgo|tcp): it serves on loopback, prints one
//     JSON line with its address and the address of a control listener, and
//     answers "stats" and "memstats" lines there with its CPU time,
//     allocation counters and memory, until its stdin closes;
//   - a client (-child=client): it runs one workload against a server for a
//     warm-up and a measured window, reads the server's counters at both ends
//     of the window, and prints one Sample as a JSON line;
//   - one process (-child=inproc): server and client together, so the
//     allocation counters cover both sides.
//
// The driver is Main with no part flag; the benchmark package's tests
// re-execute their own binary the same way (see IsChild).
//
// Nothing here is timed or asserted: the harness measures and reports.
// It may import every h2grpc package and grpc-go.
package harness
