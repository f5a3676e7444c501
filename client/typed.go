package client

import (
	"context"

	"google.golang.org/grpc"
)

// The typed functions make calls without generated code. They do exactly
// what protoc-gen-go-grpc's generated clients do, through Invoke and
// NewStream, and return grpc-go's generic stream interfaces, so
// interceptors, call options and errors are the same on both.

var (
	serverStreamDesc = grpc.StreamDesc{ServerStreams: true}
	clientStreamDesc = grpc.StreamDesc{ClientStreams: true}
	bidiStreamDesc   = grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
)

// Unary calls the unary method at path ("/pkg.Service/Method") with req
// and returns its response.
func Unary[Resp, Req any](ctx context.Context, c *Conn, path string, req *Req, opts ...CallOption) (*Resp, error) {
	resp := new(Resp)
	if err := c.Invoke(ctx, path, req, resp, opts...); err != nil {
		return nil, err
	}
	return resp, nil
}

// ServerStream starts a server-streaming call of the method at path with
// req; the request leaves in one write.
func ServerStream[Resp, Req any](ctx context.Context, c *Conn, path string, req *Req, opts ...CallOption) (grpc.ServerStreamingClient[Resp], error) {
	cs, err := c.NewStream(ctx, &serverStreamDesc, path, opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[Req, Resp]{ClientStream: cs}
	if err := x.ClientStream.SendMsg(req); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// ClientStream starts a client-streaming call of the method at path. The
// request headers leave at once, as grpc-go's do.
func ClientStream[Req, Resp any](ctx context.Context, c *Conn, path string, opts ...CallOption) (grpc.ClientStreamingClient[Req, Resp], error) {
	cs, err := c.NewStream(ctx, &clientStreamDesc, path, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Resp]{ClientStream: cs}, nil
}

// BidiStream starts a bidirectional-streaming call of the method at path.
// The request headers leave at once, so a server that speaks first can.
func BidiStream[Req, Resp any](ctx context.Context, c *Conn, path string, opts ...CallOption) (grpc.BidiStreamingClient[Req, Resp], error) {
	cs, err := c.NewStream(ctx, &bidiStreamDesc, path, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Resp]{ClientStream: cs}, nil
}
