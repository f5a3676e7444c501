package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the test server answers gzip requests
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testService is a small ConformanceService on grpc-go's server: Unary
// answers with the response definition's data, headers and trailers, or
// its error; BidiStream answers each request with its data until the
// client closes, or, when block is set, outlives the call.
type testService struct {
	pb.UnimplementedConformanceServiceServer
	block bool
}

func (testService) Unary(ctx context.Context, req *pb.UnaryRequest) (*pb.UnaryResponse, error) {
	def := req.GetResponseDefinition()
	if err := grpc.SetHeader(ctx, testMD(def.GetResponseHeaders())); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, testMD(def.GetResponseTrailers())); err != nil {
		return nil, err
	}
	if e := def.GetError(); e != nil {
		return nil, status.Error(codes.Code(e.GetCode()), e.GetMessage())
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var reqHdrs []*pb.Header
	for k, v := range md {
		reqHdrs = append(reqHdrs, &pb.Header{Name: k, Value: v})
	}
	return &pb.UnaryResponse{Payload: &pb.ConformancePayload{
		Data:        def.GetResponseData(),
		RequestInfo: &pb.ConformancePayload_RequestInfo{RequestHeaders: reqHdrs},
	}}, nil
}

// testMD is hdrs as metadata, -bin values decoded.
func testMD(hdrs []*pb.Header) metadata.MD {
	md := metadata.MD{}
	for _, h := range hdrs {
		for _, v := range h.GetValue() {
			if strings.HasSuffix(h.GetName(), "-bin") {
				b, _ := decodeBinaryHeader(v)
				v = string(b)
			}
			md.Append(h.GetName(), v)
		}
	}
	return md
}

func (s testService) BidiStream(stream grpc.BidiStreamingServer[pb.BidiStreamRequest, pb.BidiStreamResponse]) error {
	if s.block {
		// As the reference server's sleeping handler: it ends after
		// its deadline, so grpc-go's server resets the stream first.
		<-stream.Context().Done()
		time.Sleep(50 * time.Millisecond)
		return stream.Context().Err()
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp := &pb.BidiStreamResponse{Payload: &pb.ConformancePayload{Data: req.GetRequestData()}}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// startServer serves svc with grpc-go's server on a loopback port, until
// the test ends.
func startServer(t *testing.T, svc pb.ConformanceServiceServer) (host string, port uint32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterConformanceServiceServer(srv, svc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	addr := lis.Addr().(*net.TCPAddr)
	return addr.IP.String(), uint32(addr.Port)
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRun drives the command as the runner does: cases on stdin, one
// response per case on stdout, whatever the order they finish in.
func TestRun(t *testing.T) {
	host, port := startServer(t, testService{})
	base := func(name string, comp pb.Compression, m proto.Message) *pb.ClientCompatRequest {
		return &pb.ClientCompatRequest{
			TestName:        name,
			HttpVersion:     pb.HTTPVersion_HTTP_VERSION_2,
			Protocol:        pb.Protocol_PROTOCOL_GRPC,
			Codec:           pb.Codec_CODEC_PROTO,
			Compression:     comp,
			Host:            host,
			Port:            port,
			Service:         proto.String(conformanceService),
			Method:          proto.String("Unary"),
			StreamType:      pb.StreamType_STREAM_TYPE_UNARY,
			RequestMessages: []*anypb.Any{mustAny(t, m)},
		}
	}
	ok := base("ok", pb.Compression_COMPRESSION_GZIP, &pb.UnaryRequest{
		ResponseDefinition: &pb.UnaryResponseDefinition{
			ResponseHeaders:  []*pb.Header{{Name: "x-custom-header", Value: []string{"foo"}}},
			ResponseTrailers: []*pb.Header{{Name: "x-custom-trailer-bin", Value: []string{"AQID"}}},
			Response:         &pb.UnaryResponseDefinition_ResponseData{ResponseData: []byte("data")},
		},
	})
	ok.RequestHeaders = []*pb.Header{
		{Name: "X-Request", Value: []string{"a", "b"}},
		{Name: "x-request-bin", Value: []string{"AAEC"}},
	}
	failed := base("failed", pb.Compression_COMPRESSION_IDENTITY, &pb.UnaryRequest{
		ResponseDefinition: &pb.UnaryResponseDefinition{
			Response: &pb.UnaryResponseDefinition_Error{Error: &pb.Error{Code: pb.Code_CODE_ALREADY_EXISTS, Message: proto.String("exists")}},
		},
	})
	bad := base("bad", pb.Compression_COMPRESSION_IDENTITY, &pb.UnaryRequest{})
	bad.Method = proto.String("IdempotentUnary")

	var in, out bytes.Buffer
	for _, req := range []*pb.ClientCompatRequest{ok, failed, bad} {
		if err := writeDelimited(&in, req); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(t.Context(), nil, &in, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	got := map[string]*pb.ClientCompatResponse{}
	for {
		resp := &pb.ClientCompatResponse{}
		if err := readDelimited(&out, resp); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got[resp.GetTestName()] = resp
	}
	if len(got) != 3 {
		t.Fatalf("got %d responses, want 3: %v", len(got), got)
	}

	r := got["ok"].GetResponse()
	if r.GetError() != nil || len(r.GetPayloads()) != 1 || string(r.GetPayloads()[0].GetData()) != "data" {
		t.Errorf("ok: got %v, want the payload %q and no error", r, "data")
	}
	if v := headerValues(r.GetResponseHeaders(), "x-custom-header"); !slices.Equal(v, []string{"foo"}) {
		t.Errorf("ok: response header x-custom-header = %q, want [foo]", v)
	}
	if v := headerValues(r.GetResponseTrailers(), "x-custom-trailer-bin"); !slices.Equal(v, []string{"AQID"}) {
		t.Errorf("ok: trailer x-custom-trailer-bin = %q, want [AQID] (unpadded base64)", v)
	}
	reqHdrs := r.GetPayloads()[0].GetRequestInfo().GetRequestHeaders()
	if v := headerValues(reqHdrs, "x-request"); !slices.Equal(v, []string{"a", "b"}) {
		t.Errorf("ok: the server saw x-request = %q, want [a b]", v)
	}
	if v := headerValues(reqHdrs, "x-request-bin"); !slices.Equal(v, []string{"\x00\x01\x02"}) {
		t.Errorf("ok: the server saw x-request-bin = %q, want the decoded bytes", v)
	}
	if v := headerValues(reqHdrs, "grpc-accept-encoding"); len(v) == 0 || !strings.Contains(v[0], "gzip") {
		t.Errorf("ok: the server saw grpc-accept-encoding = %q, want gzip in it", v)
	}

	e := got["failed"].GetResponse().GetError()
	if e.GetCode() != pb.Code_CODE_ALREADY_EXISTS || e.GetMessage() != "exists" {
		t.Errorf("failed: got error %v, want ALREADY_EXISTS \"exists\"", e)
	}
	if msg := got["bad"].GetError().GetMessage(); !strings.Contains(msg, "IdempotentUnary") {
		t.Errorf("bad: got %v, want a client error about IdempotentUnary", got["bad"])
	}
}

func headerValues(hdrs []*pb.Header, name string) []string {
	for _, h := range hdrs {
		if strings.EqualFold(h.GetName(), name) {
			return h.GetValue()
		}
	}
	return nil
}

func TestReadDelimited(t *testing.T) {
	var buf bytes.Buffer
	want := &pb.ClientCompatResponse{TestName: "x"}
	if err := writeDelimited(&buf, want); err != nil {
		t.Fatal(err)
	}
	whole := slices.Clone(buf.Bytes())
	got := &pb.ClientCompatResponse{}
	if err := readDelimited(&buf, got); err != nil || !proto.Equal(got, want) {
		t.Fatalf("readDelimited = %v, %v; want %v", got, err, want)
	}
	if err := readDelimited(&buf, got); !errors.Is(err, io.EOF) {
		t.Errorf("readDelimited at the end = %v, want io.EOF", err)
	}
	for _, n := range []int{2, len(whole) - 1} {
		err := readDelimited(bytes.NewReader(whole[:n]), got)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("readDelimited of %d of %d bytes = %v, want io.ErrUnexpectedEOF", n, len(whole), err)
		}
	}
}

func TestBinaryHeaders(t *testing.T) {
	hdrs := protoHeaders(metadata.MD{"x-bin": {"\x00\x01"}, "x-text": {"a"}})
	if v := headerValues(hdrs, "x-bin"); !slices.Equal(v, []string{"AAE"}) {
		t.Errorf("protoHeaders: x-bin = %q, want [AAE]", v)
	}
	if v := headerValues(hdrs, "x-text"); !slices.Equal(v, []string{"a"}) {
		t.Errorf("protoHeaders: x-text = %q, want [a]", v)
	}
	ctx := withRequestHeaders(t.Context(), []*pb.Header{
		{Name: "X-Bin", Value: []string{"AAE", "AAE=", "not base64!"}},
	})
	md, _ := metadata.FromOutgoingContext(ctx)
	if want := []string{"\x00\x01", "\x00\x01", "not base64!"}; !slices.Equal(md["x-bin"], want) {
		t.Errorf("withRequestHeaders: x-bin = %q, want %q", md["x-bin"], want)
	}
}

func TestCancelTiming(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel *pb.ClientCompatRequest_Cancel
		want   cancelTiming
	}{
		{"none", nil, cancelTiming{false, -1, -1}},
		{"empty", &pb.ClientCompatRequest_Cancel{}, cancelTiming{false, 0, -1}},
		{"before close send", &pb.ClientCompatRequest_Cancel{
			CancelTiming: &pb.ClientCompatRequest_Cancel_BeforeCloseSend{},
		}, cancelTiming{true, -1, -1}},
		{"after close send", &pb.ClientCompatRequest_Cancel{
			CancelTiming: &pb.ClientCompatRequest_Cancel_AfterCloseSendMs{AfterCloseSendMs: 5},
		}, cancelTiming{false, 5, -1}},
		{"after responses", &pb.ClientCompatRequest_Cancel{
			CancelTiming: &pb.ClientCompatRequest_Cancel_AfterNumResponses{AfterNumResponses: 2},
		}, cancelTiming{false, -1, 2}},
	} {
		got, err := cancelTimingOf(tc.cancel)
		if err != nil || got != tc.want {
			t.Errorf("%s: cancelTimingOf = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}
