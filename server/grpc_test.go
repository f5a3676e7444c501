package server_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// grpcStyle is a handler written for grpc-go: it uses only grpc-go's
// context functions, metadata, peer and status packages.
type grpcStyle struct{ pb.UnimplementedExampleServer }

func (grpcStyle) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	switch r.Value {
	case "details":
		st, _ := grpcstatus.New(codes.InvalidArgument, "bad field").WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "value", Description: "no"}}})
		return nil, st.Err()
	case "canceled":
		return nil, context.Canceled
	case "plain":
		return nil, errors.New("plain failure")
	}
	md, ok := grpcmd.FromIncomingContext(ctx)
	p, okp := peer.FromContext(ctx)
	if !ok || !okp || p.Addr == nil {
		return nil, grpcstatus.Error(codes.Internal, "no incoming metadata or peer")
	}
	if err := grpc.SetHeader(ctx, grpcmd.Pairs("method", grpc.ServerTransportStreamFromContext(ctx).Method())); err != nil {
		return nil, err
	}
	if err := grpc.SendHeader(ctx, grpcmd.Pairs("authority", md.Get(":authority")[0], "ua", md.Get("user-agent")[0])); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, grpcmd.Pairs("echo", strings.Join(md.Get("x-echo"), ","))); err != nil {
		return nil, err
	}
	m, _ := grpc.Method(ctx)
	return &pb.ExampleReply{Message: m}, nil
}

func TestGRPCStyleHandlerRunsUnchanged(t *testing.T) {
	srv := server.New()
	pb.RegisterExampleServer(srv, grpcStyle{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	c := dial(t, lis.Addr().String())
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "x-echo", "a", "x-echo", "b"), 5*time.Second)
	defer cancel()
	const path = "/nameko.example/unary_unary"

	var header, trailer metadata.MD
	resp, err := client.Unary[pb.ExampleReply](ctx, c, path, &pb.ExampleRequest{}, client.Header(&header), client.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message != path {
		t.Errorf("grpc.Method = %q, want %q", resp.Message, path)
	}
	if got := header.Get("method"); len(got) != 1 || got[0] != path {
		t.Errorf("header method = %q", got)
	}
	if got := header.Get("authority"); len(got) != 1 || got[0] != lis.Addr().String() {
		t.Errorf("handler saw :authority %q, want %q", got, lis.Addr().String())
	}
	if got := header.Get("ua"); len(got) != 1 || !strings.HasPrefix(got[0], "h2grpc") {
		t.Errorf("handler saw user-agent %q", got)
	}
	if got := trailer.Get("echo"); len(got) != 1 || got[0] != "a,b" {
		t.Errorf("trailer echo = %q, want [a,b]", got)
	}

	_, err = client.Unary[pb.ExampleReply](ctx, c, path, &pb.ExampleRequest{Value: "details"})
	st := status.Convert(err)
	if st.Code() != status.InvalidArgument || st.Message() != "bad field" || len(st.Details()) != 1 {
		t.Fatalf("details error arrived as %v with %d details", err, len(st.Details()))
	}
	var br errdetails.BadRequest
	if err := st.Details()[0].UnmarshalTo(&br); err != nil || br.FieldViolations[0].Field != "value" {
		t.Fatalf("details: %v %v", &br, err)
	}
	for value, want := range map[string]status.Code{"canceled": status.Canceled, "plain": status.Unknown} {
		_, err := client.Unary[pb.ExampleReply](ctx, c, path, &pb.ExampleRequest{Value: value})
		if status.CodeOf(err) != want {
			t.Errorf("%s: %v, want %v", value, err, want)
		}
	}

	info := srv.GetServiceInfo()["nameko.example"]
	if len(info.Methods) != 4 {
		t.Errorf("GetServiceInfo: %+v, want the 4 methods", info)
	}
}

// A handler type that does not implement the service is refused, as
// grpc-go refuses it.
func TestRegisterServiceChecksTheImplementation(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("RegisterService accepted an implementation of the wrong type")
		}
	}()
	server.New().RegisterService(&pb.Example_ServiceDesc, struct{}{})
}

// grpc-go's reflection service registers on an h2grpc server and lists
// what is registered there, through h2grpc's client and generated stubs.
func TestReflectionRegisters(t *testing.T) {
	srv := server.New()
	pb.RegisterExampleServer(srv, grpcStyle{})
	reflection.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	c := dial(t, lis.Addr().String())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	stream, err := reflectionpb.NewServerReflectionClient(c).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	want := []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "nameko.example"}
	if !slices.Equal(names, want) {
		t.Errorf("services %q, want %q", names, want)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "nameko.example"},
	}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("file descriptor for the service: %v, %v", resp, err)
	}
	stream.CloseSend()
}

// keysServer answers with the sorted keys of the incoming metadata its
// handler sees.
type keysServer struct{ pb.UnimplementedExampleServer }

func (keysServer) UnaryUnary(ctx context.Context, _ *pb.ExampleRequest) (*pb.ExampleReply, error) {
	md, _ := grpcmd.FromIncomingContext(ctx)
	keys := slices.Sorted(maps.Keys(md))
	return &pb.ExampleReply{Message: strings.Join(keys, " ")}, nil
}

// A handler sees the same metadata keys on h2grpc as on grpc-go, for the
// same grpc-go client call.
func TestIncomingMetadataKeysMatchGRPCGo(t *testing.T) {
	ours := server.New()
	pb.RegisterExampleServer(ours, keysServer{})
	theirs := grpc.NewServer()
	pb.RegisterExampleServer(theirs, keysServer{})
	var seen []string
	for _, srv := range []interface{ Serve(net.Listener) error }{ours, theirs} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(lis)
		gc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		ctx = grpcmd.AppendToOutgoingContext(ctx, "x-a", "1", "x-b-bin", "\x00")
		resp, err := pb.NewExampleClient(gc).UnaryUnary(ctx, &pb.ExampleRequest{}, grpc.UseCompressor("gzip"))
		cancel()
		gc.Close()
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, resp.Message)
	}
	ours.Stop()
	theirs.Stop()
	if seen[0] != seen[1] {
		t.Errorf("h2grpc handler saw keys %q, grpc-go's %q", seen[0], seen[1])
	}
}
