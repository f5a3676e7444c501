package server

import (
	"context"

	"google.golang.org/grpc"
)

// chainUnary makes one interceptor of the set ones, first outermost; nil
// when there are none, so a call without interceptors pays nothing.
func chainUnary(first grpc.UnaryServerInterceptor, rest []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	var all []grpc.UnaryServerInterceptor
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
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return all[0](ctx, req, info, unaryNext(all, 1, info, h))
	}
}

func unaryNext(all []grpc.UnaryServerInterceptor, i int, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) grpc.UnaryHandler {
	if i == len(all) {
		return h
	}
	return func(ctx context.Context, req any) (any, error) {
		return all[i](ctx, req, info, unaryNext(all, i+1, info, h))
	}
}

// chainStream is chainUnary for stream interceptors.
func chainStream(first grpc.StreamServerInterceptor, rest []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	var all []grpc.StreamServerInterceptor
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
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return all[0](srv, ss, info, streamNext(all, 1, info, h))
	}
}

func streamNext(all []grpc.StreamServerInterceptor, i int, info *grpc.StreamServerInfo, h grpc.StreamHandler) grpc.StreamHandler {
	if i == len(all) {
		return h
	}
	return func(srv any, ss grpc.ServerStream) error {
		return all[i](srv, ss, info, streamNext(all, i+1, info, h))
	}
}
