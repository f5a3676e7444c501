package equivalence

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// limits are the message size limits a test runs with; zero is each
// stack's default.
type limits struct{ recv, send int }

// big raises both limits to 32 MiB on both stacks, so 20 MiB messages
// cross many windows instead of failing on the 4 MiB default.
var big = limits{recv: 32 << 20, send: 32 << 20}

const (
	pathUnary        = "/nameko.example/unary_unary"
	pathServerStream = "/nameko.example/unary_stream"
	pathClientStream = "/nameko.example/stream_unary"
	pathBidi         = "/nameko.example/stream_stream"
)

// ---- servers ----

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

func ourStatus(err error) error {
	var e *callErr
	if errors.As(err, &e) {
		return status.New(status.Code(e.code), e.msg)
	}
	return err
}

func startOurServer(t *testing.T, l limits) string {
	srv := newOurServer(l)
	server.RegisterUnary(srv, pathUnary, func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		resp, err := doUnary(ctx, r)
		return resp, ourStatus(err)
	})
	server.RegisterServerStream(srv, pathServerStream, func(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
		return ourStatus(doServerStream(r, s))
	})
	server.RegisterClientStream(srv, pathClientStream, func(s grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		resp, err := doClientStream(s)
		if err != nil {
			return ourStatus(err)
		}
		return s.SendAndClose(resp)
	})
	server.RegisterBidiStream(srv, pathBidi, func(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		return ourStatus(doBidi(s))
	})
	return serveOurs(t, srv)
}

// newOurServer returns an h2grpc server with limits l.
func newOurServer(l limits) *server.Server {
	var opts []server.Option
	if l.recv > 0 {
		opts = append(opts, server.MaxRecvMsgSize(l.recv), server.MaxSendMsgSize(l.send))
	}
	return server.New(opts...)
}

// serveOurs serves srv on a loopback port until the test ends, checking
// Serve returns ErrServerStopped after Stop, and returns the address.
func serveOurs(t *testing.T, srv *server.Server) string {
	lis := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != server.ErrServerStopped {
			t.Errorf("Serve returned %v, want ErrServerStopped", err)
		}
	})
	return lis.Addr().String()
}

// startOurServerStubs serves the grpc-go implementation below on an h2grpc
// server through the code protoc-gen-go-grpc generated: the drop-in path.
func startOurServerStubs(t *testing.T, l limits) string {
	srv := newOurServer(l)
	pb.RegisterExampleServer(srv, grpcServer{})
	return serveOurs(t, srv)
}

type grpcServer struct{ pb.UnimplementedExampleServer }

func grpcStatus(err error) error {
	var e *callErr
	if errors.As(err, &e) {
		return grpcstatus.Error(codes.Code(e.code), e.msg)
	}
	return err
}

func (grpcServer) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	resp, err := doUnary(ctx, r)
	return resp, grpcStatus(err)
}

func (grpcServer) UnaryStream(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
	return grpcStatus(doServerStream(r, s))
}

func (grpcServer) StreamUnary(s grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	resp, err := doClientStream(s)
	if err != nil {
		return grpcStatus(err)
	}
	return s.SendAndClose(resp)
}

func (grpcServer) StreamStream(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	return grpcStatus(doBidi(s))
}

func startGrpcServer(t *testing.T, l limits) string {
	var opts []grpc.ServerOption
	if l.recv > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(l.recv), grpc.MaxSendMsgSize(l.send))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterExampleServer(srv, grpcServer{})
	lis := listen(t)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// ---- clients ----

// exampleClient is what a test needs of a client, whatever the stack.
type exampleClient interface {
	UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error)
	UnaryStream(ctx context.Context, r *pb.ExampleRequest) (replyStream, error)
	StreamUnary(ctx context.Context) (requestStream, error)
	StreamStream(ctx context.Context) (bidiClient, error)
	// code is the gRPC code of an error this client returned.
	code(err error) int
}

type replyStream interface {
	Recv() (*pb.ExampleReply, error)
}

type requestStream interface {
	Send(*pb.ExampleRequest) error
	CloseAndRecv() (*pb.ExampleReply, error)
}

type bidiClient interface {
	Send(*pb.ExampleRequest) error
	Recv() (*pb.ExampleReply, error)
	CloseSend() error
}

type ourClient struct{ c *client.Conn }

func dialOurs(t *testing.T, addr string, l limits) exampleClient {
	var opts []client.Option
	if l.recv > 0 {
		opts = append(opts, client.WithDefaultCallOptions(client.MaxCallRecvMsgSize(l.recv), client.MaxCallSendMsgSize(l.send)))
	}
	c, err := client.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ourClient{c}
}

func (o ourClient) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return client.Unary[pb.ExampleReply](ctx, o.c, pathUnary, r)
}

func (o ourClient) UnaryStream(ctx context.Context, r *pb.ExampleRequest) (replyStream, error) {
	return client.ServerStream[pb.ExampleReply](ctx, o.c, pathServerStream, r)
}

func (o ourClient) StreamUnary(ctx context.Context) (requestStream, error) {
	return client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, o.c, pathClientStream)
}

func (o ourClient) StreamStream(ctx context.Context) (bidiClient, error) {
	return client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, o.c, pathBidi)
}

func (ourClient) code(err error) int { return int(status.CodeOf(err)) }

type grpcClient struct{ c pb.ExampleClient }

func dialGrpc(t *testing.T, addr string, l limits) exampleClient {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if l.recv > 0 {
		opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(l.recv), grpc.MaxCallSendMsgSize(l.send)))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return grpcClient{pb.NewExampleClient(cc)}
}

func (g grpcClient) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return g.c.UnaryUnary(ctx, r)
}

func (g grpcClient) UnaryStream(ctx context.Context, r *pb.ExampleRequest) (replyStream, error) {
	return g.c.UnaryStream(ctx, r)
}

func (g grpcClient) StreamUnary(ctx context.Context) (requestStream, error) {
	return g.c.StreamUnary(ctx)
}

func (g grpcClient) StreamStream(ctx context.Context) (bidiClient, error) {
	return g.c.StreamStream(ctx)
}

func (grpcClient) code(err error) int { return int(grpcstatus.Code(err)) }

// ---- the matrix ----

// pairing is one cell of the matrix.
type pairing struct {
	name       string
	ourServer  bool
	ourClient  bool
	startSrv   func(*testing.T, limits) string
	dialClient func(*testing.T, string, limits) exampleClient
}

var pairings = []pairing{
	{"grpc-go-client/grpc-go-server", false, false, startGrpcServer, dialGrpc},
	{"grpc-go-client/h2grpc-server", true, false, startOurServer, dialGrpc},
	{"h2grpc-client/grpc-go-server", false, true, startGrpcServer, dialOurs},
	{"h2grpc-client/h2grpc-server", true, true, startOurServer, dialOurs},
	// grpc-go's implementation registered on h2grpc through its generated
	// code, against both clients.
	{"grpc-go-client/h2grpc-server-stubs", true, false, startOurServerStubs, dialGrpc},
	{"h2grpc-client/h2grpc-server-stubs", true, true, startOurServerStubs, dialOurs},
}

// matrix runs fn on every pairing, each with a fresh server and client.
func matrix(t *testing.T, l limits, fn func(t *testing.T, p pairing, c exampleClient)) {
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			addr := p.startSrv(t, l)
			fn(t, p, p.dialClient(t, addr, l))
		})
	}
}
