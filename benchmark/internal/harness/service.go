package harness

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// The service both servers run: grpc-go's interop TestService through its
// generated registration, with handlers that do as little as a real one
// can (a response's body is a slice of payload, not a copy), and a
// hand-written "raw" service whose messages are bytes that no codec parses,
// so allocation counts show the transport's own share without protobuf's.

// payload backs every body, request and response; nobody writes to it.
var payload = bytes.Repeat([]byte{0xa5}, 1<<20)

// body is the first n bytes of payload, n clamped to its size.
func body(n int32) []byte {
	return payload[:min(max(int(n), 0), len(payload))]
}

// testService implements the TestService methods the workloads call. Its
// handlers may run concurrently.
type testService struct {
	testpb.UnimplementedTestServiceServer
	// streams counts the FullDuplexCall handlers running, so the idle-stream
	// workload knows when the server holds every stream.
	streams atomic.Int64
}

// UnaryCall answers with a body of the requested size.
func (*testService) UnaryCall(_ context.Context, r *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: body(r.ResponseSize)}}, nil
}

// FullDuplexCall answers each request with one response per
// ResponseParameters, until the client ends the stream.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	s.streams.Add(1)
	defer s.streams.Add(-1)
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range r.ResponseParameters {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body(p.Size)}}); err != nil {
				return err
			}
		}
	}
}

// StreamingOutputCall is a throughput source, not the interop semantics:
// it sends messages of the first ResponseParameters' size until the client
// cancels the call.
func (*testService) StreamingOutputCall(r *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if len(r.ResponseParameters) == 0 {
		return status.Error(codes.InvalidArgument, "h2bench: StreamingOutputCall needs one ResponseParameters")
	}
	size := r.ResponseParameters[0].Size
	ctx := stream.Context()
	for ctx.Err() == nil {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body(size)}}); err != nil {
			return err
		}
	}
	return nil
}

// The raw service. Each stack gets the codec interface it is built on:
// h2grpc finds codecs registered with encoding.RegisterCodec, grpc-go
// prefers encoding.RegisterCodecV2 (its v1 bridge would copy every
// message once more). Both codecs skip the bytes they receive and keep
// only their count: the handlers answer with that many bytes of payload.
const (
	rawService       = "h2bench.Raw"
	rawUnaryPath     = "/" + rawService + "/Echo"
	rawPingPongPath  = "/" + rawService + "/PingPong"
	rawSubtypeH2grpc = "h2bench-raw"
	rawSubtypeGrpcgo = "h2bench-raw2"
)

func init() {
	encoding.RegisterCodec(rawCodec{})
	encoding.RegisterCodecV2(rawCodecV2{})
}

// rawMessage is a raw service message: b is sent; n is the length of the
// message received.
type rawMessage struct {
	b []byte
	n int
}

// rawCodec is the raw codec for h2grpc (grpc-go's encoding.Codec).
type rawCodec struct{}

func (rawCodec) Name() string { return rawSubtypeH2grpc }

func (rawCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, status.Errorf(codes.Internal, "h2bench: raw codec cannot marshal %T", v)
	}
	return m.b, nil
}

func (rawCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return status.Errorf(codes.Internal, "h2bench: raw codec cannot unmarshal into %T", v)
	}
	m.n = len(b)
	return nil
}

// rawCodecV2 is the raw codec for grpc-go (encoding.CodecV2).
type rawCodecV2 struct{}

func (rawCodecV2) Name() string { return rawSubtypeGrpcgo }

func (rawCodecV2) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, status.Errorf(codes.Internal, "h2bench: raw codec cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
}

func (rawCodecV2) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return status.Errorf(codes.Internal, "h2bench: raw codec cannot unmarshal into %T", v)
	}
	m.n = data.Len()
	return nil
}

// rawSubtype is the content-subtype a client of stack sends raw calls with.
func rawSubtype(stack string) string {
	if stack == stackGrpcgo {
		return rawSubtypeGrpcgo
	}
	return rawSubtypeH2grpc
}

var rawServiceDesc = grpc.ServiceDesc{
	ServiceName: rawService,
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Echo", Handler: rawEcho}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "PingPong",
		Handler:       rawPingPong,
		ServerStreams: true,
		ClientStreams: true,
	}},
}

// rawStreamDesc is what a client passes to NewStream for PingPong.
var rawStreamDesc = grpc.StreamDesc{StreamName: "PingPong", ServerStreams: true, ClientStreams: true}

// rawEcho answers with as many bytes as it received.
func rawEcho(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	m := new(rawMessage)
	if err := dec(m); err != nil {
		return nil, err
	}
	m.b = payload[:min(m.n, len(payload))]
	return m, nil
}

// rawPingPong answers each message with as many bytes as it received.
func rawPingPong(_ any, ss grpc.ServerStream) error {
	var in, out rawMessage
	for {
		if err := ss.RecvMsg(&in); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		out.b = payload[:min(in.n, len(payload))]
		if err := ss.SendMsg(&out); err != nil {
			return err
		}
	}
}
