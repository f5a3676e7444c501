// Package equivalence holds the equivalence matrix, as nameko-grpc runs
// it: every case runs on each pairing of a table of server kinds × client
// kinds, with the same expected results on all, except where a test
// states the result per pairing because h2grpc deliberately differs. A
// kind is one stack used through one surface (stacks_test.go):
//
//   - the example service of testdata/example: servers grpc-go, h2grpc with
//     native typed handlers, and h2grpc with the grpc-go implementation
//     registered through generated code; clients grpc-go, h2grpc through
//     its typed functions, and h2grpc through the generated stubs. All nine
//     pairings run every case but the heavy ones (20 MiB messages, the
//     stress burst), which run on a representative subset (heavyPairings);
//   - grpc-go's interop TestService (google.golang.org/grpc/interop/
//     grpc_testing): one implementation written for grpc-go served by both
//     servers, called through the generated client on both clients
//     (testservice_test.go; the cases in testservice_cases_test.go).
//
// The package has only tests. It may import everything, grpc-go included.
package equivalence
