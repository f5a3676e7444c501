// Copyright 2023-2024 The Connect Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//      http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// Adapted from connectrpc.com/conformance internal/app/grpcserver (impl.go,
// v1.0.7) for h2grpc: the handlers are the grpc-go ones, unchanged in
// substance; delays now end with the call's context, and the request's
// metadata is copied rather than rewritten in place.

package main

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	conformancev1 "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// conformanceServer implements ConformanceService as the suite describes it
// in service.proto. It has no state: any number of calls may run on it at
// once.
type conformanceServer struct {
	conformancev1.UnimplementedConformanceServiceServer
}

var _ conformancev1.ConformanceServiceServer = conformanceServer{}

// Unary answers with the response definition of the request, echoing the
// request, its headers and its timeout.
func (conformanceServer) Unary(ctx context.Context, req *conformancev1.UnaryRequest) (*conformancev1.UnaryResponse, error) {
	payload, err := unary(ctx, req, req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return &conformancev1.UnaryResponse{Payload: payload}, nil
}

// IdempotentUnary is Unary for a method marked free of side effects (which
// only changes how the Connect protocol may send it).
func (conformanceServer) IdempotentUnary(ctx context.Context, req *conformancev1.IdempotentUnaryRequest) (*conformancev1.IdempotentUnaryResponse, error) {
	payload, err := unary(ctx, req, req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return &conformancev1.IdempotentUnaryResponse{Payload: payload}, nil
}

// unary is Unary and IdempotentUnary: it sends the headers def asks for,
// sets its trailers, waits its delay and returns its payload or error.
func unary(ctx context.Context, req proto.Message, def *conformancev1.UnaryResponseDefinition) (*conformancev1.ConformancePayload, error) {
	reqAsAny, err := asAny(req)
	if err != nil {
		return nil, err
	}
	if def != nil {
		if err := grpc.SendHeader(ctx, headersToMetadata(def.GetResponseHeaders())); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, headersToMetadata(def.GetResponseTrailers())); err != nil {
			return nil, err
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return nil, err
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return unaryResponse(ctx, def, md, []*anypb.Any{reqAsAny})
}

// ClientStream receives every request, then answers with the response
// definition of the first one.
func (conformanceServer) ClientStream(stream conformancev1.ConformanceService_ClientStreamServer) error {
	ctx := stream.Context()
	var def *conformancev1.UnaryResponseDefinition
	var reqs []*anypb.Any
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if first {
			def = req.GetResponseDefinition()
		}
		reqAsAny, err := asAny(req)
		if err != nil {
			return err
		}
		reqs = append(reqs, reqAsAny)
	}

	if def != nil {
		if err := stream.SendHeader(headersToMetadata(def.GetResponseHeaders())); err != nil {
			return err
		}
		stream.SetTrailer(headersToMetadata(def.GetResponseTrailers()))
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	payload, err := unaryResponse(ctx, def, md, reqs)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&conformancev1.ClientStreamResponse{Payload: payload})
}

// ServerStream sends the headers, then the responses of the request's
// definition, each after its delay, then its error if it has one.
func (conformanceServer) ServerStream(req *conformancev1.ServerStreamRequest, stream conformancev1.ConformanceService_ServerStreamServer) error {
	ctx := stream.Context()
	reqAsAny, err := asAny(req)
	if err != nil {
		return err
	}
	def := req.GetResponseDefinition()
	if def == nil {
		return nil
	}
	// The headers leave at once, so that the client sees them before any
	// response.
	if err := stream.SendHeader(headersToMetadata(def.GetResponseHeaders())); err != nil {
		return err
	}
	stream.SetTrailer(headersToMetadata(def.GetResponseTrailers()))

	md, _ := metadata.FromIncomingContext(ctx)
	reqs := []*anypb.Any{reqAsAny}
	for i, data := range def.GetResponseData() {
		resp := &conformancev1.ServerStreamResponse{
			Payload: &conformancev1.ConformancePayload{Data: data},
		}
		// Nothing in the request info changes after the first response.
		if i == 0 {
			resp.Payload.RequestInfo = requestInfo(ctx, md, reqs)
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return status.Errorf(codes.Internal, "error sending on stream: %v", err)
		}
	}
	return streamError(ctx, def, len(def.GetResponseData()), md, reqs)
}

// BidiStream answers with the response definition of the first request:
// in full duplex one response per request, then the rest once the client
// has finished; in half duplex every response once the client has finished.
func (conformanceServer) BidiStream(stream conformancev1.ConformanceService_BidiStreamServer) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	var def *conformancev1.StreamResponseDefinition
	fullDuplex := false
	sent := 0
	var reqs []*anypb.Any
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		reqAsAny, err := asAny(req)
		if err != nil {
			return err
		}
		reqs = append(reqs, reqAsAny)

		if first {
			def = req.GetResponseDefinition()
			fullDuplex = req.GetFullDuplex()
			if def != nil {
				if err := setBidiMetadata(stream, def, fullDuplex); err != nil {
					return err
				}
			}
		}
		if !fullDuplex {
			continue
		}
		if sent >= len(def.GetResponseData()) {
			// Nothing left to send: end with the definition's error.
			break
		}
		resp := &conformancev1.BidiStreamResponse{
			Payload: &conformancev1.ConformancePayload{Data: def.GetResponseData()[sent]},
		}
		if sent == 0 {
			resp.Payload.RequestInfo = requestInfo(ctx, md, reqs)
		} else {
			// Only the requests change after the first response.
			resp.Payload.RequestInfo = &conformancev1.ConformancePayload_RequestInfo{Requests: reqs}
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return status.Errorf(codes.Internal, "error sending on stream: %v", err)
		}
		sent++
		reqs = nil
	}

	if def == nil {
		return nil
	}
	// The responses left: all of them in half duplex, those beyond the
	// number of requests in full duplex.
	for ; sent < len(def.GetResponseData()); sent++ {
		resp := &conformancev1.BidiStreamResponse{
			Payload: &conformancev1.ConformancePayload{Data: def.GetResponseData()[sent]},
		}
		// In half duplex every request has arrived by now, so the request
		// info does not change after the first response.
		if sent == 0 {
			resp.Payload.RequestInfo = requestInfo(ctx, md, reqs)
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return status.Errorf(codes.Internal, "error sending on stream: %v", err)
		}
	}
	return streamError(ctx, def, sent, md, reqs)
}

// setBidiMetadata sends (full duplex) or sets (half duplex) the headers of
// def, and sets its trailers.
func setBidiMetadata(stream conformancev1.ConformanceService_BidiStreamServer, def *conformancev1.StreamResponseDefinition, fullDuplex bool) error {
	headers := headersToMetadata(def.GetResponseHeaders())
	if fullDuplex {
		// The client reads the headers before it sends the next request.
		if err := stream.SendHeader(headers); err != nil {
			return err
		}
	} else if err := stream.SetHeader(headers); err != nil {
		return err
	}
	stream.SetTrailer(headersToMetadata(def.GetResponseTrailers()))
	return nil
}

// streamError returns the error def ends its stream with, nil if none; when
// no response was sent, the error carries the request info in its details.
func streamError(ctx context.Context, def *conformancev1.StreamResponseDefinition, sent int, md metadata.MD, reqs []*anypb.Any) error {
	protoErr := def.GetError()
	if protoErr == nil {
		return nil
	}
	if sent == 0 {
		info, err := anypb.New(requestInfo(ctx, md, reqs))
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		protoErr = proto.CloneOf(protoErr)
		protoErr.Details = append(protoErr.Details, info)
	}
	return protoToStatus(protoErr)
}

// unaryResponse returns the payload or the error def asks for; the error
// carries the request info in its details.
func unaryResponse(ctx context.Context, def *conformancev1.UnaryResponseDefinition, md metadata.MD, reqs []*anypb.Any) (*conformancev1.ConformancePayload, error) {
	info := requestInfo(ctx, md, reqs)
	switch resp := def.GetResponse().(type) {
	case *conformancev1.UnaryResponseDefinition_Error:
		infoAsAny, err := anypb.New(info)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		protoErr := proto.CloneOf(resp.Error)
		protoErr.Details = append(protoErr.Details, infoAsAny)
		return nil, protoToStatus(protoErr)
	case *conformancev1.UnaryResponseDefinition_ResponseData:
		return &conformancev1.ConformancePayload{RequestInfo: info, Data: resp.ResponseData}, nil
	case nil:
		// No definition, or one without a response: the payload is the
		// request info alone.
		return &conformancev1.ConformancePayload{RequestInfo: info}, nil
	default:
		return nil, status.Errorf(codes.InvalidArgument, "provided UnaryRequest.Response has an unexpected type %T", resp)
	}
}

// requestInfo describes the call for the payload: the request headers, the
// requests and the time left before the deadline.
func requestInfo(ctx context.Context, md metadata.MD, reqs []*anypb.Any) *conformancev1.ConformancePayload_RequestInfo {
	info := &conformancev1.ConformancePayload_RequestInfo{
		RequestHeaders: metadataToHeaders(md),
		Requests:       reqs,
	}
	if deadline, ok := ctx.Deadline(); ok {
		info.TimeoutMs = proto.Int64(max(time.Until(deadline), 0).Milliseconds())
	}
	return info
}

// sleep waits ms milliseconds, or until ctx ends, in which case it returns
// the status of ctx's error.
func sleep(ctx context.Context, ms uint32) error {
	if ms == 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// asAny wraps msg in an Any, to echo it in a payload.
func asAny(msg proto.Message) (*anypb.Any, error) {
	a, err := anypb.New(msg)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "unable to convert message: %v", err)
	}
	return a, nil
}
