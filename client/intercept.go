package client

import (
	"context"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/internal/grpccompat"
)

// chainUnary makes one interceptor of the set ones, first outermost; nil
// when there are none, so a call without interceptors pays nothing.
func chainUnary(first grpc.UnaryClientInterceptor, rest []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	if first != nil {
		rest = append([]grpc.UnaryClientInterceptor{first}, rest...)
	}
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return rest[0]
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return grpccompat.Chain(rest, invoker, func(i grpc.UnaryClientInterceptor, next grpc.UnaryInvoker) grpc.UnaryInvoker {
			return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return i(ctx, method, req, reply, cc, next, opts...)
			}
		})(ctx, method, req, reply, cc, opts...)
	}
}

// chainStream is chainUnary for stream interceptors.
func chainStream(first grpc.StreamClientInterceptor, rest []grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	if first != nil {
		rest = append([]grpc.StreamClientInterceptor{first}, rest...)
	}
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return rest[0]
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return grpccompat.Chain(rest, streamer, func(i grpc.StreamClientInterceptor, next grpc.Streamer) grpc.Streamer {
			return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				return i(ctx, desc, cc, method, next, opts...)
			}
		})(ctx, desc, cc, method, opts...)
	}
}
