package main

import (
	"context"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/server"
)

// The metadata keys of the Echo Metadata feature.
const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

// testService is grpc.testing.TestService as the "Server" section of
// gRPC's doc/interop-test-descriptions.md describes it. Every method
// echoes the Echo Metadata keys and honours the request fields it has:
// response sizes and type, response_status, expect_compressed,
// response_compressed and ResponseParameters' interval_us, compressed and
// fill_peer_socket_address. Responses go uncompressed unless a request
// asks for compression.
//
// It has no state: every method may run concurrently with any other.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
}

var _ testgrpc.TestServiceServer = testService{}

// EmptyCall returns the empty message.
func (testService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	if err := server.SetMessageCompression(ctx, false); err != nil {
		return nil, err
	}
	if err := echoUnary(ctx); err != nil {
		return nil, err
	}
	return &testgrpc.Empty{}, nil
}

// UnaryCall answers with a payload of response_size zeros, or with
// response_status when it is set. expect_compressed is checked against how
// the request arrived; response_compressed compresses the response.
func (testService) UnaryCall(ctx context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if err := checkCompressed(ctx, in.GetExpectCompressed()); err != nil {
		return nil, err
	}
	// The compressor must be chosen before the headers leave: echoing sets
	// them without sending, so they go with the response.
	if err := compressResponse(ctx, in.GetResponseCompressed().GetValue()); err != nil {
		return nil, err
	}
	if err := echoUnary(ctx); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Payload: pl}, nil
}

// CacheableUnaryCall ignores its request and answers with the current
// time, in nanoseconds, as the payload, and with cache-control headers
// that let a caching proxy keep it (as gRPC's C++ interop server does).
// No proxy is involved in the tests run here: h2grpc answers POST only.
func (testService) CacheableUnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if err := server.SetMessageCompression(ctx, false); err != nil {
		return nil, err
	}
	if err := echoUnary(ctx); err != nil {
		return nil, err
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("cache-control", "max-age=60, public")); err != nil {
		return nil, err
	}
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{
		Type: testgrpc.PayloadType_COMPRESSABLE,
		Body: []byte(now),
	}}, nil
}

// StreamingOutputCall sends one response per ResponseParameters, in order,
// or ends with response_status when it is set.
func (testService) StreamingOutputCall(in *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	ctx := stream.Context()
	out, err := newOutput(ctx, stream)
	if err != nil {
		return err
	}
	return out.answer(in)
}

// StreamingInputCall answers, once the client half-closes, with the sum of
// the sizes of the payloads it received. Each request's expect_compressed
// is checked against how that request arrived.
func (testService) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	ctx := stream.Context()
	if err := server.SetMessageCompression(ctx, false); err != nil {
		return err
	}
	if err := echoStream(stream); err != nil {
		return err
	}
	var sum int
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if err := checkCompressed(ctx, in.GetExpectCompressed()); err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

// FullDuplexCall answers each request as it arrives, with one response
// per ResponseParameters, and ends with OK once the client half-closes,
// or with the response_status of the first request that has one.
func (testService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	out, err := newOutput(stream.Context(), stream)
	if err != nil {
		return err
	}
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := out.answer(in); err != nil {
			return err
		}
	}
}

// HalfDuplexCall is FullDuplexCall answering only once the client has
// half-closed: it keeps every request until then.
func (testService) HalfDuplexCall(stream testgrpc.TestService_HalfDuplexCallServer) error {
	out, err := newOutput(stream.Context(), stream)
	if err != nil {
		return err
	}
	var reqs []*testgrpc.StreamingOutputCallRequest
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		reqs = append(reqs, in)
	}
	for _, in := range reqs {
		if err := out.answer(in); err != nil {
			return err
		}
	}
	return nil
}

// UnimplementedCall is the method servers leave unimplemented, for the
// unimplemented_method case.
func (testService) UnimplementedCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return nil, status.Error(codes.Unimplemented, "grpc.testing.TestService/UnimplementedCall is unimplemented on purpose")
}

// output sends the responses of the three streaming-output methods.
type output struct {
	ctx  context.Context
	send func(*testgrpc.StreamingOutputCallResponse) error
	// canCompress says a compressor was set up for the call, so a
	// response may ask for compression.
	canCompress bool
}

// newOutput prepares a streaming call's responses and echoes its metadata.
// A later request may ask for any response to be compressed, so it sets up
// a compressor (the request's encoding, else gzip) when the client accepts
// one, before the echoed headers leave, and sends every response
// uncompressed unless its ResponseParameters ask otherwise. Compressing
// per message is what doc/compression.md allows.
func newOutput(ctx context.Context, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) (*output, error) {
	o := &output{ctx: ctx, send: stream.Send}
	o.canCompress = useCompressor(ctx) == nil
	if err := server.SetMessageCompression(ctx, false); err != nil {
		return nil, err
	}
	if err := echoStream(stream); err != nil {
		return nil, err
	}
	return o, nil
}

// answer sends the responses in's ResponseParameters ask for, each after
// its interval_us, or returns in's response_status.
func (o *output) answer(in *testgrpc.StreamingOutputCallRequest) error {
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	for _, p := range in.GetResponseParameters() {
		if err := sleep(o.ctx, time.Duration(p.GetIntervalUs())*time.Microsecond); err != nil {
			return err
		}
		pl, err := newPayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		resp := &testgrpc.StreamingOutputCallResponse{Payload: pl}
		if p.GetFillPeerSocketAddress().GetValue() {
			if pr, ok := peer.FromContext(o.ctx); ok && pr.Addr != nil {
				resp.PeerSocketAddress = pr.Addr.String()
			}
		}
		compress := p.GetCompressed().GetValue()
		if compress && !o.canCompress {
			return errNoCompressor(o.ctx)
		}
		if err := server.SetMessageCompression(o.ctx, compress); err != nil {
			return err
		}
		if err := o.send(resp); err != nil {
			return err
		}
	}
	return nil
}

// compressResponse makes a unary call's response compressed or not.
func compressResponse(ctx context.Context, on bool) error {
	if on {
		if err := useCompressor(ctx); err != nil {
			return err
		}
	}
	return server.SetMessageCompression(ctx, on)
}

// useCompressor sets up the compression of the call's responses: the
// request's own encoding when it has one, else gzip. It fails when the
// client accepts neither (SetSendCompressor checks grpc-accept-encoding).
func useCompressor(ctx context.Context) error {
	name := "gzip"
	if c := server.CallFromContext(ctx); c != nil {
		if h := c.RequestHeader(); h != nil && h.Encoding != "" && h.Encoding != "identity" {
			name = h.Encoding
		}
	}
	if err := server.SetSendCompressor(ctx, name); err != nil {
		return errNoCompressor(ctx)
	}
	return nil
}

func errNoCompressor(ctx context.Context) error {
	var accept string
	if c := server.CallFromContext(ctx); c != nil {
		if h := c.RequestHeader(); h != nil {
			accept = h.AcceptEncoding
		}
	}
	return status.Errorf(codes.InvalidArgument,
		"a compressed response was asked for, but the client accepts no compression the server has (grpc-accept-encoding %q)", accept)
}

// checkCompressed implements the CompressedRequest feature: when
// expect_compressed is set, the request must have arrived compressed (or,
// set to false, uncompressed), else the call fails with INVALID_ARGUMENT.
func checkCompressed(ctx context.Context, expect *testgrpc.BoolValue) error {
	if expect == nil {
		return nil
	}
	switch got := server.RecvCompressed(ctx); {
	case expect.GetValue() && !got:
		return status.Error(codes.InvalidArgument, "expected a compressed request, got an uncompressed one")
	case !expect.GetValue() && got:
		return status.Error(codes.InvalidArgument, "expected an uncompressed request, got a compressed one")
	}
	return nil
}

// echoStatus implements the Echo Status feature: a response_status with a
// code other than OK ends the call with that code and message.
func echoStatus(st *testgrpc.EchoStatus) error {
	if st.GetCode() == 0 {
		return nil
	}
	return status.Error(codes.Code(st.GetCode()), st.GetMessage())
}

// echoed implements the Echo Metadata feature: it returns the request's
// values of the echo keys, the initial one as response headers and the
// trailing one as trailers (nil when the request has none).
func echoed(ctx context.Context) (header, trailer metadata.MD) {
	md, _ := metadata.FromIncomingContext(ctx)
	if vs := md.Get(echoInitialKey); len(vs) > 0 {
		header = metadata.MD{echoInitialKey: vs}
	}
	if vs := md.Get(echoTrailingKey); len(vs) > 0 {
		trailer = metadata.MD{echoTrailingKey: vs}
	}
	return header, trailer
}

// echoUnary echoes a unary call's metadata: the headers leave with the
// response (or the status), so the call may still choose its compressor.
func echoUnary(ctx context.Context) error {
	header, trailer := echoed(ctx)
	if err := grpc.SetHeader(ctx, header); err != nil {
		return err
	}
	return grpc.SetTrailer(ctx, trailer)
}

// echoStream echoes a streaming call's metadata, sending the headers at
// once, as grpc-go's interop server does, so a client sees them before any
// response.
func echoStream(ss grpc.ServerStream) error {
	header, trailer := echoed(ss.Context())
	ss.SetTrailer(trailer)
	if header == nil {
		return nil
	}
	return ss.SendHeader(header)
}

// newPayload returns a payload of size zeros. COMPRESSABLE is the only
// payload type the test proto still has; another type, or a negative size,
// fails the call with INVALID_ARGUMENT, as the UnaryCall feature says.
func newPayload(t testgrpc.PayloadType, size int32) (*testgrpc.Payload, error) {
	if t != testgrpc.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported response_type %v", t)
	}
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "response size %d is negative", size)
	}
	return &testgrpc.Payload{Type: t, Body: make([]byte, size)}, nil
}

// sleep waits d (interval_us), or until the call ends, which it returns as
// the call's status.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}
