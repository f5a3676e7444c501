// Package middleware holds only tests: it runs the interceptors of
// github.com/grpc-ecosystem/go-grpc-middleware/v2 (recovery, logging,
// auth, retry) on h2grpc's server and client, and the same tests on
// grpc-go's, so that code written for grpc-go with that middleware is seen
// to run unchanged on h2grpc. Every case runs on each pairing of
// {h2grpc server, grpc-go server} × {h2grpc client, grpc-go client} with
// the same expected results.
//
// The package has no non-test code. It may import everything, grpc-go and
// the middleware included.
package middleware
