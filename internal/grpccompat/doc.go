// Package grpccompat is what server/ and client/ share to look like grpc-go
// to code written for it: the error type both surfaces return, which works
// with h2grpc's status package and with grpc-go's, and the conversions
// between grpc-go's status and codec types and h2grpc's, and the chaining of
// interceptors.
//
// It may import status/, method/ and grpc-go's status and encoding
// packages, nothing else of grpc-go; the core packages never import it.
package grpccompat
