// Package equivalence holds the equivalence matrix, as nameko-grpc runs
// it: every case runs on each pairing of {grpc-go server, h2grpc server} ×
// {grpc-go client, h2grpc client} through the example service of
// testdata/example, with the same expected results on all four, except
// where a test states the result per pairing because h2grpc deliberately
// differs.
//
// Two more pairings run the grpc-go implementation registered on an h2grpc
// server through its generated code (the drop-in path).
//
// The package has only tests. It may import everything, grpc-go included.
package equivalence
