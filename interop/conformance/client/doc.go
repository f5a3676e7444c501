// Command client is the client under test of the connectrpc conformance
// suite (connectrpc.com/conformance v1.0.7), written on h2grpc's client.
// The suite's runner starts it as
//
//	connectconformance --mode client --conf config.yaml -- client
//
// and writes test cases to its stdin: binary ClientCompatRequest messages,
// each prefixed with its length as a 4-byte big-endian integer. For each,
// the client dials the runner's reference server (h2c, or TLS with the
// server certificate the case carries and, when given, a client
// certificate), makes the RPC the case describes through the generated
// ConformanceServiceClient over a *client.Conn (request headers, timeout,
// compression, receive limit, delays between requests, cancellation at a
// given point), and writes what happened (response headers, payloads,
// error, trailers) to stdout as a ClientCompatResponse framed the same
// way. Cases run concurrently (-p bounds how many); responses are written
// whole, one at a time, in the order the cases finish. The client exits
// once stdin is exhausted and every case has answered; SIGTERM ends it at
// once, and with it the calls in progress.
//
// It is adapted from the suite's grpc-go client under test,
// connectrpc.com/conformance internal/app/grpcclient (Apache-2.0), with
// grpc-go's ClientConn replaced by h2grpc's Conn and the TLS, compression
// and receive-limit settings of a case honoured. Like that client it
// refuses cases meant for Connect only (IdempotentUnary, raw HTTP
// requests): the runner does not send them to a gRPC client whose config
// says so.
//
// Being a command, it may import everything: h2grpc and grpc-go alike.
package main
