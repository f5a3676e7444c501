package main

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2grpc/h2grpc/client"
)

// The compression cases choose each request's compressed flag and read
// each response's, which generated stubs cannot: they call through
// Conn.NewStream, whose grpc.ClientStream is a *client.Call, and use its
// SetMessageCompression (before SendMsg) and RecvCompressed (after
// RecvMsg).

// compressor is the algorithm the compressed requests use.
const compressor = "gzip"

// What the calls are, as the generated code describes them.
var (
	unaryDesc        = &grpc.StreamDesc{}
	clientStreamDesc = &grpc.StreamDesc{ClientStreams: true}
	serverStreamDesc = &grpc.StreamDesc{ServerStreams: true}
)

// boolValue is the test proto's nullable bool.
func boolValue(v bool) *testpb.BoolValue { return &testpb.BoolValue{Value: v} }

// newCall starts a call of method as a *client.Call.
func newCall(ctx context.Context, conn *client.Conn, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (*client.Call, error) {
	cs, err := conn.NewStream(ctx, desc, method, opts...)
	if err != nil {
		return nil, err
	}
	call, ok := cs.(*client.Call)
	if !ok {
		return nil, fmt.Errorf("conn.NewStream returned a %T, not a *client.Call", cs)
	}
	return call, nil
}

// unaryCall makes a UnaryCall whose request goes compressed (flag 1) or
// not, and reports whether the response arrived compressed. Compressing
// needs a call made with grpc.UseCompressor in opts; without, the request
// goes uncompressed whatever compress says.
func unaryCall(ctx context.Context, conn *client.Conn, req *testpb.SimpleRequest, compress bool, opts ...grpc.CallOption) (*testpb.SimpleResponse, bool, error) {
	call, err := newCall(ctx, conn, unaryDesc, testpb.TestService_UnaryCall_FullMethodName, opts...)
	if err != nil {
		return nil, false, err
	}
	call.SetMessageCompression(compress)
	// A failed send of the single request reports nothing (as in
	// grpc-go): RecvMsg has the status.
	if err := call.SendMsg(req); err != nil {
		return nil, false, err
	}
	reply := new(testpb.SimpleResponse)
	if err := call.RecvMsg(reply); err != nil {
		return nil, false, err
	}
	return reply, call.RecvCompressed(), nil
}

// expectCompressedRequest is client_compressed_unary's request.
func expectCompressedRequest(expect bool) *testpb.SimpleRequest {
	req := largeUnaryRequest()
	req.ExpectCompressed = boolValue(expect)
	return req
}

func clientCompressedUnary(ctx context.Context, e *env) error {
	// The probe: a server that implements CompressedRequest refuses an
	// uncompressed request that says it is compressed.
	_, _, err := unaryCall(ctx, e.conn, expectCompressedRequest(true), false)
	if err == nil {
		return fmt.Errorf("probe (expect_compressed=true, sent uncompressed): succeeded, want INVALID_ARGUMENT: the server does not check expect_compressed (CompressedRequest)")
	}
	if err := checkCode("probe (expect_compressed=true, sent uncompressed)", err, codes.InvalidArgument); err != nil {
		return err
	}
	steps := []struct {
		what     string
		expect   bool
		compress bool
		opts     []grpc.CallOption
	}{
		{"compressed (expect_compressed=true, gzip, flag 1)", true, true, []grpc.CallOption{grpc.UseCompressor(compressor)}},
		{"uncompressed (expect_compressed=false, no grpc-encoding)", false, false, nil},
		{"uncompressed (expect_compressed=false, gzip call, flag 0)", false, false, []grpc.CallOption{grpc.UseCompressor(compressor)}},
	}
	for _, s := range steps {
		reply, _, err := unaryCall(ctx, e.conn, expectCompressedRequest(s.expect), s.compress, s.opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		if err := checkPayload(s.what, reply.GetPayload(), largeResponseSize); err != nil {
			return err
		}
	}
	return nil
}

func serverCompressedUnary(ctx context.Context, e *env) error {
	for _, want := range []bool{true, false} {
		what := fmt.Sprintf("UnaryCall (response_compressed=%v)", want)
		req := largeUnaryRequest()
		req.ResponseCompressed = boolValue(want)
		reply, compressed, err := unaryCall(ctx, e.conn, req, false)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if compressed != want {
			return fmt.Errorf("%s: the response's compressed flag is %v, want %v", what, compressed, want)
		}
		if err := checkPayload(what, reply.GetPayload(), largeResponseSize); err != nil {
			return err
		}
	}
	return nil
}

func clientCompressedStreaming(ctx context.Context, e *env) error {
	// The probe, on a call of its own: an uncompressed request that says
	// it is compressed must fail the call.
	const probe = "probe (expect_compressed=true, sent uncompressed)"
	call, err := newCall(ctx, e.conn, clientStreamDesc, testpb.TestService_StreamingInputCall_FullMethodName)
	if err != nil {
		return fmt.Errorf("%s: %w", probe, err)
	}
	req := &testpb.StreamingInputCallRequest{ExpectCompressed: boolValue(true), Payload: payload(27182)}
	// The server may fail the call before the half-close; RecvMsg tells.
	if err := call.SendMsg(req); err != nil && err != io.EOF {
		return fmt.Errorf("%s: SendMsg: %w", probe, err)
	}
	call.CloseSend()
	err = call.RecvMsg(new(testpb.StreamingInputCallResponse))
	if err == nil {
		return fmt.Errorf("%s: succeeded, want INVALID_ARGUMENT: the server does not check expect_compressed (CompressedRequest)", probe)
	}
	if err := checkCode(probe, err, codes.InvalidArgument); err != nil {
		return err
	}

	// Then one call, compressed with gzip: the first request compressed
	// (flag 1), the second not (flag 0).
	call, err = newCall(ctx, e.conn, clientStreamDesc, testpb.TestService_StreamingInputCall_FullMethodName, grpc.UseCompressor(compressor))
	if err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	sends := []struct {
		compressed bool
		size       int
	}{{true, 27182}, {false, 45904}}
	for _, s := range sends {
		call.SetMessageCompression(s.compressed)
		req := &testpb.StreamingInputCallRequest{ExpectCompressed: boolValue(s.compressed), Payload: payload(s.size)}
		if err := call.SendMsg(req); err != nil {
			rerr := call.RecvMsg(new(testpb.StreamingInputCallResponse))
			return fmt.Errorf("StreamingInputCall: sending the request with expect_compressed=%v: %v (status: %v)", s.compressed, err, rerr)
		}
	}
	call.CloseSend()
	reply := new(testpb.StreamingInputCallResponse)
	if err := call.RecvMsg(reply); err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	if got, want := reply.GetAggregatedPayloadSize(), int32(27182+45904); got != want {
		return fmt.Errorf("StreamingInputCall: aggregated_payload_size %d, want %d", got, want)
	}
	return nil
}

func serverCompressedStreaming(ctx context.Context, e *env) error {
	want := []struct {
		compressed bool
		size       int
	}{{true, 31415}, {false, 92653}}
	req := &testpb.StreamingOutputCallRequest{ResponseType: testpb.PayloadType_COMPRESSABLE}
	for _, w := range want {
		req.ResponseParameters = append(req.ResponseParameters,
			&testpb.ResponseParameters{Compressed: boolValue(w.compressed), Size: int32(w.size)})
	}
	call, err := newCall(ctx, e.conn, serverStreamDesc, testpb.TestService_StreamingOutputCall_FullMethodName)
	if err != nil {
		return fmt.Errorf("StreamingOutputCall: %w", err)
	}
	if err := call.SendMsg(req); err != nil {
		return fmt.Errorf("StreamingOutputCall: SendMsg: %w", err)
	}
	call.CloseSend()
	for i, w := range want {
		what := fmt.Sprintf("StreamingOutputCall response %d (compressed=%v)", i, w.compressed)
		reply := new(testpb.StreamingOutputCallResponse)
		if err := call.RecvMsg(reply); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if got := call.RecvCompressed(); got != w.compressed {
			return fmt.Errorf("%s: the response's compressed flag is %v, want %v", what, got, w.compressed)
		}
		if err := checkPayload(what, reply.GetPayload(), w.size); err != nil {
			return err
		}
	}
	return expectEnd("StreamingOutputCall", call)
}
