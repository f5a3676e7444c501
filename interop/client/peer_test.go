package main

import (
	"context"
	"io"

	"google.golang.org/grpc/interop"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/server"
)

// grpcGoTestService is the TestService grpc-go v1.85.0's interop server
// runs: the reference the cases are checked against in-process. It
// ignores expect_compressed and response_compressed, so the compression
// cases run against compressionService here and against h2grpc's interop
// server in `make interop`.
func grpcGoTestService() testpb.TestServiceServer { return interop.NewTestServer() }

// compressionService is the part of TestService the compression cases
// call, with the two server features grpc-go's interop server lacks, on
// h2grpc's server, whose handlers can see and set each message's
// compressed flag:
//   - CompressedRequest: a request with expect_compressed true that
//     arrived uncompressed fails the call with INVALID_ARGUMENT. Stricter
//     than the descriptions ask, one with expect_compressed false that
//     arrived compressed fails too, so that the tests see the client's
//     flag-0 requests on a gzip call;
//   - CompressedResponse: response_compressed (unary) and each response
//     parameter's compressed (streaming) choose the response's flag.
type compressionService struct {
	testpb.UnimplementedTestServiceServer
}

// checkRequestCompression enforces expect_compressed on the request the
// call ctx belongs to has just received.
func checkRequestCompression(ctx context.Context, expect *testpb.BoolValue) error {
	if expect == nil {
		return nil
	}
	if got := server.RecvCompressed(ctx); got != expect.GetValue() {
		return status.Errorf(codes.InvalidArgument, "expect_compressed is %v but the request arrived with compressed flag %v", expect.GetValue(), got)
	}
	return nil
}

// compressResponses makes the responses of the call ctx belongs to go
// with gzip; each message's flag is then chosen with
// server.SetMessageCompression.
func compressResponses(ctx context.Context) error {
	return server.SetSendCompressor(ctx, "gzip")
}

func (compressionService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := checkRequestCompression(ctx, in.GetExpectCompressed()); err != nil {
		return nil, err
	}
	if rc := in.GetResponseCompressed(); rc != nil {
		if err := compressResponses(ctx); err != nil {
			return nil, err
		}
		if err := server.SetMessageCompression(ctx, rc.GetValue()); err != nil {
			return nil, err
		}
	}
	pl, err := newServerPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: pl}, nil
}

func (compressionService) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	sum := 0
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if err := checkRequestCompression(stream.Context(), in.GetExpectCompressed()); err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

func (compressionService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	ctx := stream.Context()
	if err := compressResponses(ctx); err != nil {
		return err
	}
	for _, p := range in.GetResponseParameters() {
		if err := server.SetMessageCompression(ctx, p.GetCompressed().GetValue()); err != nil {
			return err
		}
		pl, err := newServerPayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

// newServerPayload is a response payload of size zero bytes, as grpc-go's
// interop server makes it.
func newServerPayload(t testpb.PayloadType, size int32) (*testpb.Payload, error) {
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "requested a response with invalid length %d", size)
	}
	if t != testpb.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported payload type: %d", t)
	}
	return &testpb.Payload{Type: t, Body: make([]byte, size)}, nil
}
