// Package stream frames gRPC messages and holds the two halves of a call:
// SendStream encodes messages into length-prefixed bytes for the connection to
// write, ReceiveStream assembles them from DATA payloads as they arrive.
//
// It is the only place in h2grpc that knows the 5-byte message prefix
// (compressed flag, big-endian length). A stream talks to its connection
// through the small interfaces declared here (Writer, Flow), so this package
// never imports connection/. It may import the standard library and the leaf
// packages status/, metadata/, method/ and compression/ (Marshal and
// Unmarshal apply the call's codec and compression); never
// golang.org/x/net/http2 or grpc-go.
package stream
