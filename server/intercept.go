package server

import (
	"context"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/internal/grpccompat"
)

// chainUnary makes one interceptor of the set ones, first outermost; nil
// when there are none, so a call without interceptors pays nothing.
func chainUnary(first grpc.UnaryServerInterceptor, rest []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if first != nil {
		rest = append([]grpc.UnaryServerInterceptor{first}, rest...)
	}
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return rest[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return grpccompat.Chain(rest, h, func(i grpc.UnaryServerInterceptor, next grpc.UnaryHandler) grpc.UnaryHandler {
			return func(ctx context.Context, req any) (any, error) { return i(ctx, req, info, next) }
		})(ctx, req)
	}
}

// chainStream is chainUnary for stream interceptors.
func chainStream(first grpc.StreamServerInterceptor, rest []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if first != nil {
		rest = append([]grpc.StreamServerInterceptor{first}, rest...)
	}
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return rest[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return grpccompat.Chain(rest, h, func(i grpc.StreamServerInterceptor, next grpc.StreamHandler) grpc.StreamHandler {
			return func(srv any, ss grpc.ServerStream) error { return i(srv, ss, info, next) }
		})(srv, ss)
	}
}
