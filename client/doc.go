// Package client is the gRPC client of h2grpc: a Conn multiplexes any
// number of concurrent calls over one HTTP/2 connection, and the typed
// functions (Unary, ServerStream, ClientStream, BidiStream) make calls of
// the four patterns without grpc-go.
//
// Every call, whatever its pattern or surface, is a Call: the one client
// call interface, whose methods mirror grpc-go's ClientStream. A call's
// context governs it: when the context ends, the stream is reset with
// RST_STREAM(CANCEL) and the call ends with CANCELLED or DEADLINE_EXCEEDED.
//
// It may import connection/, stream/, method/, status/, metadata/,
// compression/ and, for the compatibility surface only, grpc-go's grpc,
// codes, status, metadata, peer, credentials and encoding packages. It
// never imports server/.
package client
