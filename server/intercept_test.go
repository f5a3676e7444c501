package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The interceptor tests run each case on h2grpc's server and on grpc-go's,
// with the same service, the same interceptors and the same assertions,
// called by grpc-go's client so that only the server differs.

const (
	icptUnary        = "/nameko.example/unary_unary"
	icptServerStream = "/nameko.example/unary_stream"
	icptClientStream = "/nameko.example/stream_unary"
	icptBidi         = "/nameko.example/stream_stream"
)

// icptOpt is one server option in both servers' spelling.
type icptOpt struct {
	ours   server.Option
	theirs grpc.ServerOption
}

func icptUnaryInt(i grpc.UnaryServerInterceptor) icptOpt {
	return icptOpt{server.UnaryInterceptor(i), grpc.UnaryInterceptor(i)}
}

func icptStreamInt(i grpc.StreamServerInterceptor) icptOpt {
	return icptOpt{server.StreamInterceptor(i), grpc.StreamInterceptor(i)}
}

func icptChainUnary(is ...grpc.UnaryServerInterceptor) icptOpt {
	return icptOpt{server.ChainUnaryInterceptor(is...), grpc.ChainUnaryInterceptor(is...)}
}

func icptChainStream(is ...grpc.StreamServerInterceptor) icptOpt {
	return icptOpt{server.ChainStreamInterceptor(is...), grpc.ChainStreamInterceptor(is...)}
}

// icptStacks are the two servers each case runs on. start serves impl
// through generated code (pb.RegisterExampleServer) until the test ends
// and returns the address.
var icptStacks = []struct {
	name  string
	start func(t *testing.T, impl pb.ExampleServer, opts ...icptOpt) string
}{
	{"h2grpc", func(t *testing.T, impl pb.ExampleServer, opts ...icptOpt) string {
		var o []server.Option
		for _, opt := range opts {
			o = append(o, opt.ours)
		}
		srv := server.New(o...)
		pb.RegisterExampleServer(srv, impl)
		lis := icptListen(t)
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	}},
	{"grpc-go", func(t *testing.T, impl pb.ExampleServer, opts ...icptOpt) string {
		var o []grpc.ServerOption
		for _, opt := range opts {
			o = append(o, opt.theirs)
		}
		srv := grpc.NewServer(o...)
		pb.RegisterExampleServer(srv, impl)
		lis := icptListen(t)
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	}},
}

func icptListen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// icptClient is grpc-go's client of the example service at addr.
func icptClient(t *testing.T, addr string) pb.ExampleClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewExampleClient(cc)
}

func icptContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder collects events from interceptors and handlers, which run on
// the server's goroutines.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// take returns the events so far and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

// icptTagKey is the context key of the value interceptors hand handlers.
type icptTagKey struct{}

// icptTag is what a handler appends to its replies: the value an
// interceptor put in its context, if any.
func icptTag(ctx context.Context) string {
	if v, ok := ctx.Value(icptTagKey{}).(string); ok {
		return "|" + v
	}
	return ""
}

// icptService echoes, records "handler" on rec when each call starts and
// appends icptTag of its context to every reply.
type icptService struct {
	pb.UnimplementedExampleServer
	rec *recorder
}

func (s *icptService) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	s.rec.add("handler")
	return &pb.ExampleReply{Message: r.Value + icptTag(ctx)}, nil
}

func (s *icptService) UnaryStream(r *pb.ExampleRequest, ss grpc.ServerStreamingServer[pb.ExampleReply]) error {
	s.rec.add("handler")
	for i := range r.ResponseCount {
		if err := ss.Send(&pb.ExampleReply{Message: r.Value + icptTag(ss.Context()), Seqno: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *icptService) StreamUnary(ss grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.rec.add("handler")
	var values []string
	for {
		r, err := ss.Recv()
		if err == io.EOF {
			return ss.SendAndClose(&pb.ExampleReply{Message: strings.Join(values, ",") + icptTag(ss.Context())})
		}
		if err != nil {
			return err
		}
		values = append(values, r.Value)
	}
}

func (s *icptService) StreamStream(ss grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.rec.add("handler")
	for {
		r, err := ss.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.Send(&pb.ExampleReply{Message: r.Value + icptTag(ss.Context())}); err != nil {
			return err
		}
	}
}

// The three streaming calls, made as generated code is used. Each returns
// the reply messages and the call's status (nil for OK).

func icptServerStreamCall(ctx context.Context, c pb.ExampleClient, value string, n int32) ([]string, error) {
	s, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: value, ResponseCount: n})
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

func icptClientStreamCall(ctx context.Context, c pb.ExampleClient, values ...string) (string, error) {
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

func icptBidiCall(ctx context.Context, c pb.ExampleClient, values ...string) ([]string, error) {
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

// recordingUnary records name> on the way in and <name on the way out.
func recordingUnary(rec *recorder, name string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		rec.add(name + ">")
		defer rec.add("<" + name)
		return h(ctx, req)
	}
}

func recordingStream(rec *recorder, name string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		rec.add(name + ">")
		defer rec.add("<" + name)
		return h(srv, ss)
	}
}

// The interceptor set with UnaryInterceptor (StreamInterceptor) runs
// first, then the chained ones in the order added, over several
// ChainUnaryInterceptor options and whatever the order of the options.
func TestServerInterceptorOrder(t *testing.T) {
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			addr := stack.start(t, &icptService{rec: rec},
				icptChainUnary(recordingUnary(rec, "c1")),
				icptUnaryInt(recordingUnary(rec, "u0")),
				icptChainUnary(recordingUnary(rec, "c2"), recordingUnary(rec, "c3")),
				icptChainStream(recordingStream(rec, "c1")),
				icptStreamInt(recordingStream(rec, "s0")),
				icptChainStream(recordingStream(rec, "c2"), recordingStream(rec, "c3")),
			)
			c := icptClient(t, addr)
			ctx := icptContext(t)

			if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "v"}); err != nil {
				t.Fatal(err)
			}
			wantUnary := []string{"u0>", "c1>", "c2>", "c3>", "handler", "<c3", "<c2", "<c1", "<u0"}
			if got := rec.take(); !slices.Equal(got, wantUnary) {
				t.Errorf("unary: ran %q, want %q", got, wantUnary)
			}

			wantStream := []string{"s0>", "c1>", "c2>", "c3>", "handler", "<c3", "<c2", "<c1", "<s0"}
			if _, err := icptServerStreamCall(ctx, c, "v", 1); err != nil {
				t.Fatal(err)
			}
			if got := rec.take(); !slices.Equal(got, wantStream) {
				t.Errorf("server stream: ran %q, want %q", got, wantStream)
			}
			if _, err := icptClientStreamCall(ctx, c, "v"); err != nil {
				t.Fatal(err)
			}
			if got := rec.take(); !slices.Equal(got, wantStream) {
				t.Errorf("client stream: ran %q, want %q", got, wantStream)
			}
			if _, err := icptBidiCall(ctx, c, "v"); err != nil {
				t.Fatal(err)
			}
			if got := rec.take(); !slices.Equal(got, wantStream) {
				t.Errorf("bidi: ran %q, want %q", got, wantStream)
			}
		})
	}
}

// The info the interceptors get (and their srv argument and the method
// their context names) is the same on both servers and is what the
// generated ServiceDesc says.
func TestServerInterceptorInfo(t *testing.T) {
	want := map[string]string{
		icptUnary:        "unary /nameko.example/unary_unary server=impl req=*example.ExampleRequest grpc.Method=/nameko.example/unary_unary",
		icptServerStream: "stream /nameko.example/unary_stream client=false server=true srv=impl grpc.Method=/nameko.example/unary_stream",
		icptClientStream: "stream /nameko.example/stream_unary client=true server=false srv=impl grpc.Method=/nameko.example/stream_unary",
		icptBidi:         "stream /nameko.example/stream_stream client=true server=true srv=impl grpc.Method=/nameko.example/stream_stream",
	}
	seen := map[string]map[string]string{}
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			impl := &icptService{rec: &recorder{}}
			isImpl := func(v any) string {
				if v == any(impl) {
					return "impl"
				}
				return fmt.Sprintf("%T(%v)", v, v)
			}
			var mu sync.Mutex
			got := map[string]string{}
			unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				m, _ := grpc.Method(ctx)
				mu.Lock()
				got[info.FullMethod] = fmt.Sprintf("unary %s server=%s req=%T grpc.Method=%s", info.FullMethod, isImpl(info.Server), req, m)
				mu.Unlock()
				return h(ctx, req)
			}
			stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				m, _ := grpc.Method(ss.Context())
				mu.Lock()
				got[info.FullMethod] = fmt.Sprintf("stream %s client=%t server=%t srv=%s grpc.Method=%s",
					info.FullMethod, info.IsClientStream, info.IsServerStream, isImpl(srv), m)
				mu.Unlock()
				return h(srv, ss)
			}
			addr := stack.start(t, impl, icptUnaryInt(unary), icptStreamInt(stream))
			c := icptClient(t, addr)
			ctx := icptContext(t)
			if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{}); err != nil {
				t.Fatal(err)
			}
			if _, err := icptServerStreamCall(ctx, c, "", 1); err != nil {
				t.Fatal(err)
			}
			if _, err := icptClientStreamCall(ctx, c, "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := icptBidiCall(ctx, c, "a"); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for path, w := range want {
				if got[path] != w {
					t.Errorf("%s: interceptor saw\n\t%s\nwant\n\t%s", path, got[path], w)
				}
			}
			seen[stack.name] = got
		})
	}
	for path := range want {
		if seen["h2grpc"][path] != seen["grpc-go"][path] {
			t.Errorf("%s: h2grpc's interceptor saw %q, grpc-go's %q", path, seen["h2grpc"][path], seen["grpc-go"][path])
		}
	}
}

// The typed registration functions give interceptors the method and the
// streaming flags; there is no service implementation, so Server and srv
// are nil.
func TestServerInterceptorInfoTypedRegistration(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := server.New(
		server.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			mu.Lock()
			got = append(got, fmt.Sprintf("unary %s server=%v", info.FullMethod, info.Server))
			mu.Unlock()
			return h(ctx, req)
		}),
		server.StreamInterceptor(func(s any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			mu.Lock()
			got = append(got, fmt.Sprintf("stream %s client=%t server=%t srv=%v", info.FullMethod, info.IsClientStream, info.IsServerStream, s))
			mu.Unlock()
			return h(s, ss)
		}),
	)
	impl := &icptService{rec: &recorder{}}
	server.RegisterUnary(srv, icptUnary, impl.UnaryUnary)
	server.RegisterServerStream(srv, icptServerStream, impl.UnaryStream)
	server.RegisterClientStream(srv, icptClientStream, impl.StreamUnary)
	server.RegisterBidiStream(srv, icptBidi, impl.StreamStream)
	lis := icptListen(t)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	c := icptClient(t, lis.Addr().String())
	ctx := icptContext(t)
	if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := icptServerStreamCall(ctx, c, "", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := icptClientStreamCall(ctx, c, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := icptBidiCall(ctx, c, "a"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"unary /nameko.example/unary_unary server=<nil>",
		"stream /nameko.example/unary_stream client=false server=true srv=<nil>",
		"stream /nameko.example/stream_unary client=true server=false srv=<nil>",
		"stream /nameko.example/stream_stream client=true server=true srv=<nil>",
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("interceptors saw\n\t%q\nwant\n\t%q", got, want)
	}
}

// An interceptor that answers with a status instead of calling the
// handler ends the call with that status; the handler never runs.
func TestServerInterceptorShortCircuits(t *testing.T) {
	denied := func(ctx context.Context) bool {
		md, _ := grpcmd.FromIncomingContext(ctx)
		return len(md.Get("x-deny")) > 0
	}
	unary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if denied(ctx) {
			return nil, grpcstatus.Error(codes.PermissionDenied, "denied by unary interceptor")
		}
		return h(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if denied(ss.Context()) {
			return grpcstatus.Error(codes.PermissionDenied, "denied by stream interceptor")
		}
		return h(srv, ss)
	}
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			c := icptClient(t, stack.start(t, &icptService{rec: rec}, icptUnaryInt(unary), icptStreamInt(stream)))
			ctx := icptContext(t)
			deny := grpcmd.AppendToOutgoingContext(ctx, "x-deny", "1")

			wantDenied := func(call string, err error, msg string) {
				t.Helper()
				if st, _ := grpcstatus.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != msg {
					t.Errorf("%s: %v, want PERMISSION_DENIED %q", call, err, msg)
				}
			}
			_, err := c.UnaryUnary(deny, &pb.ExampleRequest{Value: "v"})
			wantDenied("unary", err, "denied by unary interceptor")
			got, err := icptServerStreamCall(deny, c, "v", 3)
			wantDenied("server stream", err, "denied by stream interceptor")
			if len(got) != 0 {
				t.Errorf("server stream: got replies %q from a denied call", got)
			}
			_, err = icptClientStreamCall(deny, c, "a", "b")
			wantDenied("client stream", err, "denied by stream interceptor")
			got, err = icptBidiCall(deny, c, "a", "b")
			wantDenied("bidi", err, "denied by stream interceptor")
			if len(got) != 0 {
				t.Errorf("bidi: got replies %q from a denied call", got)
			}
			if ran := rec.take(); len(ran) != 0 {
				t.Errorf("handlers ran for denied calls: %q", ran)
			}

			// Calls the interceptors let through reach the handlers.
			if r, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "v"}); err != nil || r.Message != "v" {
				t.Errorf("allowed unary call: %v, %v", r, err)
			}
			if got, err := icptBidiCall(ctx, c, "a"); err != nil || !slices.Equal(got, []string{"a"}) {
				t.Errorf("allowed bidi call: %q, %v", got, err)
			}
			if ran := rec.take(); len(ran) != 2 {
				t.Errorf("handlers ran %q for two allowed calls", ran)
			}
		})
	}
}

// A unary interceptor can change the request, hand the handler a context
// of its own and replace the response.
func TestServerUnaryInterceptorReplacesRequestAndResponse(t *testing.T) {
	unary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		r := req.(*pb.ExampleRequest)
		r.Value += "+in"
		resp, err := h(context.WithValue(ctx, icptTagKey{}, "unary-tag"), r)
		if err != nil {
			return nil, err
		}
		return &pb.ExampleReply{Message: "replaced(" + resp.(*pb.ExampleReply).Message + ")"}, nil
	}
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			c := icptClient(t, stack.start(t, &icptService{rec: &recorder{}}, icptUnaryInt(unary)))
			ctx := icptContext(t)
			r, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "v"})
			if err != nil {
				t.Fatal(err)
			}
			if want := "replaced(v+in|unary-tag)"; r.Message != want {
				t.Errorf("reply %q, want %q", r.Message, want)
			}
		})
	}
}

// An interceptor that answers with a nil message, (nil, nil) from a unary
// interceptor or SendMsg(nil) from a stream interceptor, sends an empty
// message: grpc-go's encode treats an untyped nil as zero bytes, so the
// client sees OK and an empty reply, not an error.
func TestServerInterceptorNilMessageIsEmpty(t *testing.T) {
	unary := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, nil
	}
	stream := func(_ any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, _ grpc.StreamHandler) error {
		return ss.SendMsg(nil)
	}
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			c := icptClient(t, stack.start(t, &icptService{rec: rec}, icptUnaryInt(unary), icptStreamInt(stream)))
			ctx := icptContext(t)
			r, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "v"})
			if err != nil || !proto.Equal(r, &pb.ExampleReply{}) {
				t.Errorf("unary interceptor returned (nil, nil): client got %v, %v; want an empty reply and OK", r, err)
			}
			got, err := icptServerStreamCall(ctx, c, "v", 1)
			if err != nil || !slices.Equal(got, []string{""}) {
				t.Errorf("stream interceptor sent SendMsg(nil): client got %q, %v; want one empty reply and OK", got, err)
			}
			if ran := rec.take(); len(ran) != 0 {
				t.Errorf("handlers ran: %q", ran)
			}
		})
	}
}

// wrappedServerStream is what a stream interceptor hands the handler: its
// own context, requests with "+r" appended to the value and replies with
// "+s" appended to the message; it counts the calls.
type wrappedServerStream struct {
	grpc.ServerStream
	ctx          context.Context
	recvs, sends int
}

func (w *wrappedServerStream) Context() context.Context { return w.ctx }

func (w *wrappedServerStream) RecvMsg(m any) error {
	w.recvs++
	if err := w.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	m.(*pb.ExampleRequest).Value += "+r"
	return nil
}

func (w *wrappedServerStream) SendMsg(m any) error {
	w.sends++
	r := proto.Clone(m.(*pb.ExampleReply)).(*pb.ExampleReply)
	r.Message += "+s"
	return w.ServerStream.SendMsg(r)
}

// A stream interceptor can wrap the ServerStream: generated handlers get
// the wrapper, so they see its context and receive and send through it.
func TestServerStreamInterceptorWrapsStream(t *testing.T) {
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				w := &wrappedServerStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), icptTagKey{}, "stream-tag")}
				err := h(srv, w)
				rec.add(fmt.Sprintf("%s recvs=%d sends=%d", info.FullMethod, w.recvs, w.sends))
				return err
			}
			c := icptClient(t, stack.start(t, &icptService{rec: &recorder{}}, icptStreamInt(stream)))
			ctx := icptContext(t)

			got, err := icptServerStreamCall(ctx, c, "v", 2)
			if want := []string{"v+r|stream-tag+s", "v+r|stream-tag+s"}; err != nil || !slices.Equal(got, want) {
				t.Errorf("server stream: %q, %v; want %q", got, err, want)
			}
			one, err := icptClientStreamCall(ctx, c, "a", "b")
			if want := "a+r,b+r|stream-tag+s"; err != nil || one != want {
				t.Errorf("client stream: %q, %v; want %q", one, err, want)
			}
			got, err = icptBidiCall(ctx, c, "a", "b")
			if want := []string{"a+r|stream-tag+s", "b+r|stream-tag+s"}; err != nil || !slices.Equal(got, want) {
				t.Errorf("bidi: %q, %v; want %q", got, err, want)
			}
			want := []string{
				"/nameko.example/unary_stream recvs=1 sends=2",
				"/nameko.example/stream_unary recvs=3 sends=1",
				"/nameko.example/stream_stream recvs=3 sends=2",
			}
			if got := rec.take(); !slices.Equal(got, want) {
				t.Errorf("the wrapper saw\n\t%q\nwant\n\t%q", got, want)
			}
		})
	}
}

// Setting the unary or stream interceptor twice panics, on both servers.
func TestServerInterceptorSetTwicePanics(t *testing.T) {
	u := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	}
	s := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, ss)
	}
	panics := func(f func()) (p any) {
		defer func() { p = recover() }()
		f()
		return nil
	}
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			for name, opts := range map[string][]icptOpt{
				"UnaryInterceptor":  {icptUnaryInt(u), icptUnaryInt(u)},
				"StreamInterceptor": {icptStreamInt(s), icptStreamInt(s)},
			} {
				p := panics(func() { stack.start(t, &icptService{rec: &recorder{}}, opts...) })
				if p == nil {
					t.Errorf("%s set twice did not panic", name)
				}
			}
			// Chaining more than once is allowed.
			if p := panics(func() {
				stack.start(t, &icptService{rec: &recorder{}}, icptChainUnary(u), icptChainUnary(u), icptChainStream(s), icptChainStream(s))
			}); p != nil {
				t.Errorf("chaining twice panicked: %v", p)
			}
		})
	}
}
