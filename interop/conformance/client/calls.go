// Adapted from connectrpc.com/conformance internal/app/grpcclient
// (impl.go), Apache-2.0, Copyright 2023-2024 The Connect Authors.

package main

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// invoker makes a case's call through the generated client. Each method
// returns the call's outcome; its error means the case itself was bad.
type invoker struct {
	client pb.ConformanceServiceClient
}

func (i *invoker) unary(ctx context.Context, ccr *pb.ClientCompatRequest) (*pb.ClientResponseResult, error) {
	return doUnary(ctx, ccr, i.client.Unary, (*pb.UnaryResponse).GetPayload)
}

func (i *invoker) unimplemented(ctx context.Context, ccr *pb.ClientCompatRequest) (*pb.ClientResponseResult, error) {
	return doUnary(ctx, ccr, i.client.Unimplemented,
		func(*pb.UnimplementedResponse) *pb.ConformancePayload { return nil })
}

// message is a generated message type T behind its pointer.
type message[T any] interface {
	*T
	proto.Message
}

// doUnary makes the unary call stub with the case's single request.
func doUnary[ReqT, RespT any, Req message[ReqT], Resp message[RespT]](
	ctx context.Context,
	ccr *pb.ClientCompatRequest,
	stub func(context.Context, Req, ...grpc.CallOption) (Resp, error),
	payload func(Resp) *pb.ConformancePayload,
) (*pb.ClientResponseResult, error) {
	timing, err := cancelTimingOf(ccr.GetCancel())
	if err != nil {
		return nil, err
	}
	req := Req(new(ReqT))
	if err := ccr.GetRequestMessages()[0].UnmarshalTo(req); err != nil {
		return nil, err
	}
	ctx = withRequestHeaders(ctx, ccr.GetRequestHeaders())
	if timing.afterCloseSendMs >= 0 {
		// A unary request is closed as soon as it is sent.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		t := time.AfterFunc(time.Duration(timing.afterCloseSendMs)*time.Millisecond, cancel)
		defer t.Stop()
	}

	var header, trailer metadata.MD
	resp, err := stub(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
	result := &pb.ClientResponseResult{
		ResponseHeaders:  protoHeaders(header),
		ResponseTrailers: protoHeaders(trailer),
		Error:            protoError(err),
	}
	if err == nil {
		result.Payloads = []*pb.ConformancePayload{payload(resp)}
	}
	return result, nil
}

func (i *invoker) serverStream(ctx context.Context, ccr *pb.ClientCompatRequest) (*pb.ClientResponseResult, error) {
	timing, err := cancelTimingOf(ccr.GetCancel())
	if err != nil {
		return nil, err
	}
	req := &pb.ServerStreamRequest{}
	if err := ccr.GetRequestMessages()[0].UnmarshalTo(req); err != nil {
		return nil, err
	}
	ctx = withRequestHeaders(ctx, ccr.GetRequestHeaders())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stream, err := i.client.ServerStream(ctx, req)
	if err != nil {
		// The request could not even be sent: the call's status.
		return &pb.ClientResponseResult{Error: protoError(err)}, nil
	}
	// The request went with END_STREAM: the call is closed for sending.
	if timing.afterCloseSendMs >= 0 {
		time.Sleep(time.Duration(timing.afterCloseSendMs) * time.Millisecond)
		cancel()
	}

	// Header's error, if any, is the call's status, which Recv reports
	// too (grpc-go's Header returns no error at all).
	header, _ := stream.Header()
	result := &pb.ClientResponseResult{}
	for n := 1; ; n++ {
		msg, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				result.Error = protoError(err)
			}
			break
		}
		result.Payloads = append(result.Payloads, msg.GetPayload())
		if n == timing.afterNumResponses {
			cancel()
		}
	}
	result.ResponseHeaders = protoHeaders(header)
	result.ResponseTrailers = protoHeaders(stream.Trailer())
	return result, nil
}

func (i *invoker) clientStream(ctx context.Context, ccr *pb.ClientCompatRequest) (*pb.ClientResponseResult, error) {
	timing, err := cancelTimingOf(ccr.GetCancel())
	if err != nil {
		return nil, err
	}
	reqs := make([]*pb.ClientStreamRequest, len(ccr.GetRequestMessages()))
	for n, msg := range ccr.GetRequestMessages() {
		reqs[n] = &pb.ClientStreamRequest{}
		if err := msg.UnmarshalTo(reqs[n]); err != nil {
			return nil, err
		}
	}
	ctx = withRequestHeaders(ctx, ccr.GetRequestHeaders())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stream, err := i.client.ClientStream(ctx)
	if err != nil {
		return &pb.ClientResponseResult{Error: protoError(err)}, nil
	}
	for _, req := range reqs {
		time.Sleep(time.Duration(ccr.GetRequestDelayMs()) * time.Millisecond)
		// io.EOF: the call has ended; CloseAndRecv tells how.
		if err := stream.Send(req); errors.Is(err, io.EOF) {
			break
		}
	}
	if timing.beforeCloseSend {
		cancel()
	} else if timing.afterCloseSendMs >= 0 {
		t := time.AfterFunc(time.Duration(timing.afterCloseSendMs)*time.Millisecond, cancel)
		defer t.Stop()
	}

	result := &pb.ClientResponseResult{}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		result.Error = protoError(err)
	} else {
		result.Payloads = []*pb.ConformancePayload{resp.GetPayload()}
	}
	// The call has ended: Header returns at once, and its error, if any,
	// is the status CloseAndRecv returned.
	header, _ := stream.Header()
	result.ResponseHeaders = protoHeaders(header)
	result.ResponseTrailers = protoHeaders(stream.Trailer())
	return result, nil
}

func (i *invoker) bidiStream(ctx context.Context, ccr *pb.ClientCompatRequest) (*pb.ClientResponseResult, error) {
	timing, err := cancelTimingOf(ccr.GetCancel())
	if err != nil {
		return nil, err
	}
	reqs := make([]*pb.BidiStreamRequest, len(ccr.GetRequestMessages()))
	for n, msg := range ccr.GetRequestMessages() {
		reqs[n] = &pb.BidiStreamRequest{}
		if err := msg.UnmarshalTo(reqs[n]); err != nil {
			return nil, err
		}
	}
	ctx = withRequestHeaders(ctx, ccr.GetRequestHeaders())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stream, err := i.client.BidiStream(ctx)
	if err != nil {
		return &pb.ClientResponseResult{Error: protoError(err)}, nil
	}
	result := &pb.ClientResponseResult{}
	fullDuplex := ccr.GetStreamType() == pb.StreamType_STREAM_TYPE_FULL_DUPLEX_BIDI_STREAM
	received := 0
	// recv receives one response; false when the call has ended (its
	// error, if not OK, in result).
	recv := func() bool {
		msg, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				result.Error = protoError(err)
			}
			return false
		}
		result.Payloads = append(result.Payloads, msg.GetPayload())
		received++
		if received == timing.afterNumResponses {
			cancel()
		}
		return true
	}

	ended := false
	for _, req := range reqs {
		time.Sleep(time.Duration(ccr.GetRequestDelayMs()) * time.Millisecond)
		if err := stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				// The call has ended: Recv tells how, after the
				// responses that came before the end.
				for recv() {
				}
			} else {
				result.Error = protoError(err)
			}
			ended = true
			break
		}
		// Full duplex: a response for each request, in turn.
		if fullDuplex && !recv() {
			ended = true
			break
		}
	}

	if timing.beforeCloseSend {
		cancel()
	}
	if err := stream.CloseSend(); err != nil && result.Error == nil {
		result.Error = protoError(err)
	}
	if timing.afterCloseSendMs >= 0 {
		time.Sleep(time.Duration(timing.afterCloseSendMs) * time.Millisecond)
		cancel()
	}
	// As in serverStream, Header's error is not taken as the status:
	// grpc-go's Header never returns one; RecvMsg reports the status
	// (see TestHeaderAfterDeadline).
	header, _ := stream.Header()
	result.ResponseHeaders = protoHeaders(header)
	if !ended && result.Error == nil {
		for recv() {
		}
	}
	result.ResponseTrailers = protoHeaders(stream.Trailer())
	return result, nil
}
