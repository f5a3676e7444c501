package benchmark

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/h2grpc/h2grpc/benchmark/internal/harness"
	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// Every benchmark stops its servers and closes its connections; goleak
// checks that nothing is left running. It retries for a while before it
// reports, so grpc-go's slowly exiting goroutines need no exception.
//
// TestHarnessQuick re-executes this binary as the harness's server, client
// and one-process parts: those run h2bench's Main instead of the tests.
func TestMain(m *testing.M) {
	if harness.IsChild() {
		os.Exit(harness.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// The two stacks, as they appear in benchmark names.
const (
	h2grpcStack = "h2grpc"
	grpcgoStack = "grpcgo"
)

// pairing is one client stack calling one server stack.
type pairing struct {
	name   string
	client string
	server string
}

var (
	// samePairings are the head-to-head comparisons: each stack talking to
	// itself.
	samePairings = []pairing{
		{name: h2grpcStack, client: h2grpcStack, server: h2grpcStack},
		{name: grpcgoStack, client: grpcgoStack, server: grpcgoStack},
	}
	// mixedPairings show each side's cost: against samePairings, the one
	// swapped side accounts for the difference.
	mixedPairings = []pairing{
		{name: "h2grpc-client-grpcgo-server", client: h2grpcStack, server: grpcgoStack},
		{name: "grpcgo-client-h2grpc-server", client: grpcgoStack, server: h2grpcStack},
	}
)

// size is the blob carried each way: the request's blob and the reply's.
type size struct {
	name string
	n    int
}

var (
	size1B   = size{"1B", 1}
	size1KiB = size{"1KiB", 1 << 10}
)

// inFlight is how many unary calls BenchmarkUnaryParallel keeps in flight
// on its one connection.
const inFlight = 64

// BenchmarkUnary makes unary calls one after the other: the latency of a
// call and what it allocates, client and server together.
func BenchmarkUnary(b *testing.B) {
	for _, p := range samePairings {
		b.Run(p.name, func(b *testing.B) {
			for _, sz := range []size{size1B, size1KiB} {
				b.Run(sz.name, func(b *testing.B) { benchUnary(b, p, sz) })
			}
		})
	}
	for _, p := range mixedPairings {
		b.Run(p.name, func(b *testing.B) {
			b.Run(size1B.name, func(b *testing.B) { benchUnary(b, p, size1B) })
		})
	}
}

// BenchmarkUnaryParallel keeps inFlight unary calls in flight on one
// connection: throughput under multiplexing.
func BenchmarkUnaryParallel(b *testing.B) {
	for _, p := range samePairings {
		b.Run(p.name, func(b *testing.B) {
			b.Run(size1B.name, func(b *testing.B) { benchUnaryParallel(b, p, size1B) })
		})
	}
}

// BenchmarkPingPong sends a request and waits for the reply on one
// long-lived bidirectional stream: the cost of a streamed message round
// trip, without a stream's setup and teardown.
func BenchmarkPingPong(b *testing.B) {
	for _, p := range samePairings {
		b.Run(p.name, func(b *testing.B) {
			for _, sz := range []size{size1B, size1KiB} {
				b.Run(sz.name, func(b *testing.B) { benchPingPong(b, p, sz) })
			}
		})
	}
}

// BenchmarkServerStream receives a stream of 16 KiB or 1 MiB replies the server
// sends as fast as flow control lets it: throughput of DATA one way.
func BenchmarkServerStream(b *testing.B) {
	for _, p := range samePairings {
		for _, sz := range []size{{"16KiB", 16 << 10}, {"1MiB", 1 << 20}} {
			b.Run(p.name+"/"+sz.name, func(b *testing.B) { benchServerStream(b, p, sz) })
		}
	}
}

func benchServerStream(b *testing.B, p pairing, sz size) {
	c := setup(b, p)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	s, err := c.serverStream(ctx, newRequest(sz))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sz.n))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Blob) != sz.n {
			b.Fatalf("reply blob has %d bytes, want %d", len(resp.Blob), sz.n)
		}
	}
	reportOps(b)
	cancel()
	for {
		if _, err := s.Recv(); err != nil {
			break
		}
	}
}

func benchUnary(b *testing.B, p pairing, sz size) {
	c := setup(b, p)
	ctx := b.Context()
	req := newRequest(sz)
	warmUp(b, c, req, sz)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.unary(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Blob) != sz.n {
			b.Fatalf("reply blob has %d bytes, want %d", len(resp.Blob), sz.n)
		}
	}
	reportOps(b)
}

// benchUnaryParallel shares b.N calls among inFlight goroutines. It uses
// goroutines of its own rather than b.RunParallel so the number in flight
// does not depend on GOMAXPROCS.
func benchUnaryParallel(b *testing.B, p pairing, sz size) {
	c := setup(b, p)
	ctx := b.Context()
	req := newRequest(sz)
	warmUp(b, c, req, sz)
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range inFlight {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				resp, err := c.unary(ctx, req)
				if err != nil {
					b.Error(err)
					return
				}
				if len(resp.Blob) != sz.n {
					b.Errorf("reply blob has %d bytes, want %d", len(resp.Blob), sz.n)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportOps(b)
}

// BenchmarkPingPongParallel runs inFlight ping-pong streams on one
// connection, sharing b.N round trips: many small DATA frames each way,
// the connection's writers and its reader contended.
func BenchmarkPingPongParallel(b *testing.B) {
	for _, p := range samePairings {
		b.Run(p.name, func(b *testing.B) { benchPingPongParallel(b, p, size1B) })
	}
}

func benchPingPongParallel(b *testing.B, p pairing, sz size) {
	c := setup(b, p)
	req := newRequest(sz)
	streams := make([]bidiStream, inFlight)
	for i := range streams {
		s, err := c.bidi(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Send(req); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
		streams[i] = s
	}
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, s := range streams {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := s.Send(req); err != nil {
					b.Error(err)
					return
				}
				if _, err := s.Recv(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportOps(b)
	for _, s := range streams {
		if err := s.CloseSend(); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != io.EOF {
			b.Fatalf("end of the stream: got %v, want io.EOF", err)
		}
	}
}

func benchPingPong(b *testing.B, p pairing, sz size) {
	c := setup(b, p)
	s, err := c.bidi(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	req := newRequest(sz)
	roundTrip := func() {
		if err := s.Send(req); err != nil {
			b.Fatal(err)
		}
		resp, err := s.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Blob) != sz.n {
			b.Fatalf("reply blob has %d bytes, want %d", len(resp.Blob), sz.n)
		}
	}
	roundTrip() // the stream's headers go with the first message
	b.ReportAllocs()
	for b.Loop() {
		roundTrip()
	}
	reportOps(b)
	if err := s.CloseSend(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		b.Fatalf("end of the stream: got %v, want io.EOF", err)
	}
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func newRequest(sz size) *pb.ExampleRequest {
	return &pb.ExampleRequest{Blob: payload[:sz.n], ResponseSize: int32(sz.n)}
}

// warmUp makes one call, so the connection is up and its first-call costs
// (grpc-go connects lazily, HPACK tables fill) are not measured.
func warmUp(b *testing.B, c *conn, req *pb.ExampleRequest, sz size) {
	resp, err := c.unary(b.Context(), req)
	if err != nil {
		b.Fatal(err)
	}
	if len(resp.Blob) != sz.n {
		b.Fatalf("reply blob has %d bytes, want %d", len(resp.Blob), sz.n)
	}
}

// The service. Both servers run the same handlers, which do as little as
// possible: a reply's blob is a slice of payload, not a copy.

// payload backs every blob, request and reply; nobody writes to it.
var payload = bytes.Repeat([]byte{0xa5}, 1<<20)

func reply(r *pb.ExampleRequest) *pb.ExampleReply {
	n := min(max(int(r.ResponseSize), 0), len(payload))
	return &pb.ExampleReply{Message: r.Value, Seqno: r.Multiplier, Blob: payload[:n]}
}

// bidiStream is a client's end of a stream_stream call; both stacks' stream
// types have these methods.
type bidiStream interface {
	Send(*pb.ExampleRequest) error
	Recv() (*pb.ExampleReply, error)
	CloseSend() error
}

// replyStream is a client's end of a unary_stream call.
type replyStream interface {
	Recv() (*pb.ExampleReply, error)
}

// streamReplies sends replies to r until the client cancels the call.
func streamReplies(ctx context.Context, r *pb.ExampleRequest, send func(*pb.ExampleReply) error) error {
	rep := reply(r)
	for ctx.Err() == nil {
		if err := send(rep); err != nil {
			return err
		}
	}
	return nil
}

type replySender interface {
	Send(*pb.ExampleReply) error
	Recv() (*pb.ExampleRequest, error)
}

// echoStream answers each request with a reply until the client ends.
func echoStream(s replySender) error {
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(reply(r)); err != nil {
			return err
		}
	}
}

// setup starts p's server and connects p's client to it; both are stopped
// when b's run ends.
func setup(b *testing.B, p pairing) *conn {
	b.Helper()
	var addr string
	switch p.server {
	case h2grpcStack:
		addr = startH2grpcServer(b)
	case grpcgoStack:
		addr = startGrpcgoServer(b)
	default:
		b.Fatalf("unknown server stack %q", p.server)
	}
	switch p.client {
	case h2grpcStack:
		return dialH2grpc(b, addr)
	case grpcgoStack:
		return dialGrpcgo(b, addr)
	}
	b.Fatalf("unknown client stack %q", p.client)
	return nil
}

// conn is a client connection of either stack.
type conn struct {
	unary func(context.Context, *pb.ExampleRequest) (*pb.ExampleReply, error)
	bidi  func(context.Context) (bidiStream, error)
	// serverStream starts a unary_stream call.
	serverStream func(context.Context, *pb.ExampleRequest) (replyStream, error)
}

func startH2grpcServer(b *testing.B) string {
	srv := server.New()
	server.RegisterUnary(srv, pb.Example_UnaryUnary_FullMethodName,
		func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
			return reply(r), nil
		})
	server.RegisterBidiStream(srv, pb.Example_StreamStream_FullMethodName,
		func(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
			return echoStream(s)
		})
	server.RegisterServerStream(srv, pb.Example_UnaryStream_FullMethodName,
		func(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
			return streamReplies(s.Context(), r, s.Send)
		})
	return serve(b, srv.Serve, srv.Stop)
}

// grpcgoService is the example service on grpc-go.
type grpcgoService struct {
	pb.UnimplementedExampleServer
}

func (grpcgoService) UnaryUnary(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return reply(r), nil
}

func (grpcgoService) UnaryStream(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
	return streamReplies(s.Context(), r, s.Send)
}

func (grpcgoService) StreamStream(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	return echoStream(s)
}

func startGrpcgoServer(b *testing.B) string {
	srv := grpc.NewServer()
	pb.RegisterExampleServer(srv, grpcgoService{})
	return serve(b, srv.Serve, srv.Stop)
}

// serve runs a server on a loopback listener until b's run ends; stop must
// make run return.
func serve(b *testing.B, run func(net.Listener) error, stop func()) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(lis) // its error is the one stop causes
	}()
	b.Cleanup(func() {
		stop()
		<-done
	})
	return lis.Addr().String()
}

func dialH2grpc(b *testing.B, addr string) *conn {
	cc, err := client.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return &conn{
		unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
			return client.Unary[pb.ExampleReply](ctx, cc, pb.Example_UnaryUnary_FullMethodName, r)
		},
		bidi: func(ctx context.Context) (bidiStream, error) {
			return client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, cc, pb.Example_StreamStream_FullMethodName)
		},
		serverStream: func(ctx context.Context, r *pb.ExampleRequest) (replyStream, error) {
			return client.ServerStream[pb.ExampleReply](ctx, cc, pb.Example_UnaryStream_FullMethodName, r)
		},
	}
}

func dialGrpcgo(b *testing.B, addr string) *conn {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	ec := pb.NewExampleClient(cc)
	return &conn{
		unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
			return ec.UnaryUnary(ctx, r)
		},
		bidi: func(ctx context.Context) (bidiStream, error) {
			return ec.StreamStream(ctx)
		},
		serverStream: func(ctx context.Context, r *pb.ExampleRequest) (replyStream, error) {
			return ec.UnaryStream(ctx, r)
		},
	}
}
