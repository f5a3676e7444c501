// Package testserver starts an h2grpc server with the example service for
// the tests of server/ and client/, so they share one set of handlers.
// It is for tests only and may import anything in this module but grpc-go.
package testserver

import (
	"google.golang.org/grpc"

	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// Paths of the example service.
const (
	Unary        = "/nameko.example/unary_unary"
	ServerStream = "/nameko.example/unary_stream"
	ClientStream = "/nameko.example/stream_unary"
	Bidi         = "/nameko.example/stream_stream"
)

// Hooks lets a test change what the unary handler does; nil fields keep
// the default behaviour (echo the value).
type Hooks struct {
	Unary func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error)
}

// Start serves the example service on a loopback port until the test ends
// and returns the server and its address.
func Start(t testing.TB, h Hooks, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	srv := server.New(opts...)
	server.RegisterUnary(srv, Unary, func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if h.Unary != nil {
			return h.Unary(ctx, r)
		}
		return &pb.ExampleReply{Message: r.Value}, nil
	})
	server.RegisterServerStream(srv, ServerStream, func(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
		for i := range r.ResponseCount {
			if err := s.Send(&pb.ExampleReply{Message: r.Value, Seqno: i}); err != nil {
				return err
			}
		}
		return nil
	})
	server.RegisterClientStream(srv, ClientStream, func(s grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		n := int32(0)
		for {
			_, err := s.Recv()
			if err == io.EOF {
				return s.SendAndClose(&pb.ExampleReply{Seqno: n})
			}
			if err != nil {
				return err
			}
			n++
		}
	})
	server.RegisterBidiStream(srv, Bidi, func(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		for {
			r, err := s.Recv()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.Send(&pb.ExampleReply{Message: r.Value}); err != nil {
				return err
			}
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return srv, lis.Addr().String()
}

// Context returns a context for one test, ending after d at the latest.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// EchoMetadata is a unary handler that answers with the request's
// metadata as response headers and trailers ("echo-" prefixed keys only).
func EchoMetadata(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for k, vs := range md {
		if len(k) > 5 && k[:5] == "echo-" {
			out[k] = vs
		}
	}
	call := server.CallFromContext(ctx)
	if call == nil {
		return nil, status.New(status.Internal, "no call in the handler's context")
	}
	if err := call.SetHeader(out); err != nil {
		return nil, err
	}
	if err := call.SetTrailer(metadata.Pairs("trailer-key", "t1", "trailer-key", "t2")); err != nil {
		return nil, err
	}
	return &pb.ExampleReply{Message: r.Value}, nil
}
