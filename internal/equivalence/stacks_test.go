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

// The matrix is a table: a service's server kinds × its client kinds. A
// kind is one stack (grpc-go or h2grpc) used through one surface (native
// typed functions or protoc-gen-go-grpc's generated code). Each pairing
// gets a fresh server and client, and the same test body.

// limits are the message size limits a test runs with; zero is each
// stack's default.
type limits struct{ recv, send int }

// big raises both limits to 32 MiB on both stacks, so 20 MiB messages
// cross many windows instead of failing on the 4 MiB default.
var big = limits{recv: 32 << 20, send: 32 << 20}

// serverKind starts a server with limits l on a loopback port for the
// rest of the test and returns its address.
type serverKind struct {
	name  string
	ours  bool // h2grpc's server
	start func(t *testing.T, l limits) string
}

// clientKind dials addr with limits l for the rest of the test. C is what
// the test body calls: exampleClient for the example service, a
// grpc.ClientConnInterface for generated clients of any service.
type clientKind[C any] struct {
	name string
	ours bool // h2grpc's client
	dial func(t *testing.T, addr string, l limits) C
}

// pairing is one cell of a matrix.
type pairing[C any] struct {
	server serverKind
	client clientKind[C]
}

func (p pairing[C]) name() string { return p.client.name + "/" + p.server.name }

// cross returns every pairing of servers × clients, servers first.
func cross[C any](servers []serverKind, clients []clientKind[C]) []pairing[C] {
	var ps []pairing[C]
	for _, s := range servers {
		for _, c := range clients {
			ps = append(ps, pairing[C]{s, c})
		}
	}
	return ps
}

// run runs fn on each pairing of ps, each with a fresh server and client.
func run[C any](t *testing.T, ps []pairing[C], l limits, fn func(t *testing.T, p pairing[C], c C)) {
	for _, p := range ps {
		t.Run(p.name(), func(t *testing.T) {
			addr := p.server.start(t, l)
			fn(t, p, p.client.dial(t, addr, l))
		})
	}
}

// ---- the example service's matrix ----

type examplePairing = pairing[exampleClient]

var (
	// grpc-go's server, the example implementation registered through
	// generated code.
	grpcExampleServer = serverKind{"grpc-go-server", false, func(t *testing.T, l limits) string {
		return serveGrpc(t, l, func(s grpc.ServiceRegistrar) { pb.RegisterExampleServer(s, grpcServer{}) })
	}}
	// h2grpc's server, native typed handlers (server.RegisterUnary, ...).
	ourExampleServer = serverKind{"h2grpc-server", true, startOurServer}
	// h2grpc's server, the same grpc-go implementation registered through
	// the same generated code: the drop-in path.
	ourExampleServerStubs = serverKind{"h2grpc-server-stubs", true, func(t *testing.T, l limits) string {
		return serveOurs(t, l, func(s *server.Server) { pb.RegisterExampleServer(s, grpcServer{}) })
	}}

	// grpc-go's client through generated stubs.
	grpcExampleClient = clientKind[exampleClient]{"grpc-go-client", false, func(t *testing.T, addr string, l limits) exampleClient {
		return stubClient{pb.NewExampleClient(dialGrpc(t, addr, l))}
	}}
	// h2grpc's client through its typed functions (client.Unary, ...).
	ourExampleClient = clientKind[exampleClient]{"h2grpc-client", true, func(t *testing.T, addr string, l limits) exampleClient {
		return typedClient{dialOurs(t, addr, l)}
	}}
	// h2grpc's client through the generated stubs: pb.NewExampleClient on
	// a *client.Conn.
	ourExampleClientStubs = clientKind[exampleClient]{"h2grpc-client-stubs", true, func(t *testing.T, addr string, l limits) exampleClient {
		return stubClient{pb.NewExampleClient(dialOurs(t, addr, l))}
	}}
)

// pairings is the example service's full matrix: 3 server kinds × 3
// client kinds.
var pairings = cross(
	[]serverKind{grpcExampleServer, ourExampleServer, ourExampleServerStubs},
	[]clientKind[exampleClient]{grpcExampleClient, ourExampleClient, ourExampleClientStubs},
)

// heavyPairings is what the heavy cases (20 MiB messages, the stress
// burst) run on, to keep the package well under two minutes under -race
// on two cores: on all nine they would cost twice what everything else
// costs together (about 4 s a pairing for 20 MiB, 6 to 9 s for the
// burst). The subset has each of h2grpc's four kinds once: each h2grpc
// stack meets grpc-go on the other side, and one pairing is h2grpc on
// both sides, with a different surface on each; grpc-go on both sides is
// the reference (the burst skips it). A pairing left out differs from one
// kept only in the API surface (typed functions or generated code on the
// same client.Call, typed registration or a ServiceDesc on the same
// server.Call), which every other case covers on all nine.
var heavyPairings = []examplePairing{
	{grpcExampleServer, grpcExampleClient},
	{ourExampleServerStubs, grpcExampleClient},
	{grpcExampleServer, ourExampleClient},
	{ourExampleServer, ourExampleClientStubs},
}

// matrix runs fn on every pairing of the example service.
func matrix(t *testing.T, l limits, fn func(t *testing.T, p examplePairing, c exampleClient)) {
	run(t, pairings, l, fn)
}

// ---- servers ----

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// serveGrpc serves what register registers on a grpc-go server with
// limits l until the test ends, and returns the address.
func serveGrpc(t *testing.T, l limits, register func(grpc.ServiceRegistrar)) string {
	var opts []grpc.ServerOption
	if l.recv > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(l.recv), grpc.MaxSendMsgSize(l.send))
	}
	srv := grpc.NewServer(opts...)
	register(srv)
	lis := listen(t)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// serveOurs serves what register registers on an h2grpc server with
// limits l until the test ends, checking Serve returns ErrServerStopped
// after Stop, and returns the address.
func serveOurs(t *testing.T, l limits, register func(*server.Server)) string {
	var opts []server.Option
	if l.recv > 0 {
		opts = append(opts, server.MaxRecvMsgSize(l.recv), server.MaxSendMsgSize(l.send))
	}
	srv := server.New(opts...)
	register(srv)
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

const (
	pathUnary        = "/nameko.example/unary_unary"
	pathServerStream = "/nameko.example/unary_stream"
	pathClientStream = "/nameko.example/stream_unary"
	pathBidi         = "/nameko.example/stream_stream"
)

func ourStatus(err error) error {
	var e *callErr
	if errors.As(err, &e) {
		return status.New(status.Code(e.code), e.msg)
	}
	return err
}

// startOurServer serves the example service on h2grpc's native typed
// handlers.
func startOurServer(t *testing.T, l limits) string {
	return serveOurs(t, l, func(srv *server.Server) {
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
	})
}

// grpcServer is the example service written for grpc-go, served by
// grpc-go and, through the same generated code, by h2grpc.
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

// ---- clients ----

// dialGrpc returns a grpc-go client connection to addr with limits l,
// closed when the test ends.
func dialGrpc(t *testing.T, addr string, l limits) *grpc.ClientConn {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if l.recv > 0 {
		opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(l.recv), grpc.MaxCallSendMsgSize(l.send)))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// dialOurs returns an h2grpc client connection to addr with limits l,
// closed when the test ends.
func dialOurs(t *testing.T, addr string, l limits) *client.Conn {
	var opts []client.Option
	if l.recv > 0 {
		opts = append(opts, client.WithDefaultCallOptions(client.MaxCallRecvMsgSize(l.recv), client.MaxCallSendMsgSize(l.send)))
	}
	c, err := client.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exampleClient is what a test needs of a client of the example service,
// whatever the kind.
type exampleClient interface {
	UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error)
	UnaryStream(ctx context.Context, r *pb.ExampleRequest) (replyStream, error)
	StreamUnary(ctx context.Context) (requestStream, error)
	StreamStream(ctx context.Context) (bidiClient, error)
	// code is the gRPC code of an error this client returned, read as a
	// user of its surface reads it.
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

// typedClient calls through h2grpc's typed functions, without generated
// code; its users read errors with h2grpc's status package.
type typedClient struct{ c *client.Conn }

func (o typedClient) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return client.Unary[pb.ExampleReply](ctx, o.c, pathUnary, r)
}

func (o typedClient) UnaryStream(ctx context.Context, r *pb.ExampleRequest) (replyStream, error) {
	return client.ServerStream[pb.ExampleReply](ctx, o.c, pathServerStream, r)
}

func (o typedClient) StreamUnary(ctx context.Context) (requestStream, error) {
	return client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, o.c, pathClientStream)
}

func (o typedClient) StreamStream(ctx context.Context) (bidiClient, error) {
	return client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, o.c, pathBidi)
}

func (typedClient) code(err error) int { return int(status.CodeOf(err)) }

// stubClient calls through generated stubs, on either stack's connection;
// its users read errors with grpc-go's status package.
type stubClient struct{ c pb.ExampleClient }

func (g stubClient) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return g.c.UnaryUnary(ctx, r)
}

func (g stubClient) UnaryStream(ctx context.Context, r *pb.ExampleRequest) (replyStream, error) {
	return g.c.UnaryStream(ctx, r)
}

func (g stubClient) StreamUnary(ctx context.Context) (requestStream, error) {
	return g.c.StreamUnary(ctx)
}

func (g stubClient) StreamStream(ctx context.Context) (bidiClient, error) {
	return g.c.StreamStream(ctx)
}

func (stubClient) code(err error) int { return int(grpcstatus.Code(err)) }
