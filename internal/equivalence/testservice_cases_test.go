package equivalence

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The TestService matrix's cases, after grpc-go's interop client
// (interop/test_utils.go), on every pairing of testServicePairings.

// wantPayload checks a payload is of the COMPRESSABLE type and size bytes.
func wantPayload(t *testing.T, what string, p *testpb.Payload, size int) {
	t.Helper()
	if p.GetType() != testpb.PayloadType_COMPRESSABLE || len(p.GetBody()) != size {
		t.Fatalf("%s: payload of type %v and %d bytes, want %v and %d", what, p.GetType(), len(p.GetBody()), testpb.PayloadType_COMPRESSABLE, size)
	}
}

func payload(size int) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, size)}
}

func responseParams(sizes []int, intervalUs int32) []*testpb.ResponseParameters {
	ps := make([]*testpb.ResponseParameters, len(sizes))
	for i, s := range sizes {
		ps[i] = &testpb.ResponseParameters{Size: int32(s), IntervalUs: intervalUs}
	}
	return ps
}

// wantEchoedMetadata checks the custom metadata came back as grpc-go's
// interop test (validateMetadata) checks it, and each on its own side.
func wantEchoedMetadata(t *testing.T, what string, header, trailer metadata.MD) {
	t.Helper()
	if v := header.Get(initialMetadataKey); len(v) != 1 || v[0] != initialMetadataValue {
		t.Errorf("%s: header %s = %q, want [%q]", what, initialMetadataKey, v, initialMetadataValue)
	}
	if v := trailer.Get(trailingMetadataKey); len(v) != 1 || v[0] != trailingMetadataValue {
		t.Errorf("%s: trailer %s = %q, want [%q]", what, trailingMetadataKey, v, trailingMetadataValue)
	}
	if v := header.Get(trailingMetadataKey); len(v) != 0 {
		t.Errorf("%s: header has %s = %q", what, trailingMetadataKey, v)
	}
	if v := trailer.Get(initialMetadataKey); len(v) != 0 {
		t.Errorf("%s: trailer has %s = %q", what, initialMetadataKey, v)
	}
}

// wantStatus checks err is want as grpc-go's status.FromError reads it:
// code, message and details, and errors.Is matches it.
func wantStatus(t *testing.T, what string, err error, want *grpcstatus.Status) {
	t.Helper()
	got, ok := grpcstatus.FromError(err)
	if !ok {
		t.Fatalf("%s: status.FromError(%v) found no status", what, err)
	}
	if got.Code() != want.Code() || got.Message() != want.Message() {
		t.Fatalf("%s: status %v %q, want %v %q", what, got.Code(), got.Message(), want.Code(), want.Message())
	}
	if !proto.Equal(got.Proto(), want.Proto()) {
		t.Fatalf("%s: status %v, want %v", what, got.Proto(), want.Proto())
	}
	if !errors.Is(err, want.Err()) {
		t.Errorf("%s: errors.Is(%v, %v) is false", what, err, want.Err())
	}
}

// The interop tests' sizes (interop/test_utils.go).
var (
	reqSizes  = []int{27182, 8, 1828, 45904}
	respSizes = []int{31415, 9, 2653, 58979}
)

// testServiceCases run on every pairing of testServicePairings with the
// same assertions.
var testServiceCases = []struct {
	name string
	fn   func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient)
}{
	{"UnaryCall", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		// The interop sizes, then its large unary (271828 up, 314159 down).
		for i, size := range append(respSizes, 314159) {
			reqSize := append(reqSizes, 271828)[i]
			reply, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{
				ResponseType: testpb.PayloadType_COMPRESSABLE,
				ResponseSize: int32(size),
				Payload:      payload(reqSize),
			})
			if err != nil {
				t.Fatalf("UnaryCall(%d up, %d down): %v", reqSize, size, err)
			}
			wantPayload(t, "UnaryCall", reply.GetPayload(), size)
		}
	}},

	{"StreamingOutputCall", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		for _, c := range []struct {
			sizes    []int
			interval int32 // µs before each response
		}{
			{respSizes, 0},
			{[]int{0, 1, 0, 64 << 10, 3}, 0},
			{respSizes, 5000},
		} {
			start := time.Now()
			stream, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
				ResponseType:       testpb.PayloadType_COMPRESSABLE,
				ResponseParameters: responseParams(c.sizes, c.interval),
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, size := range c.sizes {
				reply, err := stream.Recv()
				if err != nil {
					t.Fatalf("sizes %v: response %d: %v", c.sizes, i, err)
				}
				wantPayload(t, "StreamingOutputCall", reply.GetPayload(), size)
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("sizes %v: end %v, want io.EOF", c.sizes, err)
			}
			// The server waited before each response.
			if min := time.Duration(len(c.sizes)) * time.Duration(c.interval) * time.Microsecond; time.Since(start) < min {
				t.Errorf("sizes %v with interval %dµs took %v, want at least %v", c.sizes, c.interval, time.Since(start), min)
			}
		}
	}},

	{"StreamingInputCall", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		stream, err := tc.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sum int
		for _, s := range reqSizes {
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(s)}); err != nil {
				t.Fatalf("send %d bytes: %v", s, err)
			}
			sum += s
		}
		reply, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if got := reply.GetAggregatedPayloadSize(); got != int32(sum) {
			t.Fatalf("aggregated size %d, want %d", got, sum)
		}
	}},

	{"FullDuplexCall", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		// Ping-pong as grpc-go's DoPingPong, then one request asking for
		// three responses.
		stream, err := tc.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range reqSizes {
			req := &testpb.StreamingOutputCallRequest{
				ResponseType:       testpb.PayloadType_COMPRESSABLE,
				ResponseParameters: responseParams(respSizes[i:i+1], 0),
				Payload:            payload(reqSizes[i]),
			}
			if err := stream.Send(req); err != nil {
				t.Fatalf("ping %d: %v", i, err)
			}
			reply, err := stream.Recv()
			if err != nil {
				t.Fatalf("pong %d: %v", i, err)
			}
			wantPayload(t, "pong", reply.GetPayload(), respSizes[i])
		}
		sizes := []int{1, 0, 70000}
		if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: responseParams(sizes, 0)}); err != nil {
			t.Fatal(err)
		}
		for _, size := range sizes {
			reply, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			wantPayload(t, "response", reply.GetPayload(), size)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("end %v, want io.EOF", err)
		}
	}},

	// Empty messages on every pattern: zero-length requests and responses,
	// and streams with no messages at all.
	{"EmptyMessages", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		reply, err := tc.EmptyCall(ctx, &testpb.Empty{})
		if err != nil || !proto.Equal(reply, &testpb.Empty{}) {
			t.Fatalf("EmptyCall: %v, %v", reply, err)
		}
		resp, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{})
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		wantPayload(t, "UnaryCall", resp.GetPayload(), 0)

		// A server stream with no responses.
		ss, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Recv(); err != io.EOF {
			t.Fatalf("StreamingOutputCall: %v, want io.EOF", err)
		}

		// A client stream of empty requests, then one of none.
		for _, n := range []int{3, 0} {
			cs, err := tc.StreamingInputCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for range n {
				if err := cs.Send(&testpb.StreamingInputCallRequest{}); err != nil {
					t.Fatal(err)
				}
			}
			r, err := cs.CloseAndRecv()
			if err != nil || r.GetAggregatedPayloadSize() != 0 {
				t.Fatalf("StreamingInputCall of %d empty requests: %v, %v", n, r, err)
			}
		}

		// Bidi: empty requests that ask for nothing, then grpc-go's
		// DoEmptyStream (close without sending).
		bs, err := tc.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := bs.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
				t.Fatal(err)
			}
		}
		bs.CloseSend()
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("FullDuplexCall of empty requests: %v, want io.EOF", err)
		}
		bs, err = tc.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("empty FullDuplexCall: %v, want io.EOF", err)
		}
	}},

	// grpc-go's DoCustomMetadata, on all four patterns and on calls that
	// fail: grpc.Header/grpc.Trailer on unary, Header()/Trailer() on
	// streams.
	{"CustomMetadata", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs(
			initialMetadataKey, initialMetadataValue,
			trailingMetadataKey, trailingMetadataValue,
		))
		for _, fail := range []*testpb.EchoStatus{nil, {Code: int32(codes.Aborted), Message: "with metadata"}} {
			var header, trailer metadata.MD
			reply, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{
				ResponseType:   testpb.PayloadType_COMPRESSABLE,
				ResponseSize:   1,
				Payload:        payload(1),
				ResponseStatus: fail,
			}, grpc.Header(&header), grpc.Trailer(&trailer))
			if fail == nil {
				if err != nil {
					t.Fatalf("UnaryCall: %v", err)
				}
				wantPayload(t, "UnaryCall", reply.GetPayload(), 1)
			} else if grpcstatus.Code(err) != codes.Aborted {
				t.Fatalf("failing UnaryCall: %v, want ABORTED", err)
			}
			wantEchoedMetadata(t, "UnaryCall", header, trailer)

			ss, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
				ResponseParameters: responseParams([]int{1, 2}, 0),
				ResponseStatus:     fail,
			})
			if err != nil {
				t.Fatal(err)
			}
			header, err = ss.Header()
			if err != nil {
				t.Fatalf("StreamingOutputCall Header: %v", err)
			}
			for range 2 {
				if _, err := ss.Recv(); err != nil {
					t.Fatalf("StreamingOutputCall: %v", err)
				}
			}
			if _, err := ss.Recv(); (fail == nil && err != io.EOF) || (fail != nil && grpcstatus.Code(err) != codes.Aborted) {
				t.Fatalf("StreamingOutputCall end: %v", err)
			}
			wantEchoedMetadata(t, "StreamingOutputCall", header, ss.Trailer())

			bs, err := tc.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := bs.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: responseParams([]int{1}, 0), Payload: payload(1)}); err != nil {
				t.Fatal(err)
			}
			header, err = bs.Header()
			if err != nil {
				t.Fatalf("FullDuplexCall Header: %v", err)
			}
			if _, err := bs.Recv(); err != nil {
				t.Fatalf("FullDuplexCall: %v", err)
			}
			if fail != nil {
				bs.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: fail})
			}
			bs.CloseSend()
			if _, err := bs.Recv(); (fail == nil && err != io.EOF) || (fail != nil && grpcstatus.Code(err) != codes.Aborted) {
				t.Fatalf("FullDuplexCall end: %v", err)
			}
			wantEchoedMetadata(t, "FullDuplexCall", header, bs.Trailer())
		}

		// The client stream's header is set (grpc.SetHeader), not sent: it
		// leaves with the response.
		cs, err := tc.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.Send(&testpb.StreamingInputCallRequest{Payload: payload(3)}); err != nil {
			t.Fatal(err)
		}
		if r, err := cs.CloseAndRecv(); err != nil || r.GetAggregatedPayloadSize() != 3 {
			t.Fatalf("StreamingInputCall: %v, %v", r, err)
		}
		header, err := cs.Header()
		if err != nil {
			t.Fatalf("StreamingInputCall Header: %v", err)
		}
		wantEchoedMetadata(t, "StreamingInputCall", header, cs.Trailer())
	}},

	// grpc-go's DoStatusCodeAndMessage and DoSpecialStatusMessage: the
	// status response_status asks for, as grpc-go's status.FromError reads
	// it, on unary, server-streaming (after its responses) and bidi calls.
	{"StatusCodeAndMessage", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		for _, st := range statusesToEcho {
			want := grpcstatus.New(codes.Code(st.Code), st.Message)
			_, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: st})
			wantStatus(t, "UnaryCall", err, want)
			wantStatus(t, "StreamingOutputCall", echoOnServerStream(t, ctx, tc, st), want)
			wantStatus(t, "FullDuplexCall", echoOnBidi(t, ctx, tc, st), want)
		}
	}},

	// grpc-go's interop client compares the error's text with grpc-go's
	// (err.Error() != expectedErr.Error()); code written for grpc-go that
	// logs or matches error text sees the same.
	{"StatusErrorText", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		for _, st := range statusesToEcho {
			want := grpcstatus.Error(codes.Code(st.Code), st.Message).Error()
			_, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: st})
			if err == nil || err.Error() != want {
				t.Errorf("UnaryCall error text %q, want %q", err, want)
			}
			if err := echoOnBidi(t, ctx, tc, st); err == nil || err.Error() != want {
				t.Errorf("FullDuplexCall error text %q, want %q", err, want)
			}
		}
	}},

	// A status with details (errdetails) reaches both clients whole, as
	// grpc-go's status.FromError reads it.
	{"StatusDetails", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		const reason = "ECHOED_ON_REQUEST" // metadata: printable ASCII
		ctx = metadata.AppendToOutgoingContext(ctx, detailsKey, reason)
		st := &testpb.EchoStatus{Code: int32(codes.InvalidArgument), Message: "bad: ünïcode\tand\nnewline"}
		want, err := grpcstatus.New(codes.InvalidArgument, st.Message).WithDetails(statusDetails(reason)...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tc.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: st})
		wantStatus(t, "UnaryCall", err, want)
		wantStatus(t, "StreamingOutputCall", echoOnServerStream(t, ctx, tc, st), want)
		wantStatus(t, "FullDuplexCall", echoOnBidi(t, ctx, tc, st), want)

		// The details decode to the messages sent, in order.
		got := grpcstatus.Convert(err).Details()
		sent := statusDetails(reason)
		if len(got) != len(sent) {
			t.Fatalf("%d details, want %d", len(got), len(sent))
		}
		for i, d := range got {
			m, ok := d.(proto.Message)
			if !ok || !proto.Equal(m, protoadapt.MessageV2Of(sent[i])) {
				t.Errorf("detail %d: %v, want %v", i, d, sent[i])
			}
		}
	}},

	// A method the implementation leaves to UnimplementedTestServiceServer
	// (TestUnknownService calls a service nobody registered).
	{"UnimplementedMethod", func(t *testing.T, ctx context.Context, tc testpb.TestServiceClient) {
		_, err := tc.UnimplementedCall(ctx, &testpb.Empty{})
		wantStatus(t, "UnimplementedCall", err, grpcstatus.New(codes.Unimplemented, "method UnimplementedCall not implemented"))
	}},
}

// statusesToEcho are the interop tests' statuses: a plain one, and one
// whose message has whitespace and Unicode in and out of the BMP.
var statusesToEcho = []*testpb.EchoStatus{
	{Code: 2, Message: "test status message"},
	{Code: 2, Message: "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"},
}

// echoOnServerStream asks StreamingOutputCall for two responses and then
// st, and returns the error that ends the stream.
func echoOnServerStream(t *testing.T, ctx context.Context, tc testpb.TestServiceClient, st *testpb.EchoStatus) error {
	t.Helper()
	ss, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
		ResponseParameters: responseParams([]int{5, 6}, 0),
		ResponseStatus:     st,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := ss.Recv(); err != nil {
			t.Fatalf("StreamingOutputCall response %d: %v", i, err)
		}
	}
	_, err = ss.Recv()
	return err
}

// echoOnBidi sends FullDuplexCall a request asking for st, as grpc-go's
// DoStatusCodeAndMessage does, and returns the error that ends the stream.
func echoOnBidi(t *testing.T, ctx context.Context, tc testpb.TestServiceClient, st *testpb.EchoStatus) error {
	t.Helper()
	bs, err := tc.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: st}); err != nil {
		t.Fatal(err)
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	_, err = bs.Recv()
	return err
}

// TestTestService runs each of testServiceCases on every pairing.
func TestTestService(t *testing.T) {
	for _, c := range testServiceCases {
		t.Run(c.name, func(t *testing.T) {
			run(t, testServicePairings, limits{}, func(t *testing.T, p pairing[grpc.ClientConnInterface], cc grpc.ClientConnInterface) {
				c.fn(t, testContext(t, 10*time.Second), testpb.NewTestServiceClient(cc))
			})
		})
	}
}

// TestUnknownService calls a service no server registered: UNIMPLEMENTED
// on every pairing. The message is each server's own.
func TestUnknownService(t *testing.T) {
	run(t, testServicePairings, limits{}, func(t *testing.T, p pairing[grpc.ClientConnInterface], cc grpc.ClientConnInterface) {
		ctx := testContext(t, 10*time.Second)
		_, err := testpb.NewUnimplementedServiceClient(cc).UnimplementedCall(ctx, &testpb.Empty{})
		if grpcstatus.Code(err) != codes.Unimplemented {
			t.Errorf("UnimplementedService.UnimplementedCall: %v, want UNIMPLEMENTED", err)
		}
	})
}

// TestServerStreamAnsweredWhileSending makes a server-streaming call,
// through generated code, of a method the server does not have (the
// example service's, on a TestService server), with a request larger than
// the server's stream window: the server answers UNIMPLEMENTED while the
// client is still sending the request. grpc-go's SendMsg returns nil when
// the write fails on a call whose requests do not stream, because the
// generated constructor returns SendMsg's error as the call's: the status
// then comes from Recv. An io.EOF from the constructor would leave the
// caller with no status (and read as success by code that stops on
// io.EOF). A small request is the control.
func TestServerStreamAnsweredWhileSending(t *testing.T) {
	run(t, testServicePairings, limits{}, func(t *testing.T, p pairing[grpc.ClientConnInterface], cc grpc.ClientConnInterface) {
		ctx := testContext(t, 10*time.Second)
		for _, size := range []int32{10, 3 << 20} {
			ss, err := pb.NewExampleClient(cc).UnaryStream(ctx, &pb.ExampleRequest{Value: "v", Blob: blob(size, 0), ResponseCount: 1})
			if err != nil {
				t.Errorf("%d-byte request: the generated constructor returned %v, want nil and UNIMPLEMENTED from Recv", size, err)
				continue
			}
			if _, err := ss.Recv(); grpcstatus.Code(err) != codes.Unimplemented {
				t.Errorf("%d-byte request: Recv %v, want UNIMPLEMENTED", size, err)
			}
		}
	})
}
