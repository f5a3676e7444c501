package client

import (
	"context"

	"google.golang.org/grpc"
)

// chainUnary makes one interceptor of the set ones, first outermost; nil
// when there are none, so a call without interceptors pays nothing.
func chainUnary(first grpc.UnaryClientInterceptor, rest []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	var all []grpc.UnaryClientInterceptor
	if first != nil {
		all = append(all, first)
	}
	all = append(all, rest...)
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return all[0](ctx, method, req, reply, cc, unaryNext(all, 1, invoker), opts...)
	}
}

func unaryNext(all []grpc.UnaryClientInterceptor, i int, invoker grpc.UnaryInvoker) grpc.UnaryInvoker {
	if i == len(all) {
		return invoker
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return all[i](ctx, method, req, reply, cc, unaryNext(all, i+1, invoker), opts...)
	}
}

// chainStream is chainUnary for stream interceptors.
func chainStream(first grpc.StreamClientInterceptor, rest []grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	var all []grpc.StreamClientInterceptor
	if first != nil {
		all = append(all, first)
	}
	all = append(all, rest...)
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return all[0](ctx, desc, cc, method, streamNext(all, 1, streamer), opts...)
	}
}

func streamNext(all []grpc.StreamClientInterceptor, i int, streamer grpc.Streamer) grpc.Streamer {
	if i == len(all) {
		return streamer
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return all[i](ctx, desc, cc, method, streamNext(all, i+1, streamer), opts...)
	}
}
