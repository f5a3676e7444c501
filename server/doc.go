// Package server is the gRPC server of h2grpc: it accepts connections from
// any net.Listener, routes each stream by its :path to a registered
// handler, runs the handler in its own goroutine and turns its return into
// the call's trailers.
//
// Handlers see one call interface, Call, whatever their pattern; the typed
// registration functions (RegisterUnary, RegisterServerStream,
// RegisterClientStream, RegisterBidiStream) wrap it for the native API, and
// the grpc-go compatible surface reuses it.
//
// It may import connection/, stream/, method/, status/, metadata/,
// compression/ and, for the compatibility surface only, grpc-go's grpc,
// codes, status, metadata, peer, credentials and encoding packages. It
// never imports client/.
package server
