package server

import (
	"context"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/method"
)

// The typed registration functions register one method without a
// generated ServiceDesc. Their handlers have the shapes protoc-gen-go-grpc
// generates (grpc-go's generic stream interfaces) and run through the same
// path as RegisterService: interceptors, the handler context and status
// conversion are the same.

// RegisterUnary registers h for the unary method at path
// ("/pkg.Service/Method").
func RegisterUnary[Req, Resp any](s *Server, path string, h func(context.Context, *Req) (*Resp, error)) {
	s.registerUnary(mustPath(path, method.Unary), nil, nil,
		func(_ any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			req := new(Req)
			if err := dec(req); err != nil {
				return nil, err
			}
			if icpt == nil {
				return h(ctx, req)
			}
			info := &grpc.UnaryServerInfo{FullMethod: path}
			return icpt(ctx, req, info, func(ctx context.Context, req any) (any, error) {
				return h(ctx, req.(*Req))
			})
		})
}

// RegisterServerStream registers h for the server-streaming method at path.
func RegisterServerStream[Req, Resp any](s *Server, path string, h func(*Req, grpc.ServerStreamingServer[Resp]) error) {
	s.registerStream(mustPath(path, method.ServerStreaming), nil, nil, func(_ any, ss grpc.ServerStream) error {
		req := new(Req)
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		return h(req, &grpc.GenericServerStream[Req, Resp]{ServerStream: ss})
	})
}

// RegisterClientStream registers h for the client-streaming method at
// path; h answers with SendAndClose.
func RegisterClientStream[Req, Resp any](s *Server, path string, h func(grpc.ClientStreamingServer[Req, Resp]) error) {
	s.registerStream(mustPath(path, method.ClientStreaming), nil, nil, func(_ any, ss grpc.ServerStream) error {
		return h(&grpc.GenericServerStream[Req, Resp]{ServerStream: ss})
	})
}

// RegisterBidiStream registers h for the bidirectional-streaming method at
// path.
func RegisterBidiStream[Req, Resp any](s *Server, path string, h func(grpc.BidiStreamingServer[Req, Resp]) error) {
	s.registerStream(mustPath(path, method.BidiStreaming), nil, nil, func(_ any, ss grpc.ServerStream) error {
		return h(&grpc.GenericServerStream[Req, Resp]{ServerStream: ss})
	})
}

func mustPath(path string, t method.Type) method.Desc {
	d, err := method.FromPath(path, t)
	if err != nil {
		panic("h2grpc: " + err.Error())
	}
	return d
}
