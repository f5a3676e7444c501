package equivalence

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/h2grpc/h2grpc/server"
)

// grpc-go's interop TestService, served by one implementation written for
// grpc-go (testService) and called through grpc-go's generated client
// (testpb.NewTestServiceClient) on both stacks: 2 server kinds × 2 client
// kinds, every kind through generated code.

var (
	testServiceServers = []serverKind{
		{"grpc-go-server", false, func(t *testing.T, l limits) string {
			return serveGrpc(t, l, func(s grpc.ServiceRegistrar) { testpb.RegisterTestServiceServer(s, testService{}) })
		}},
		{"h2grpc-server-stubs", true, func(t *testing.T, l limits) string {
			return serveOurs(t, l, func(s *server.Server) { testpb.RegisterTestServiceServer(s, testService{}) })
		}},
	}
	testServiceClients = []clientKind[grpc.ClientConnInterface]{
		{"grpc-go-client", false, func(t *testing.T, addr string, l limits) grpc.ClientConnInterface {
			return dialGrpc(t, addr, l)
		}},
		{"h2grpc-client-stubs", true, func(t *testing.T, addr string, l limits) grpc.ClientConnInterface {
			return dialOurs(t, addr, l)
		}},
	}
	testServicePairings = cross(testServiceServers, testServiceClients)
)

// The metadata keys grpc-go's interop tests echo (interop/test_utils.go),
// and their values there.
const (
	initialMetadataKey    = "x-grpc-test-echo-initial"
	trailingMetadataKey   = "x-grpc-test-echo-trailing-bin"
	initialMetadataValue  = "test_initial_metadata_value"
	trailingMetadataValue = "\x0a\x0b\x0a\x0b\x0a\x0b"
)

// detailsKey asks testService to attach details to the status that
// response_status echoes; its value becomes the ErrorInfo's reason.
const detailsKey = "x-equivalence-echo-details"

// testService is TestService as grpc-go's interop server
// (interop.NewTestServer) implements it, with three additions:
//   - every pattern echoes the custom metadata (the interop server does it
//     on UnaryCall and FullDuplexCall only), each through a different
//     grpc-go API: grpc.SendHeader/grpc.SetTrailer on the context (unary),
//     grpc.SetHeader on the context (StreamingInputCall), the stream's
//     SetHeader (StreamingOutputCall) and SendHeader (FullDuplexCall);
//   - StreamingOutputCall ends with its response_status after the
//     responses (the interop server ignores it);
//   - a status echoed from response_status carries details when the call's
//     metadata has detailsKey (statusDetails).
//
// Payload bodies are zeros of the asked size, as the interop server's are.
type testService struct {
	testpb.UnimplementedTestServiceServer
}

// echoMetadata echoes the custom metadata of the call ctx belongs to:
// header through header, trailer through trailer.
func echoMetadata(ctx context.Context, header func(metadata.MD) error, trailer func(metadata.MD)) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(initialMetadataKey); len(v) > 0 {
		if err := header(metadata.Pairs(initialMetadataKey, v[0])); err != nil {
			return err
		}
	}
	if v := md.Get(trailingMetadataKey); len(v) > 0 {
		trailer(metadata.Pairs(trailingMetadataKey, v[0]))
	}
	return nil
}

// echoStatus returns the status st asks for (nil for none or OK), with
// statusDetails when the call's metadata has detailsKey.
func echoStatus(ctx context.Context, st *testpb.EchoStatus) error {
	if st.GetCode() == 0 {
		return nil
	}
	s := grpcstatus.New(codes.Code(st.GetCode()), st.GetMessage())
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(detailsKey); len(v) > 0 {
		var err error
		if s, err = s.WithDetails(statusDetails(v[0])...); err != nil {
			return err
		}
	}
	return s.Err()
}

// statusDetails are the details of an echoed status with reason.
func statusDetails(reason string) []protoadapt.MessageV1 {
	return []protoadapt.MessageV1{
		&errdetails.ErrorInfo{Reason: reason, Domain: "equivalence.h2grpc.test", Metadata: map[string]string{"k": "v ☺"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "response_status", Description: "asked for\tan error\n"},
		}},
		&errdetails.LocalizedMessage{Locale: "fr-FR", Message: "échec demandé 😈"},
	}
}

func newPayload(t testpb.PayloadType, size int32) (*testpb.Payload, error) {
	if size < 0 {
		return nil, grpcstatus.Errorf(codes.InvalidArgument, "requested a response with invalid length %d", size)
	}
	if t != testpb.PayloadType_COMPRESSABLE {
		return nil, grpcstatus.Errorf(codes.InvalidArgument, "unsupported payload type: %d", t)
	}
	return &testpb.Payload{Type: t, Body: make([]byte, size)}, nil
}

// pause waits interval_us microseconds, or until ctx ends.
func pause(ctx context.Context, us int32) error {
	if us <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(us) * time.Microsecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (testService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return new(testpb.Empty), nil
}

func (testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	err := echoMetadata(ctx,
		func(md metadata.MD) error { return grpc.SendHeader(ctx, md) },
		func(md metadata.MD) { grpc.SetTrailer(ctx, md) })
	if err != nil {
		return nil, err
	}
	if err := echoStatus(ctx, in.GetResponseStatus()); err != nil {
		return nil, err
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: pl}, nil
}

func (testService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	if err := echoMetadata(ctx, stream.SetHeader, stream.SetTrailer); err != nil {
		return err
	}
	if err := sendResponses(stream, in); err != nil {
		return err
	}
	return echoStatus(ctx, in.GetResponseStatus())
}

// sendResponses sends the responses in's parameters ask for.
func sendResponses(stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse], in *testpb.StreamingOutputCallRequest) error {
	for _, p := range in.GetResponseParameters() {
		if err := pause(stream.Context(), p.GetIntervalUs()); err != nil {
			return err
		}
		pl, err := newPayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

func (testService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	ctx := stream.Context()
	err := echoMetadata(ctx,
		func(md metadata.MD) error { return grpc.SetHeader(ctx, md) },
		func(md metadata.MD) { grpc.SetTrailer(ctx, md) })
	if err != nil {
		return err
	}
	var sum int
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

func (testService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	if err := echoMetadata(ctx, stream.SendHeader, stream.SetTrailer); err != nil {
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
		if err := echoStatus(ctx, in.GetResponseStatus()); err != nil {
			return err
		}
		if err := sendResponses(stream, in); err != nil {
			return err
		}
	}
}
