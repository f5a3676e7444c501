package main

// The TestService methods, one test per interop case they serve (named in
// each test's comment), through grpc-go's client.

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

func TestEmptyUnary(t *testing.T) {
	tc := client(t)
	resp, err := tc.EmptyCall(testContext(t), &testgrpc.Empty{})
	if err != nil || resp == nil {
		t.Fatalf("EmptyCall = %v, %v", resp, err)
	}
}

func TestLargeUnary(t *testing.T) {
	tc := client(t)
	resp, err := tc.UnaryCall(testContext(t), &testgrpc.SimpleRequest{
		ResponseType: testgrpc.PayloadType_COMPRESSABLE,
		ResponseSize: 314159,
		Payload:      zeros(271828),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPayload(t, resp.GetPayload(), 314159)
}

func TestBadPayloadRequests(t *testing.T) {
	tc := client(t)
	ctx := testContext(t)
	_, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseType: testgrpc.PayloadType(7), ResponseSize: 1})
	checkCode(t, err, codes.InvalidArgument)
	_, err = tc.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: -1})
	checkCode(t, err, codes.InvalidArgument)
}

// TestStatusEcho is status_code_and_message and special_status_message.
func TestStatusEcho(t *testing.T) {
	tc := client(t)
	for _, msg := range []string{
		"test status message",
		"\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n",
	} {
		ctx := testContext(t)
		echo := &testgrpc.EchoStatus{Code: int32(codes.Unknown), Message: msg}
		_, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseStatus: echo})
		if st := status.Convert(err); st.Code() != codes.Unknown || st.Message() != msg {
			t.Errorf("UnaryCall: %v %q, want UNKNOWN %q", st.Code(), st.Message(), msg)
		}

		stream, err := tc.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseStatus: echo}); err != nil {
			t.Fatal(err)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		if st := status.Convert(err); st.Code() != codes.Unknown || st.Message() != msg {
			t.Errorf("FullDuplexCall: %v %q, want UNKNOWN %q", st.Code(), st.Message(), msg)
		}
	}
}

// TestCustomMetadata is custom_metadata.
func TestCustomMetadata(t *testing.T) {
	const initial, trailing = "test_initial_metadata_value", "\xab\xab\xab"
	tc := client(t)
	ctx := metadata.AppendToOutgoingContext(testContext(t), echoInitialKey, initial, echoTrailingKey, trailing)
	check := func(method string, header, trailer metadata.MD) {
		t.Helper()
		if got := header.Get(echoInitialKey); len(got) != 1 || got[0] != initial {
			t.Errorf("%s: header %s = %q, want %q", method, echoInitialKey, got, initial)
		}
		if got := trailer.Get(echoTrailingKey); len(got) != 1 || got[0] != trailing {
			t.Errorf("%s: trailer %s = %q, want %q", method, echoTrailingKey, got, trailing)
		}
	}

	var header, trailer metadata.MD
	resp, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 314159, Payload: zeros(271828)},
		grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	checkPayload(t, resp.GetPayload(), 314159)
	check("UnaryCall", header, trailer)

	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The headers come before any response: the server sends them at once.
	if header, err = stream.Header(); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: 314159}},
		Payload:            zeros(271828),
	}); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	checkPayload(t, r.GetPayload(), 314159)
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after the response: %v, want io.EOF", err)
	}
	check("FullDuplexCall", header, stream.Trailer())
}

// TestClientCompressedUnary is client_compressed_unary, plus the
// compressed request that expect_compressed false refuses.
func TestClientCompressedUnary(t *testing.T) {
	tc := client(t)
	ctx := testContext(t)
	req := func(expect bool) *testgrpc.SimpleRequest {
		return &testgrpc.SimpleRequest{
			ExpectCompressed: &testgrpc.BoolValue{Value: expect},
			ResponseSize:     314159,
			Payload:          zeros(271828),
		}
	}
	gzip := grpc.UseCompressor("gzip")

	_, err := tc.UnaryCall(ctx, req(true))
	checkCode(t, err, codes.InvalidArgument)
	resp, err := tc.UnaryCall(ctx, req(true), gzip)
	if err != nil {
		t.Fatalf("compressed, expect_compressed true: %v", err)
	}
	checkPayload(t, resp.GetPayload(), 314159)
	if resp, err = tc.UnaryCall(ctx, req(false)); err != nil {
		t.Fatalf("uncompressed, expect_compressed false: %v", err)
	}
	checkPayload(t, resp.GetPayload(), 314159)
	_, err = tc.UnaryCall(ctx, req(false), gzip)
	checkCode(t, err, codes.InvalidArgument)
}

// TestClientStreaming is client_streaming and, as far as grpc-go's client
// can (it compresses all of a call's messages or none),
// client_compressed_streaming.
func TestClientStreaming(t *testing.T) {
	tc := client(t)
	ctx := testContext(t)
	call := func(expect *testgrpc.BoolValue, sizes []int, opts ...grpc.CallOption) (int32, error) {
		t.Helper()
		stream, err := tc.StreamingInputCall(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: zeros(n), ExpectCompressed: expect}); err != nil {
				break // the server ended the call: CloseAndRecv has its status
			}
		}
		resp, err := stream.CloseAndRecv()
		return resp.GetAggregatedPayloadSize(), err
	}
	sizes := []int{27182, 8, 1828, 45904}
	if sum, err := call(nil, sizes); err != nil || sum != 74922 {
		t.Errorf("client_streaming: %d, %v; want 74922", sum, err)
	}
	if sum, err := call(&testgrpc.BoolValue{Value: true}, sizes, grpc.UseCompressor("gzip")); err != nil || sum != 74922 {
		t.Errorf("compressed, expect_compressed true: %d, %v; want 74922", sum, err)
	}
	if sum, err := call(&testgrpc.BoolValue{Value: false}, sizes); err != nil || sum != 74922 {
		t.Errorf("uncompressed, expect_compressed false: %d, %v; want 74922", sum, err)
	}
	_, err := call(&testgrpc.BoolValue{Value: true}, []int{27182})
	checkCode(t, err, codes.InvalidArgument)
	_, err = call(&testgrpc.BoolValue{Value: false}, []int{27182}, grpc.UseCompressor("gzip"))
	checkCode(t, err, codes.InvalidArgument)
}

// inPayloads records the messages a client receives, to tell compressed
// ones (shorter on the wire than decoded) from the others.
type inPayloads struct {
	mu       sync.Mutex
	received []*stats.InPayload
}

func (p *inPayloads) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (p *inPayloads) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (p *inPayloads) HandleConn(context.Context, stats.ConnStats) {}
func (p *inPayloads) HandleRPC(_ context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		p.mu.Lock()
		p.received = append(p.received, in)
		p.mu.Unlock()
	}
}

// take returns whether each message received since the last take arrived
// compressed.
func (p *inPayloads) take() []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []bool
	for _, in := range p.received {
		out = append(out, in.CompressedLength < in.Length)
	}
	p.received = nil
	return out
}

// TestServerCompressed is server_compressed_unary and
// server_compressed_streaming, checking each response's compression.
func TestServerCompressed(t *testing.T) {
	rec := &inPayloads{}
	tc := client(t, grpc.WithStatsHandler(rec))
	ctx := testContext(t)
	for _, tt := range []struct {
		name     string
		compress *testgrpc.BoolValue
		opts     []grpc.CallOption
		want     bool
	}{
		{"response_compressed true", &testgrpc.BoolValue{Value: true}, nil, true},
		{"response_compressed false", &testgrpc.BoolValue{Value: false}, nil, false},
		{"response_compressed unset", nil, nil, false},
		{"gzip request, response_compressed true", &testgrpc.BoolValue{Value: true}, []grpc.CallOption{grpc.UseCompressor("gzip")}, true},
		{"gzip request, response_compressed false", &testgrpc.BoolValue{Value: false}, []grpc.CallOption{grpc.UseCompressor("gzip")}, false},
		{"gzip request, response_compressed unset", nil, []grpc.CallOption{grpc.UseCompressor("gzip")}, false},
	} {
		resp, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{
			ResponseCompressed: tt.compress,
			ResponseSize:       314159,
			Payload:            zeros(271828),
		}, tt.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		checkPayload(t, resp.GetPayload(), 314159)
		if got := rec.take(); !slices.Equal(got, []bool{tt.want}) {
			t.Errorf("%s: responses compressed %v, want [%v]", tt.name, got, tt.want)
		}
	}

	stream, err := tc.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{
			{Compressed: &testgrpc.BoolValue{Value: true}, Size: 31415},
			{Compressed: &testgrpc.BoolValue{Value: false}, Size: 92653},
			{Size: 100},
			{Compressed: &testgrpc.BoolValue{Value: true}, Size: 2653},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{31415, 92653, 100, 2653} {
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, r.GetPayload(), n)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after the responses: %v, want io.EOF", err)
	}
	if got, want := rec.take(), []bool{true, false, false, true}; !slices.Equal(got, want) {
		t.Errorf("streaming responses compressed %v, want %v", got, want)
	}

	// The same through FullDuplexCall, whose compressor is chosen before
	// any request arrives.
	bidi, err := tc.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []bool{false, true, false} {
		err := bidi.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{
			{Compressed: &testgrpc.BoolValue{Value: c}, Size: 31415},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bidi.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	bidi.CloseSend()
	if _, err := bidi.Recv(); err != io.EOF {
		t.Fatalf("FullDuplexCall: %v, want io.EOF", err)
	}
	if got, want := rec.take(), []bool{false, true, false}; !slices.Equal(got, want) {
		t.Errorf("FullDuplexCall responses compressed %v, want %v", got, want)
	}
}

// TestServerStreaming is server_streaming, with interval_us.
func TestServerStreaming(t *testing.T) {
	tc := client(t)
	sizes := []int32{31415, 9, 2653, 58979}
	const interval = 20 * time.Millisecond
	req := &testgrpc.StreamingOutputCallRequest{}
	for _, n := range sizes {
		req.ResponseParameters = append(req.ResponseParameters,
			&testgrpc.ResponseParameters{Size: n, IntervalUs: int32(interval / time.Microsecond)})
	}
	start := time.Now()
	stream, err := tc.StreamingOutputCall(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, r.GetPayload(), int(n))
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after 4 responses: %v, want io.EOF", err)
	}
	if d := time.Since(start); d < time.Duration(len(sizes))*interval {
		t.Errorf("4 responses %v apart took %v", interval, d)
	}
}

// TestPingPong is ping_pong, empty_stream and fill_peer_socket_address.
func TestPingPong(t *testing.T) {
	tc := client(t)
	ctx := testContext(t)
	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int32{31415, 9, 2653, 58979} {
		err := stream.Send(&testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{Size: n, FillPeerSocketAddress: &testgrpc.BoolValue{Value: i == 0}}},
			Payload:            zeros([]int{27182, 8, 1828, 45904}[i]),
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, r.GetPayload(), int(n))
		if host, _, _ := net.SplitHostPort(r.GetPeerSocketAddress()); (i == 0) != (host == "127.0.0.1") {
			t.Errorf("response %d: peer_socket_address %q", i, r.GetPeerSocketAddress())
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after 4 responses: %v, want io.EOF", err)
	}

	empty, err := tc.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Recv(); err != io.EOF {
		t.Fatalf("empty_stream: %v, want io.EOF", err)
	}
}

// TestHalfDuplex checks HalfDuplexCall answers only after the half-close,
// every request in order.
func TestHalfDuplex(t *testing.T) {
	tc := client(t)
	stream, err := tc.HalfDuplexCall(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int32{31415, 9, 2653, 58979, 1}
	for i := 0; i < len(sizes); i += 2 {
		req := &testgrpc.StreamingOutputCallRequest{}
		for _, n := range sizes[i:min(i+2, len(sizes))] {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: n})
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	first := make(chan time.Time, 1)
	got := make(chan error, 1)
	go func() {
		for i, n := range sizes {
			r, err := stream.Recv()
			if err != nil {
				got <- err
				return
			}
			if i == 0 {
				first <- time.Now()
			}
			if len(r.GetPayload().GetBody()) != int(n) {
				got <- errors.New("responses out of order")
				return
			}
		}
		_, err := stream.Recv()
		if err != io.EOF {
			got <- err
			return
		}
		got <- nil
	}()
	time.Sleep(100 * time.Millisecond) // time enough for an early answer to show
	closed := time.Now()
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if at := <-first; at.Before(closed) {
		t.Errorf("the first response came %v before the half-close", closed.Sub(at))
	}
}

// TestUnimplemented is unimplemented_method and unimplemented_service.
func TestUnimplemented(t *testing.T) {
	cc := dial(t, startServer(t))
	ctx := testContext(t)
	_, err := testgrpc.NewTestServiceClient(cc).UnimplementedCall(ctx, &testgrpc.Empty{})
	checkCode(t, err, codes.Unimplemented)
	_, err = testgrpc.NewUnimplementedServiceClient(cc).UnimplementedCall(ctx, &testgrpc.Empty{})
	checkCode(t, err, codes.Unimplemented)
}

// TestDeadlineAndCancel is timeout_on_sleeping_server and
// cancel_after_begin.
func TestDeadlineAndCancel(t *testing.T) {
	tc := client(t)
	ctx, cancel := context.WithTimeout(testContext(t), time.Millisecond)
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx)
	if err == nil {
		stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: zeros(27182)})
		_, err = stream.Recv()
	}
	checkCode(t, err, codes.DeadlineExceeded)

	ctx, cancel = context.WithCancel(testContext(t))
	in, err := tc.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = in.CloseAndRecv()
	checkCode(t, err, codes.Canceled)
}
