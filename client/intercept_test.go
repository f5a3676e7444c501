package client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The client interceptor tests run each case on h2grpc's client and on
// grpc-go's, with the same interceptors and the same assertions, against
// one h2grpc server, so that only the client differs.

const (
	icptUnary        = "/nameko.example/unary_unary"
	icptServerStream = "/nameko.example/unary_stream"
	icptClientStream = "/nameko.example/stream_unary"
	icptBidi         = "/nameko.example/stream_stream"
)

// icptOpt is one client option in both clients' spelling.
type icptOpt struct {
	ours   client.Option
	theirs grpc.DialOption
}

func icptUnaryInt(i grpc.UnaryClientInterceptor) icptOpt {
	return icptOpt{client.WithUnaryInterceptor(i), grpc.WithUnaryInterceptor(i)}
}

func icptStreamInt(i grpc.StreamClientInterceptor) icptOpt {
	return icptOpt{client.WithStreamInterceptor(i), grpc.WithStreamInterceptor(i)}
}

func icptChainUnary(is ...grpc.UnaryClientInterceptor) icptOpt {
	return icptOpt{client.WithChainUnaryInterceptor(is...), grpc.WithChainUnaryInterceptor(is...)}
}

func icptChainStream(is ...grpc.StreamClientInterceptor) icptOpt {
	return icptOpt{client.WithChainStreamInterceptor(is...), grpc.WithChainStreamInterceptor(is...)}
}

func icptDefaults(opts ...grpc.CallOption) icptOpt {
	return icptOpt{client.WithDefaultCallOptions(opts...), grpc.WithDefaultCallOptions(opts...)}
}

// icptStacks are the two clients each case runs on.
var icptStacks = []struct {
	name string
	dial func(t *testing.T, addr string, opts ...icptOpt) grpc.ClientConnInterface
}{
	{"h2grpc", func(t *testing.T, addr string, opts ...icptOpt) grpc.ClientConnInterface {
		var o []client.Option
		for _, opt := range opts {
			o = append(o, opt.ours)
		}
		return dial(t, addr, o...)
	}},
	{"grpc-go", func(t *testing.T, addr string, opts ...icptOpt) grpc.ClientConnInterface {
		o := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		for _, opt := range opts {
			o = append(o, opt.theirs)
		}
		cc, err := grpc.NewClient(addr, o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}},
}

func icptContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// icptService echoes and counts its calls. Each reply carries the
// x-added metadata the call arrived with ("|md=v1,v2"), and unary
// replies come with the response header x-h: unary.
type icptService struct {
	pb.UnimplementedExampleServer
	calls atomic.Int32
}

func icptMD(ctx context.Context) string {
	md, _ := grpcmd.FromIncomingContext(ctx)
	if v := md.Get("x-added"); len(v) > 0 {
		return "|md=" + strings.Join(v, ",")
	}
	return ""
}

func (s *icptService) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	s.calls.Add(1)
	if r.Value == "fail" {
		return nil, grpcstatus.Error(codes.InvalidArgument, "bad value")
	}
	if err := grpc.SetHeader(ctx, grpcmd.Pairs("x-h", "unary")); err != nil {
		return nil, err
	}
	return &pb.ExampleReply{Message: r.Value + icptMD(ctx)}, nil
}

func (s *icptService) UnaryStream(r *pb.ExampleRequest, ss grpc.ServerStreamingServer[pb.ExampleReply]) error {
	s.calls.Add(1)
	if strings.HasPrefix(r.Value, "fail") { // "fail+s" through wrappingStream
		return grpcstatus.Error(codes.InvalidArgument, "bad value")
	}
	for i := range r.ResponseCount {
		if err := ss.Send(&pb.ExampleReply{Message: r.Value + icptMD(ss.Context()), Seqno: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *icptService) StreamUnary(ss grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.calls.Add(1)
	var values []string
	for {
		r, err := ss.Recv()
		if err == io.EOF {
			return ss.SendAndClose(&pb.ExampleReply{Message: strings.Join(values, ",") + icptMD(ss.Context())})
		}
		if err != nil {
			return err
		}
		values = append(values, r.Value)
	}
}

func (s *icptService) StreamStream(ss grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.calls.Add(1)
	for {
		r, err := ss.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.Send(&pb.ExampleReply{Message: r.Value + icptMD(ss.Context())}); err != nil {
			return err
		}
	}
}

// icptServer serves an icptService on h2grpc until the test ends.
func icptServer(t *testing.T) (*icptService, string) {
	t.Helper()
	svc := &icptService{}
	srv := server.New()
	pb.RegisterExampleServer(srv, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return svc, lis.Addr().String()
}

// The streaming calls as generated code makes them; each returns the
// replies and the call's status (nil for OK).

func icptServerStreamCall(s grpc.ServerStreamingClient[pb.ExampleReply], err error) ([]string, error) {
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

func icptClientStreamCall(s grpc.ClientStreamingClient[pb.ExampleRequest, pb.ExampleReply], err error, values ...string) (string, error) {
	if err != nil {
		return "", err
	}
	for _, v := range values {
		if err := s.Send(&pb.ExampleRequest{Value: v}); err == io.EOF {
			break
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

func icptBidiCall(s grpc.BidiStreamingClient[pb.ExampleRequest, pb.ExampleReply], err error, values ...string) ([]string, error) {
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

// icptAll makes one call of each pattern with the generated client and
// fails the test on an error.
func icptAll(t *testing.T, ctx context.Context, c pb.ExampleClient, opts ...grpc.CallOption) (unary string, serverStream []string, clientStream string, bidi []string) {
	t.Helper()
	r, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "u"}, opts...)
	if err != nil {
		t.Fatalf("unary: %v", err)
	}
	ss, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: "s", ResponseCount: 2}, opts...)
	serverStream, err = icptServerStreamCall(ss, err)
	if err != nil {
		t.Fatalf("server stream: %v", err)
	}
	cs, err := c.StreamUnary(ctx, opts...)
	clientStream, err = icptClientStreamCall(cs, err, "a", "b")
	if err != nil {
		t.Fatalf("client stream: %v", err)
	}
	bs, err := c.StreamStream(ctx, opts...)
	bidi, err = icptBidiCall(bs, err, "a", "b")
	if err != nil {
		t.Fatalf("bidi: %v", err)
	}
	return r.Message, serverStream, clientStream, bidi
}

// recorder collects what interceptors saw.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func recordingUnary(rec *recorder, name string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		rec.add("%s>", name)
		defer rec.add("<%s", name)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

func recordingStream(rec *recorder, name string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		rec.add("%s>", name)
		defer rec.add("<%s", name)
		return streamer(ctx, desc, cc, method, opts...)
	}
}

// The interceptor set with WithUnaryInterceptor (WithStreamInterceptor)
// runs first, then the chained ones in the order added, whatever the order
// of the options.
func TestClientInterceptorOrder(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			c := pb.NewExampleClient(stack.dial(t, addr,
				icptChainUnary(recordingUnary(rec, "c1")),
				icptUnaryInt(recordingUnary(rec, "u0")),
				icptChainUnary(recordingUnary(rec, "c2"), recordingUnary(rec, "c3")),
				icptChainStream(recordingStream(rec, "c1")),
				icptStreamInt(recordingStream(rec, "s0")),
				icptChainStream(recordingStream(rec, "c2"), recordingStream(rec, "c3")),
			))
			ctx := icptContext(t)
			if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{}); err != nil {
				t.Fatal(err)
			}
			want := []string{"u0>", "c1>", "c2>", "c3>", "<c3", "<c2", "<c1", "<u0"}
			if got := rec.take(); !slices.Equal(got, want) {
				t.Errorf("unary: ran %q, want %q", got, want)
			}
			want = []string{"s0>", "c1>", "c2>", "c3>", "<c3", "<c2", "<c1", "<s0"}
			for name, start := range map[string]func() error{
				"server stream": func() error { _, err := c.UnaryStream(ctx, &pb.ExampleRequest{}); return err },
				"client stream": func() error { _, err := c.StreamUnary(ctx); return err },
				"bidi":          func() error { _, err := c.StreamStream(ctx); return err },
			} {
				if err := start(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := rec.take(); !slices.Equal(got, want) {
					t.Errorf("%s: ran %q, want %q", name, got, want)
				}
			}
		})
	}
}

// tagOption is a call option the clients ignore, so tests can see where
// each option a call is made with ends up.
type tagOption struct {
	grpc.EmptyCallOption
	tag string
}

func tags(opts []grpc.CallOption) []string {
	var t []string
	for _, o := range opts {
		if o, ok := o.(tagOption); ok {
			t = append(t, o.tag)
		}
	}
	return t
}

// Interceptors see the method, the request and reply the caller passed
// (the reply filled in once the invoker returns), the stream's
// description, and the call options: the default ones first, then the
// call's own.
func TestClientInterceptorSeesTheCall(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			var sentReq *pb.ExampleRequest
			var gotReply *pb.ExampleReply
			unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				before := reply.(*pb.ExampleReply).Message
				err := invoker(ctx, method, req, reply, cc, opts...)
				rec.add("unary %s same-req=%t reply-before=%q reply-after=%q tags=%v",
					method, req == any(sentReq), before, reply.(*pb.ExampleReply).Message, tags(opts))
				gotReply = reply.(*pb.ExampleReply)
				return err
			}
			stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				rec.add("stream %s name=%s client=%t server=%t tags=%v",
					method, desc.StreamName, desc.ClientStreams, desc.ServerStreams, tags(opts))
				return streamer(ctx, desc, cc, method, opts...)
			}
			c := pb.NewExampleClient(stack.dial(t, addr,
				icptDefaults(tagOption{tag: "default1"}, tagOption{tag: "default2"}),
				icptUnaryInt(unary), icptStreamInt(stream)))
			ctx := icptContext(t)

			sentReq = &pb.ExampleRequest{Value: "v"}
			reply, err := c.UnaryUnary(ctx, sentReq, tagOption{tag: "call"})
			if err != nil {
				t.Fatal(err)
			}
			if reply != gotReply {
				t.Error("the interceptor's reply is not the one the caller got")
			}
			_, err = c.UnaryStream(ctx, &pb.ExampleRequest{}, tagOption{tag: "call"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.StreamUnary(ctx, tagOption{tag: "call"}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.StreamStream(ctx, tagOption{tag: "call"}); err != nil {
				t.Fatal(err)
			}
			want := []string{
				`unary /nameko.example/unary_unary same-req=true reply-before="" reply-after="v" tags=[default1 default2 call]`,
				`stream /nameko.example/unary_stream name=unary_stream client=false server=true tags=[default1 default2 call]`,
				`stream /nameko.example/stream_unary name=stream_unary client=true server=false tags=[default1 default2 call]`,
				`stream /nameko.example/stream_stream name=stream_stream client=true server=true tags=[default1 default2 call]`,
			}
			if got := rec.take(); !slices.Equal(got, want) {
				t.Errorf("interceptors saw\n\t%q\nwant\n\t%q", got, want)
			}
		})
	}
}

// Metadata an interceptor adds with grpc-go's AppendToOutgoingContext
// reaches the server after the caller's, and call options it adds are
// honoured.
func TestClientInterceptorAddsMetadataAndOptions(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			var header grpcmd.MD
			unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				ctx = grpcmd.AppendToOutgoingContext(ctx, "x-added", "unary-interceptor")
				return invoker(ctx, method, req, reply, cc, append(opts, grpc.Header(&header))...)
			}
			stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				ctx = grpcmd.AppendToOutgoingContext(ctx, "x-added", "stream-interceptor")
				return streamer(ctx, desc, cc, method, opts...)
			}
			c := pb.NewExampleClient(stack.dial(t, addr, icptUnaryInt(unary), icptStreamInt(stream)))
			ctx := grpcmd.AppendToOutgoingContext(icptContext(t), "x-added", "caller")

			u, ss, cs, bidi := icptAll(t, ctx, c)
			if want := "u|md=caller,unary-interceptor"; u != want {
				t.Errorf("unary: %q, want %q", u, want)
			}
			if want := []string{"s|md=caller,stream-interceptor", "s|md=caller,stream-interceptor"}; !slices.Equal(ss, want) {
				t.Errorf("server stream: %q, want %q", ss, want)
			}
			if want := "a,b|md=caller,stream-interceptor"; cs != want {
				t.Errorf("client stream: %q, want %q", cs, want)
			}
			if want := []string{"a|md=caller,stream-interceptor", "b|md=caller,stream-interceptor"}; !slices.Equal(bidi, want) {
				t.Errorf("bidi: %q, want %q", bidi, want)
			}
			if got := header.Get("x-h"); !slices.Equal(got, []string{"unary"}) {
				t.Errorf("grpc.Header added by the interceptor got x-h %q, want [unary]", got)
			}
		})
	}
}

// wrappedClientStream appends "+s" to each request's value and "+r" to
// each reply's message, and counts the calls.
type wrappedClientStream struct {
	grpc.ClientStream
	rec                 *recorder
	method              string
	sends, recvs, close int
}

func (w *wrappedClientStream) SendMsg(m any) error {
	w.sends++
	r := proto.Clone(m.(*pb.ExampleRequest)).(*pb.ExampleRequest)
	r.Value += "+s"
	return w.ClientStream.SendMsg(r)
}

func (w *wrappedClientStream) CloseSend() error {
	w.close++
	return w.ClientStream.CloseSend()
}

func (w *wrappedClientStream) RecvMsg(m any) error {
	w.recvs++
	err := w.ClientStream.RecvMsg(m)
	if err == nil {
		m.(*pb.ExampleReply).Message += "+r"
	} else if err == io.EOF {
		w.rec.add("%s sends=%d closes=%d recvs=%d", w.method, w.sends, w.close, w.recvs)
	} else {
		w.rec.add("%s sends=%d closes=%d recvs=%d %v", w.method, w.sends, w.close, w.recvs, err)
	}
	return err
}

func wrappingStream(rec *recorder) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &wrappedClientStream{ClientStream: cs, rec: rec, method: method}, nil
	}
}

// A stream interceptor can wrap the ClientStream: generated clients send
// and receive through the wrapper.
func TestClientStreamInterceptorWrapsStream(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			c := pb.NewExampleClient(stack.dial(t, addr, icptStreamInt(wrappingStream(rec))))
			_, ss, cs, bidi := icptAll(t, icptContext(t), c)
			if want := []string{"s+s+r", "s+s+r"}; !slices.Equal(ss, want) {
				t.Errorf("server stream: %q, want %q", ss, want)
			}
			if want := "a+s,b+s+r"; cs != want {
				t.Errorf("client stream: %q, want %q", cs, want)
			}
			if want := []string{"a+s+r", "b+s+r"}; !slices.Equal(bidi, want) {
				t.Errorf("bidi: %q, want %q", bidi, want)
			}
			// The last RecvMsg of a client-streaming call is its only one:
			// CloseAndRecv's, which returns the reply, so it is not seen.
			want := []string{
				"/nameko.example/unary_stream sends=1 closes=1 recvs=3",
				"/nameko.example/stream_stream sends=2 closes=1 recvs=3",
			}
			if got := rec.take(); !slices.Equal(got, want) {
				t.Errorf("the wrapper saw\n\t%q\nwant\n\t%q", got, want)
			}
		})
	}
}

// An interceptor that returns an error without invoking the call fails the
// call with it; nothing reaches the server.
func TestClientInterceptorShortCircuits(t *testing.T) {
	svc, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			unary := func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
				return grpcstatus.Error(codes.FailedPrecondition, "unary refused by the client")
			}
			stream := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, grpc.Streamer, ...grpc.CallOption) (grpc.ClientStream, error) {
				return nil, grpcstatus.Error(codes.FailedPrecondition, "stream refused by the client")
			}
			c := pb.NewExampleClient(stack.dial(t, addr, icptUnaryInt(unary), icptStreamInt(stream)))
			ctx := icptContext(t)
			before := svc.calls.Load()
			check := func(call string, err error, msg string) {
				t.Helper()
				if st, _ := grpcstatus.FromError(err); st.Code() != codes.FailedPrecondition || st.Message() != msg {
					t.Errorf("%s: %v, want FAILED_PRECONDITION %q", call, err, msg)
				}
			}
			_, err := c.UnaryUnary(ctx, &pb.ExampleRequest{})
			check("unary", err, "unary refused by the client")
			_, err = c.UnaryStream(ctx, &pb.ExampleRequest{})
			check("server stream", err, "stream refused by the client")
			_, err = c.StreamUnary(ctx)
			check("client stream", err, "stream refused by the client")
			_, err = c.StreamStream(ctx)
			check("bidi", err, "stream refused by the client")
			if n := svc.calls.Load() - before; n != 0 {
				t.Errorf("the server saw %d calls", n)
			}
		})
	}
}

// A unary interceptor may invoke the call more than once (as retrying
// interceptors do); each invocation is a call of its own.
func TestClientUnaryInterceptorInvokesTwice(t *testing.T) {
	svc, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
					return err
				}
				req.(*pb.ExampleRequest).Value = "second"
				return invoker(ctx, method, req, reply, cc, opts...)
			}
			c := pb.NewExampleClient(stack.dial(t, addr, icptUnaryInt(unary)))
			before := svc.calls.Load()
			r, err := c.UnaryUnary(icptContext(t), &pb.ExampleRequest{Value: "first"})
			if err != nil || r.Message != "second" {
				t.Errorf("got %v, %v; want the second call's reply", r, err)
			}
			if n := svc.calls.Load() - before; n != 2 {
				t.Errorf("the server saw %d calls, want 2", n)
			}
		})
	}
}

// WithUnaryInterceptor and WithStreamInterceptor given twice keep the last
// (grpc-go's dial options do not panic, unlike its server options).
func TestClientInterceptorSetTwiceLastWins(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			c := pb.NewExampleClient(stack.dial(t, addr,
				icptUnaryInt(recordingUnary(rec, "first")), icptUnaryInt(recordingUnary(rec, "second")),
				icptStreamInt(recordingStream(rec, "first")), icptStreamInt(recordingStream(rec, "second"))))
			ctx := icptContext(t)
			if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.StreamStream(ctx); err != nil {
				t.Fatal(err)
			}
			want := []string{"second>", "<second", "second>", "<second"}
			if got := rec.take(); !slices.Equal(got, want) {
				t.Errorf("ran %q, want %q", got, want)
			}
		})
	}
}

// A unary interceptor that invokes the call with a nil request sends an
// empty message, as grpc-go's client does (its encode treats an untyped
// nil as zero bytes).
func TestClientInterceptorNilRequestIsEmpty(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			unary := func(ctx context.Context, method string, _, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				return invoker(ctx, method, nil, reply, cc, opts...)
			}
			c := pb.NewExampleClient(stack.dial(t, addr, icptUnaryInt(unary)))
			r, err := c.UnaryUnary(icptContext(t), &pb.ExampleRequest{Value: "dropped"})
			if err != nil || r.Message != "" {
				t.Errorf("got %v, %v; want an empty reply to the empty request", r, err)
			}
		})
	}
}

// The errors interceptors get from the invoker and from the stream read
// as grpc-go's do: logging interceptors print err.Error(), and callers
// match on it. grpc-go spells the code as codes.Code.String() does
// ("InvalidArgument"), and the codes and status as status.FromError finds
// them are the same.
func TestClientInterceptorSeesGRPCErrors(t *testing.T) {
	_, addr := icptServer(t)
	for _, stack := range icptStacks {
		t.Run(stack.name, func(t *testing.T) {
			rec := &recorder{}
			unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				err := invoker(ctx, method, req, reply, cc, opts...)
				st, ok := grpcstatus.FromError(err)
				rec.add("unary %v (%v %v %q)", err, ok, st.Code(), st.Message())
				return err
			}
			c := pb.NewExampleClient(stack.dial(t, addr, icptUnaryInt(unary), icptStreamInt(wrappingStream(rec))))
			ctx := icptContext(t)
			if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "fail"}); grpcstatus.Code(err) != codes.InvalidArgument {
				t.Errorf("unary: %v", err)
			}
			ss, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: "fail"})
			if _, err := icptServerStreamCall(ss, err); grpcstatus.Code(err) != codes.InvalidArgument {
				t.Errorf("server stream: %v", err)
			}
			want := []string{
				`unary rpc error: code = InvalidArgument desc = bad value (true InvalidArgument "bad value")`,
				`/nameko.example/unary_stream sends=1 closes=1 recvs=1 rpc error: code = InvalidArgument desc = bad value`,
			}
			if got := rec.take(); !slices.Equal(got, want) {
				t.Errorf("interceptors saw\n\t%q\nwant\n\t%q", got, want)
			}
		})
	}
}

// The typed functions (client.Unary, ServerStream, ClientStream,
// BidiStream) go through the same interceptors as generated code, with the
// default call options first, and through a wrapped stream.
func TestTypedCallsGoThroughInterceptors(t *testing.T) {
	_, addr := icptServer(t)
	rec := &recorder{}
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		rec.add("unary %s req=%q tags=%v", method, req.(*pb.ExampleRequest).Value, tags(opts))
		ctx = grpcmd.AppendToOutgoingContext(ctx, "x-added", "unary")
		err := invoker(ctx, method, req, reply, cc, opts...)
		rec.add("unary reply=%q", reply.(*pb.ExampleReply).Message)
		return err
	}
	wrap := wrappingStream(rec)
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		rec.add("stream %s client=%t server=%t tags=%v", method, desc.ClientStreams, desc.ServerStreams, tags(opts))
		ctx = grpcmd.AppendToOutgoingContext(ctx, "x-added", "stream")
		return wrap(ctx, desc, cc, method, streamer, opts...)
	}
	c := dial(t, addr,
		client.WithDefaultCallOptions(tagOption{tag: "default"}),
		client.WithUnaryInterceptor(unary), client.WithStreamInterceptor(stream))
	ctx := icptContext(t)
	call := tagOption{tag: "call"}

	r, err := client.Unary[pb.ExampleReply](ctx, c, icptUnary, &pb.ExampleRequest{Value: "u"}, call)
	if err != nil || r.Message != "u|md=unary" {
		t.Errorf("Unary: %v, %v", r, err)
	}
	ss, err := client.ServerStream[pb.ExampleReply](ctx, c, icptServerStream, &pb.ExampleRequest{Value: "s", ResponseCount: 2}, call)
	got, err := icptServerStreamCall(ss, err)
	if want := []string{"s+s|md=stream+r", "s+s|md=stream+r"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ServerStream: %q, %v; want %q", got, err, want)
	}
	cs, err := client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, c, icptClientStream, call)
	one, err := icptClientStreamCall(cs, err, "a", "b")
	if want := "a+s,b+s|md=stream+r"; err != nil || one != want {
		t.Errorf("ClientStream: %q, %v; want %q", one, err, want)
	}
	bs, err := client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, c, icptBidi, call)
	got, err = icptBidiCall(bs, err, "a", "b")
	if want := []string{"a+s|md=stream+r", "b+s|md=stream+r"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("BidiStream: %q, %v; want %q", got, err, want)
	}
	want := []string{
		`unary /nameko.example/unary_unary req="u" tags=[default call]`,
		`unary reply="u|md=unary"`,
		`stream /nameko.example/unary_stream client=false server=true tags=[default call]`,
		`/nameko.example/unary_stream sends=1 closes=1 recvs=3`,
		`stream /nameko.example/stream_unary client=true server=false tags=[default call]`,
		`stream /nameko.example/stream_stream client=true server=true tags=[default call]`,
		`/nameko.example/stream_stream sends=2 closes=1 recvs=3`,
	}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Errorf("interceptors saw\n\t%q\nwant\n\t%q", got, want)
	}
}
