// Package dropin proves the drop-in contract: a gRPC service and a client
// written for grpc-go, importing only grpc-go's packages, run unchanged on
// h2grpc, moved over by changing two lines (grpc.NewServer becomes
// server.New, grpc.NewClient becomes client.Dial).
//
// The "program" is grpc-go's own generated TestService
// (google.golang.org/grpc/interop/grpc_testing): one implementation of it
// (service_test.go) and one set of client routines (the other test files),
// both in plain grpc-go style, run on all four pairings {grpc-go server,
// h2grpc server} × {grpc-go client, h2grpc client} with the same
// assertions. grpc-go on both sides is the reference: an assertion it
// fails is a wrong assertion, one only an h2grpc pairing fails is a
// difference to fix. Only stacks_test.go names h2grpc.
//
// What is covered, in the handler: grpc-go's metadata.FromIncomingContext,
// grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer, grpc.Method and
// peer.FromContext, in unary and streaming handlers; the generated stream
// types' Send, Recv, SendMsg, RecvMsg, SetHeader, SendHeader, SetTrailer
// and Context; the request headers grpc-go shows handlers (:authority,
// user-agent, ...); errors made with grpc-go's status package (details
// included), context errors and plain errors, as they reach the wire. In
// the client: outgoing metadata (-bin values, repeated keys in order); the
// call options grpc.Header, grpc.Trailer, grpc.Peer, grpc.UseCompressor,
// grpc.MaxCallRecvMsgSize, grpc.MaxCallSendMsgSize, grpc.WaitForReady and
// grpc.CallContentSubtype (with a codec registered through grpc-go's
// encoding.RegisterCodec); errors read with grpc-go's status.FromError and
// status.Code; stream Header and Trailer, trailers-only responses
// included.
//
// The package has only tests. It may import everything, grpc-go included.
package dropin
