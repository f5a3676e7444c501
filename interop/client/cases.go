package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/client"
)

// testCase is one interop case. run returns nil when everything the case's
// description asserts holds, else what did not.
type testCase struct {
	name string
	run  func(ctx context.Context, e *env) error
	soak bool // runs for up to --soak_overall_timeout_seconds
}

// env is what a case runs with. A case owns it while it runs.
type env struct {
	conn   *client.Conn
	dial   func() (*client.Conn, error) // a new Conn like conn, for channel_soak
	soak   soakConfig
	log    io.Writer // progress, to stderr
	target string
}

// cases are the interop cases this client runs, in the order "all" runs
// them: the 16 run in every direction, then the 4 compression cases.
var cases = []testCase{
	{name: "empty_unary", run: emptyUnary},
	{name: "large_unary", run: largeUnary},
	{name: "client_streaming", run: clientStreaming},
	{name: "server_streaming", run: serverStreaming},
	{name: "ping_pong", run: pingPong},
	{name: "empty_stream", run: emptyStream},
	{name: "timeout_on_sleeping_server", run: timeoutOnSleepingServer},
	{name: "cancel_after_begin", run: cancelAfterBegin},
	{name: "cancel_after_first_response", run: cancelAfterFirstResponse},
	{name: "status_code_and_message", run: statusCodeAndMessage},
	{name: "special_status_message", run: specialStatusMessage},
	{name: "custom_metadata", run: customMetadata},
	{name: "unimplemented_method", run: unimplementedMethod},
	{name: "unimplemented_service", run: unimplementedService},
	{name: "rpc_soak", run: rpcSoak, soak: true},
	{name: "channel_soak", run: channelSoak, soak: true},
	{name: "client_compressed_unary", run: clientCompressedUnary},
	{name: "server_compressed_unary", run: serverCompressedUnary},
	{name: "client_compressed_streaming", run: clientCompressedStreaming},
	{name: "server_compressed_streaming", run: serverCompressedStreaming},
}

func caseNames() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

func caseNamed(name string) (testCase, bool) {
	i := slices.IndexFunc(cases, func(c testCase) bool { return c.name == name })
	if i < 0 {
		return testCase{}, false
	}
	return cases[i], true
}

// The sizes the descriptions use.
const (
	largeRequestSize  = 271828
	largeResponseSize = 314159
)

var (
	// Request and response sizes of client_streaming, server_streaming
	// and ping_pong.
	streamRequestSizes  = []int{27182, 8, 1828, 45904}
	streamResponseSizes = []int{31415, 9, 2653, 58979}
)

// payload is n zero bytes, COMPRESSABLE: what every request carries.
func payload(n int) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// checkPayload checks a response's payload against the golden one: n zero
// bytes, COMPRESSABLE.
func checkPayload(what string, p *testpb.Payload, n int) error {
	if t := p.GetType(); t != testpb.PayloadType_COMPRESSABLE {
		return fmt.Errorf("%s: payload type %v, want COMPRESSABLE", what, t)
	}
	body := p.GetBody()
	if len(body) != n {
		return fmt.Errorf("%s: payload of %d bytes, want %d", what, len(body), n)
	}
	if i := slices.IndexFunc(body, func(b byte) bool { return b != 0 }); i >= 0 {
		return fmt.Errorf("%s: payload byte %d is %#x, want zeros", what, i, body[i])
	}
	return nil
}

// checkStatus checks that err is the status code with message msg.
func checkStatus(what string, err error, code codes.Code, msg string) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded, want status %v %q", what, code, msg)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: error %v is not a status, want %v %q", what, err, code, msg)
	}
	if st.Code() != code || st.Message() != msg {
		return fmt.Errorf("%s: status %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
	return nil
}

// checkCode checks that err is a status with code.
func checkCode(what string, err error, code codes.Code) error {
	if got := status.Code(err); got != code {
		return fmt.Errorf("%s: status %v (%v), want %v", what, got, err, code)
	}
	return nil
}

// largeUnaryRequest is large_unary's request.
func largeUnaryRequest() *testpb.SimpleRequest {
	return &testpb.SimpleRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseSize: largeResponseSize,
		Payload:      payload(largeRequestSize),
	}
}

func emptyUnary(ctx context.Context, e *env) error {
	reply, err := testpb.NewTestServiceClient(e.conn).EmptyCall(ctx, &testpb.Empty{})
	if err != nil {
		return fmt.Errorf("EmptyCall: %w", err)
	}
	if reply == nil || !proto.Equal(reply, &testpb.Empty{}) {
		return fmt.Errorf("EmptyCall: reply %v, want an empty message", reply)
	}
	return nil
}

func largeUnary(ctx context.Context, e *env) error {
	reply, err := testpb.NewTestServiceClient(e.conn).UnaryCall(ctx, largeUnaryRequest())
	if err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	return checkPayload("UnaryCall", reply.GetPayload(), largeResponseSize)
}

func clientStreaming(ctx context.Context, e *env) error {
	stream, err := testpb.NewTestServiceClient(e.conn).StreamingInputCall(ctx)
	if err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	sum := 0
	for _, n := range streamRequestSizes {
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(n)}); err != nil {
			_, rerr := stream.CloseAndRecv()
			return fmt.Errorf("StreamingInputCall: sending %d bytes: %v (status: %v)", n, err, rerr)
		}
		sum += n
	}
	reply, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	if got := reply.GetAggregatedPayloadSize(); got != int32(sum) {
		return fmt.Errorf("StreamingInputCall: aggregated_payload_size %d, want %d", got, sum)
	}
	return nil
}

func serverStreaming(ctx context.Context, e *env) error {
	req := &testpb.StreamingOutputCallRequest{ResponseType: testpb.PayloadType_COMPRESSABLE}
	for _, n := range streamResponseSizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: int32(n)})
	}
	stream, err := testpb.NewTestServiceClient(e.conn).StreamingOutputCall(ctx, req)
	if err != nil {
		return fmt.Errorf("StreamingOutputCall: %w", err)
	}
	for i := 0; ; i++ {
		reply, err := stream.Recv()
		if err == io.EOF {
			if i != len(streamResponseSizes) {
				return fmt.Errorf("StreamingOutputCall: %d responses, want %d", i, len(streamResponseSizes))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("StreamingOutputCall: after %d responses: %w", i, err)
		}
		if i >= len(streamResponseSizes) {
			return fmt.Errorf("StreamingOutputCall: more than %d responses", len(streamResponseSizes))
		}
		if err := checkPayload(fmt.Sprintf("StreamingOutputCall response %d", i), reply.GetPayload(), streamResponseSizes[i]); err != nil {
			return err
		}
	}
}

func pingPong(ctx context.Context, e *env) error {
	stream, err := testpb.NewTestServiceClient(e.conn).FullDuplexCall(ctx)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	for i, n := range streamRequestSizes {
		req := &testpb.StreamingOutputCallRequest{
			ResponseType:       testpb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*testpb.ResponseParameters{{Size: int32(streamResponseSizes[i])}},
			Payload:            payload(n),
		}
		if err := stream.Send(req); err != nil {
			_, rerr := stream.Recv()
			return fmt.Errorf("FullDuplexCall: sending request %d: %v (status: %v)", i, err, rerr)
		}
		reply, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("FullDuplexCall: response %d: %w", i, err)
		}
		if err := checkPayload(fmt.Sprintf("FullDuplexCall response %d", i), reply.GetPayload(), streamResponseSizes[i]); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	return expectEnd("FullDuplexCall", stream)
}

// expectEnd checks that a stream ends with OK and no further response.
func expectEnd(what string, stream grpc.ClientStream) error {
	err := stream.RecvMsg(new(testpb.StreamingOutputCallResponse))
	switch {
	case err == nil:
		return fmt.Errorf("%s: one response more than expected", what)
	case err != io.EOF:
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func emptyStream(ctx context.Context, e *env) error {
	stream, err := testpb.NewTestServiceClient(e.conn).FullDuplexCall(ctx)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	return expectEnd("FullDuplexCall", stream)
}

func timeoutOnSleepingServer(ctx context.Context, e *env) error {
	ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	stream, err := testpb.NewTestServiceClient(e.conn).FullDuplexCall(ctx)
	if err != nil {
		// The deadline may pass before the call starts.
		return checkCode("FullDuplexCall", err, codes.DeadlineExceeded)
	}
	req := &testpb.StreamingOutputCallRequest{ResponseType: testpb.PayloadType_COMPRESSABLE, Payload: payload(27182)}
	if err := stream.Send(req); err != nil && err != io.EOF {
		return fmt.Errorf("FullDuplexCall: Send: %w", err)
	}
	_, err = stream.Recv()
	return checkCode("FullDuplexCall", err, codes.DeadlineExceeded)
}

func cancelAfterBegin(ctx context.Context, e *env) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := testpb.NewTestServiceClient(e.conn).StreamingInputCall(ctx)
	if err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	cancel()
	_, err = stream.CloseAndRecv()
	return checkCode("StreamingInputCall", err, codes.Canceled)
}

func cancelAfterFirstResponse(ctx context.Context, e *env) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := testpb.NewTestServiceClient(e.conn).FullDuplexCall(ctx)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	req := &testpb.StreamingOutputCallRequest{
		ResponseType:       testpb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testpb.ResponseParameters{{Size: 31415}},
		Payload:            payload(27182),
	}
	if err := stream.Send(req); err != nil {
		_, rerr := stream.Recv()
		return fmt.Errorf("FullDuplexCall: Send: %v (status: %v)", err, rerr)
	}
	reply, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("FullDuplexCall: first response: %w", err)
	}
	if err := checkPayload("FullDuplexCall response", reply.GetPayload(), 31415); err != nil {
		return err
	}
	cancel()
	_, err = stream.Recv()
	return checkCode("FullDuplexCall after cancel", err, codes.Canceled)
}

func statusCodeAndMessage(ctx context.Context, e *env) error {
	const (
		code = codes.Unknown // 2
		msg  = "test status message"
	)
	echo := &testpb.EchoStatus{Code: int32(code), Message: msg}
	tc := testpb.NewTestServiceClient(e.conn)
	_, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: echo})
	if err := checkStatus("UnaryCall", err, code, msg); err != nil {
		return err
	}
	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	// The server may end the call before the half-close: Send and
	// CloseSend then report nothing useful, Recv has the status.
	if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: echo}); err != nil && err != io.EOF {
		return fmt.Errorf("FullDuplexCall: Send: %w", err)
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	_, err = stream.Recv()
	return checkStatus("FullDuplexCall", err, code, msg)
}

func specialStatusMessage(ctx context.Context, e *env) error {
	const (
		code = codes.Unknown // 2
		msg  = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	)
	req := &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(code), Message: msg}}
	_, err := testpb.NewTestServiceClient(e.conn).UnaryCall(ctx, req)
	return checkStatus("UnaryCall", err, code, msg)
}

// The metadata custom_metadata sends and expects echoed.
const (
	echoInitialKey    = "x-grpc-test-echo-initial"
	echoInitialValue  = "test_initial_metadata_value"
	echoTrailingKey   = "x-grpc-test-echo-trailing-bin"
	echoTrailingValue = "\xab\xab\xab"
)

// checkEchoedMetadata checks that header and trailer hold exactly the
// values custom_metadata sent.
func checkEchoedMetadata(what string, header, trailer metadata.MD) error {
	if got := header.Get(echoInitialKey); !slices.Equal(got, []string{echoInitialValue}) {
		return fmt.Errorf("%s: header %s = %q, want [%q]", what, echoInitialKey, got, echoInitialValue)
	}
	if got := trailer.Get(echoTrailingKey); !slices.Equal(got, []string{echoTrailingValue}) {
		return fmt.Errorf("%s: trailer %s = %q, want [%q]", what, echoTrailingKey, got, echoTrailingValue)
	}
	return nil
}

func customMetadata(ctx context.Context, e *env) error {
	ctx = metadata.AppendToOutgoingContext(ctx, echoInitialKey, echoInitialValue, echoTrailingKey, echoTrailingValue)
	tc := testpb.NewTestServiceClient(e.conn)

	var header, trailer metadata.MD
	reply, err := tc.UnaryCall(ctx, largeUnaryRequest(), grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	if err := checkPayload("UnaryCall", reply.GetPayload(), largeResponseSize); err != nil {
		return err
	}
	if err := checkEchoedMetadata("UnaryCall", header, trailer); err != nil {
		return err
	}

	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	req := &testpb.StreamingOutputCallRequest{
		ResponseType:       testpb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testpb.ResponseParameters{{Size: largeResponseSize}},
		Payload:            payload(largeRequestSize),
	}
	if err := stream.Send(req); err != nil {
		_, rerr := stream.Recv()
		return fmt.Errorf("FullDuplexCall: Send: %v (status: %v)", err, rerr)
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	header, err = stream.Header()
	if err != nil {
		return fmt.Errorf("FullDuplexCall: Header: %w", err)
	}
	sreply, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("FullDuplexCall: response: %w", err)
	}
	if err := checkPayload("FullDuplexCall", sreply.GetPayload(), largeResponseSize); err != nil {
		return err
	}
	if err := expectEnd("FullDuplexCall", stream); err != nil {
		return err
	}
	return checkEchoedMetadata("FullDuplexCall", header, stream.Trailer())
}

func unimplementedMethod(ctx context.Context, e *env) error {
	err := e.conn.Invoke(ctx, testpb.TestService_UnimplementedCall_FullMethodName, &testpb.Empty{}, &testpb.Empty{})
	return checkCode("TestService/UnimplementedCall", err, codes.Unimplemented)
}

func unimplementedService(ctx context.Context, e *env) error {
	_, err := testpb.NewUnimplementedServiceClient(e.conn).UnimplementedCall(ctx, &testpb.Empty{})
	return checkCode("UnimplementedService/UnimplementedCall", err, codes.Unimplemented)
}
