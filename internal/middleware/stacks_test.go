package middleware_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// ---- the two servers and the two clients ----

// serverInts and clientInts are the interceptors a case installs, chained
// in order.
type serverInts struct {
	unary  []grpc.UnaryServerInterceptor
	stream []grpc.StreamServerInterceptor
}

type clientInts struct {
	unary  []grpc.UnaryClientInterceptor
	stream []grpc.StreamClientInterceptor
}

// servers serve impl through its generated registration until the test
// ends and return the address.
var servers = []struct {
	name  string
	serve func(t *testing.T, impl pb.ExampleServer, ints serverInts) string
}{
	{"h2grpc server", func(t *testing.T, impl pb.ExampleServer, ints serverInts) string {
		srv := server.New(server.ChainUnaryInterceptor(ints.unary...), server.ChainStreamInterceptor(ints.stream...))
		pb.RegisterExampleServer(srv, impl)
		lis := listen(t)
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	}},
	{"grpc-go server", func(t *testing.T, impl pb.ExampleServer, ints serverInts) string {
		srv := grpc.NewServer(grpc.ChainUnaryInterceptor(ints.unary...), grpc.ChainStreamInterceptor(ints.stream...))
		pb.RegisterExampleServer(srv, impl)
		lis := listen(t)
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	}},
}

// clients return a generated client of the service at addr, closed when
// the test ends.
var clients = []struct {
	name string
	dial func(t *testing.T, addr string, ints clientInts) pb.ExampleClient
}{
	{"h2grpc client", func(t *testing.T, addr string, ints clientInts) pb.ExampleClient {
		c, err := client.Dial(addr, client.WithChainUnaryInterceptor(ints.unary...), client.WithChainStreamInterceptor(ints.stream...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return pb.NewExampleClient(c)
	}},
	{"grpc-go client", func(t *testing.T, addr string, ints clientInts) pb.ExampleClient {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithChainUnaryInterceptor(ints.unary...), grpc.WithChainStreamInterceptor(ints.stream...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return pb.NewExampleClient(cc)
	}},
}

// pairing is one server and one client.
type pairing struct {
	serve func(t *testing.T, impl pb.ExampleServer, ints serverInts) string
	dial  func(t *testing.T, addr string, ints clientInts) pb.ExampleClient
}

// eachPairing runs f as a subtest for every server × client pairing.
func eachPairing(t *testing.T, f func(t *testing.T, p pairing)) {
	for _, s := range servers {
		for _, c := range clients {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				f(t, pairing{serve: s.serve, dial: c.dial})
			})
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ---- the service ----

// userKey is the context key under which an AuthFunc leaves the user.
type userKey struct{}

// service echoes what it receives, with "|user=<u>" appended when an
// AuthFunc put a user in its context. Request values make it misbehave:
//
//	"panic"             panics before answering
//	"panic-after-send"  (server streaming) sends one reply, then panics
//	"fail"              fails with INVALID_ARGUMENT "bad value"
//	"flaky"             fails with UNAVAILABLE the first two times per method
//
// It counts the calls that reach a handler and records the
// x-retry-attempt metadata of each flaky call.
type service struct {
	pb.UnimplementedExampleServer

	mu       sync.Mutex
	calls    int
	attempts map[string][]string // method -> x-retry-attempt of each flaky call
}

func (s *service) started() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
}

// handled returns the calls that reached a handler so far.
func (s *service) handled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// flakyAttempts returns the x-retry-attempt values of method's flaky calls.
func (s *service) flakyAttempts(method string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[method]
}

func (s *service) act(ctx context.Context, value string) error {
	switch value {
	case "panic":
		panic("boom")
	case "fail":
		return status.Error(codes.InvalidArgument, "bad value")
	case "flaky":
		method, _ := grpc.Method(ctx)
		md, _ := grpcmd.FromIncomingContext(ctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.attempts == nil {
			s.attempts = map[string][]string{}
		}
		s.attempts[method] = append(s.attempts[method], strings.Join(md.Get("x-retry-attempt"), ","))
		if len(s.attempts[method]) <= 2 {
			return status.Error(codes.Unavailable, "try again")
		}
	}
	return nil
}

func user(ctx context.Context) string {
	if u, ok := ctx.Value(userKey{}).(string); ok {
		return "|user=" + u
	}
	return ""
}

func (s *service) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	s.started()
	if err := s.act(ctx, r.Value); err != nil {
		return nil, err
	}
	return &pb.ExampleReply{Message: r.Value + user(ctx)}, nil
}

func (s *service) UnaryStream(r *pb.ExampleRequest, ss grpc.ServerStreamingServer[pb.ExampleReply]) error {
	s.started()
	if r.Value == "panic-after-send" {
		if err := ss.Send(&pb.ExampleReply{Message: "before the panic"}); err != nil {
			return err
		}
		panic("boom")
	}
	if err := s.act(ss.Context(), r.Value); err != nil {
		return err
	}
	for i := range r.ResponseCount {
		if err := ss.Send(&pb.ExampleReply{Message: r.Value + user(ss.Context()), Seqno: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) StreamUnary(ss grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.started()
	var values []string
	for {
		r, err := ss.Recv()
		if err == io.EOF {
			return ss.SendAndClose(&pb.ExampleReply{Message: strings.Join(values, ",") + user(ss.Context())})
		}
		if err != nil {
			return err
		}
		if err := s.act(ss.Context(), r.Value); err != nil {
			return err
		}
		values = append(values, r.Value)
	}
}

func (s *service) StreamStream(ss grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.started()
	for {
		r, err := ss.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.act(ss.Context(), r.Value); err != nil {
			return err
		}
		if err := ss.Send(&pb.ExampleReply{Message: r.Value + user(ss.Context())}); err != nil {
			return err
		}
	}
}

// ---- calls ----

// The four calls, made as generated code is used. Each returns the reply
// messages and the call's status (nil for OK).

func unaryCall(ctx context.Context, c pb.ExampleClient, value string, opts ...grpc.CallOption) (string, error) {
	r, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: value}, opts...)
	if err != nil {
		return "", err
	}
	return r.Message, nil
}

func serverStreamCall(ctx context.Context, c pb.ExampleClient, value string, n int32, opts ...grpc.CallOption) ([]string, error) {
	s, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: value, ResponseCount: n}, opts...)
	if err != nil {
		return nil, err
	}
	var got []string
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, r.Message)
	}
}

func clientStreamCall(ctx context.Context, c pb.ExampleClient, values ...string) (string, error) {
	s, err := c.StreamUnary(ctx)
	if err != nil {
		return "", err
	}
	for _, v := range values {
		if err := s.Send(&pb.ExampleRequest{Value: v}); err == io.EOF {
			break // the call has ended; CloseAndRecv tells how
		} else if err != nil {
			return "", err
		}
	}
	r, err := s.CloseAndRecv()
	if err != nil {
		return "", err
	}
	return r.Message, nil
}

// bidiCall sends all values, then closes and receives to the end.
func bidiCall(ctx context.Context, c pb.ExampleClient, values ...string) ([]string, error) {
	s, err := c.StreamStream(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range values {
		if err := s.Send(&pb.ExampleRequest{Value: v}); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, r.Message)
	}
}

// wantStatus fails the test unless err carries code and a message
// starting with msg.
func wantStatus(t *testing.T, call string, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || !strings.HasPrefix(st.Message(), msg) {
		t.Errorf("%s: %v, want %v %q", call, err, code, msg)
	}
}
