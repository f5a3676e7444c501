package dropin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// testService is grpc-go's TestService as a grpc-go user writes it, with
// grpc-go's packages only: the same value is registered on either server.
// Every handler tells the client what it saw in its trailers ("seen-..."
// keys), and echoes the request's "x-" metadata in its headers and
// trailers. Request metadata steers it:
//
//   - x-error: <name>: end the call with handlerErrors[name] where it would
//     have ended OK, after whatever it sends;
//   - x-wait: once the headers are out, wait for the call's context to end
//     and report it on ended;
//   - x-linger: with x-wait, take 200 ms more to return, as a handler
//     that does not watch its context does;
//   - x-set-header (EmptyCall): set headers before failing, so the error
//     does not come trailers-only;
//   - x-watch-context (UnaryCall, HalfDuplexCall): report on ended when the
//     context ends after the handler returned.
type testService struct {
	testpb.UnimplementedTestServiceServer

	// ended receives what handlers report about their contexts ending.
	ended chan ended
}

// ended is what a handler saw when its context ended.
type ended struct {
	method   string
	ctxErr   error
	recvCode codes.Code // streams: the code of a Recv after the end
}

func newTestService() *testService {
	return &testService{ended: make(chan ended, 16)}
}

// report hands e to the test without ever blocking a handler.
func (s *testService) report(e ended) {
	select {
	case s.ended <- e:
	default:
	}
}

// handlerErrors are the errors a handler returns, by the name x-error
// gives; wantErrors says what grpc-go makes of each.
var handlerErrors = map[string]error{
	"status.Error":  status.Error(codes.NotFound, "no such thing"),
	"status.Errorf": status.Errorf(codes.PermissionDenied, "user %q may not %s", "bob", "read"),
	"status.New.Err": status.New(codes.ResourceExhausted,
		"naïve 100% \"quoted\"\tand\nsplit ✓").Err(),
	"WithDetails":              detailedStatus().Err(),
	"context.Canceled":         context.Canceled,
	"context.DeadlineExceeded": context.DeadlineExceeded,
	"wrapped Canceled":         fmt.Errorf("fetching: %w", context.Canceled),
	"wrapped DeadlineExceeded": fmt.Errorf("fetching: %w", context.DeadlineExceeded),
	"errors.New":               errors.New("disk on fire"),
	"errors.New non-ASCII":     errors.New("naïve 100%\nfailure ✓"),
	"wrapped status":           fmt.Errorf("lookup: %w", status.Error(codes.Unavailable, "backend down")),
}

// detailedStatus is a status with details of three errdetails types.
func detailedStatus() *status.Status {
	st, err := status.New(codes.InvalidArgument, "bad request: 100% wrong ✗").WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "payload.body", Description: "must not be empty"},
		}},
		&errdetails.ErrorInfo{Reason: "EMPTY_BODY", Domain: "dropin.test", Metadata: map[string]string{"field": "body"}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
	)
	if err != nil {
		panic(err)
	}
	return st
}

// chosenError is the error x-error names, or nil.
func chosenError(md metadata.MD) error {
	v := md.Get("x-error")
	if len(v) == 0 {
		return nil
	}
	err, ok := handlerErrors[v[0]]
	if !ok {
		return status.Errorf(codes.InvalidArgument, "no error named %q", v[0])
	}
	return err
}

// echoed is the request's "x-" metadata, to send back.
func echoed(md metadata.MD) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		if strings.HasPrefix(k, "x-") {
			out[k] = slices.Clone(v)
		}
	}
	return out
}

// seen is what the handler's context shows it, as metadata to send back:
// the method, the request headers grpc-go shows handlers, the names of the
// non-"x-" keys of the incoming metadata, the peer and whether there is a
// deadline.
func seen(ctx context.Context) metadata.MD {
	out := metadata.MD{}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		out.Set("seen-error", "no incoming metadata")
	}
	m, ok := grpc.Method(ctx)
	out.Set("seen-method", fmt.Sprint(m, " ", ok))
	for _, k := range []string{":authority", "user-agent", "content-type"} {
		out.Append("seen-"+strings.TrimPrefix(k, ":"), md.Get(k)...)
	}
	for k := range md {
		if !strings.HasPrefix(k, "x-") {
			out.Append("seen-keys", k)
		}
	}
	slices.Sort(out["seen-keys"])
	if p, ok := peer.FromContext(ctx); ok {
		out.Set("seen-peer", addrString(p.Addr))
		out.Set("seen-peer-local", addrString(p.LocalAddr))
	} else {
		out.Set("seen-peer", "none")
	}
	_, ok = ctx.Deadline()
	out.Set("seen-deadline", fmt.Sprint(ok))
	return out
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return "nil"
	}
	return a.String()
}

// codeOf names the code of err, "OK" for nil, for reporting an API call's
// result in metadata.
func codeOf(err error) string { return status.Code(err).String() }

// waitIfAsked waits, if x-wait asks, for ctx to end and reports it, with
// the code recv returns after that when recv is not nil; it returns ctx's
// error, or nil when not asked to wait.
func (s *testService) waitIfAsked(ctx context.Context, md metadata.MD, recv func() error) error {
	if len(md.Get("x-wait")) == 0 {
		return nil
	}
	<-ctx.Done()
	m, _ := grpc.Method(ctx)
	e := ended{method: m, ctxErr: ctx.Err()}
	if recv != nil {
		e.recvCode = status.Code(recv())
	}
	s.report(e)
	if len(md.Get("x-linger")) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	return ctx.Err()
}

// watchIfAsked reports, if x-watch-context asks, when ctx ends, which grpc-go
// makes happen when the handler returns.
func (s *testService) watchIfAsked(ctx context.Context, md metadata.MD) {
	if len(md.Get("x-watch-context")) == 0 {
		return
	}
	go func() {
		<-ctx.Done()
		m, _ := grpc.Method(ctx)
		s.report(ended{method: m, ctxErr: ctx.Err()})
	}()
}

func payload(n int32) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// EmptyCall only answers: its trailers say what it saw; an error comes
// trailers-only unless x-set-header asks for headers first.
func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get("x-set-header")) > 0 {
		if err := grpc.SetHeader(ctx, echoed(md)); err != nil {
			return nil, err
		}
	}
	if err := grpc.SetTrailer(ctx, echoed(md)); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, seen(ctx)); err != nil {
		return nil, err
	}
	if err := chosenError(md); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

// UnaryCall uses every context function: headers set in two steps and
// sent early, then set and sent once more (which fails), trailers set in
// several steps.
func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no incoming metadata")
	}
	if err := grpc.SetHeader(ctx, echoed(md)); err != nil {
		return nil, err
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("h-set", "set")); err != nil {
		return nil, err
	}
	if err := grpc.SendHeader(ctx, metadata.Pairs("h-sent", "sent")); err != nil {
		return nil, err
	}
	late := metadata.Pairs(
		"late-set-header", codeOf(grpc.SetHeader(ctx, metadata.Pairs("h-late", "late"))),
		"late-send-header", codeOf(grpc.SendHeader(ctx, metadata.Pairs("h-late", "late"))),
		"late-set-header-empty", codeOf(grpc.SetHeader(ctx, metadata.MD{})),
	)
	for _, tr := range []metadata.MD{echoed(md), seen(ctx), late, metadata.Pairs("t-twice", "1"), metadata.Pairs("t-twice", "2")} {
		if err := grpc.SetTrailer(ctx, tr); err != nil {
			return nil, err
		}
	}
	if err := s.waitIfAsked(ctx, md, nil); err != nil {
		return nil, err
	}
	s.watchIfAsked(ctx, md)
	if err := chosenError(md); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: payload(req.ResponseSize), Username: fmt.Sprint(len(req.GetPayload().GetBody()))}, nil
}

// StreamingOutputCall uses the context functions (grpc.SetHeader, ...) on
// the stream's context. With no response parameters it sends nothing, so
// its status comes trailers-only.
func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	if err := grpc.SetTrailer(ctx, echoed(md)); err != nil {
		return err
	}
	if err := grpc.SetTrailer(ctx, seen(ctx)); err != nil {
		return err
	}
	if len(req.ResponseParameters) == 0 {
		return chosenError(md)
	}
	if err := grpc.SetHeader(ctx, echoed(md)); err != nil {
		return err
	}
	if err := grpc.SendHeader(ctx, metadata.Pairs("h-sent", "sent")); err != nil {
		return err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("late-set-header", codeOf(grpc.SetHeader(ctx, metadata.Pairs("h-late", "late"))))); err != nil {
		return err
	}
	if err := s.waitIfAsked(ctx, md, nil); err != nil {
		return err
	}
	for _, p := range req.ResponseParameters {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(p.Size)}); err != nil {
			return err
		}
	}
	return chosenError(md)
}

// StreamingInputCall uses the stream's own SetHeader and SetTrailer and
// receives with Recv.
func (s *testService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	if err := stream.SetHeader(echoed(md)); err != nil {
		return err
	}
	stream.SetTrailer(echoed(md))
	stream.SetTrailer(seen(ctx))
	var total int
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		total += len(req.GetPayload().GetBody())
	}
	if err := chosenError(md); err != nil {
		return err
	}
	return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
}

// FullDuplexCall uses the stream's SetHeader, SendHeader and SetTrailer,
// and alternates Recv with RecvMsg and Send with SendMsg: each request is
// answered at once with the responses it asks for.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	if err := stream.SetHeader(echoed(md)); err != nil {
		return err
	}
	if err := stream.SendHeader(metadata.Pairs("h-sent", "sent")); err != nil {
		return err
	}
	stream.SetTrailer(echoed(md))
	stream.SetTrailer(seen(ctx))
	stream.SetTrailer(metadata.Pairs(
		"late-set-header", codeOf(stream.SetHeader(metadata.Pairs("h-late", "late"))),
		"late-send-header", codeOf(stream.SendHeader(metadata.Pairs("h-late", "late"))),
		"late-set-header-empty", codeOf(stream.SetHeader(metadata.MD{})),
	))
	if err := s.waitIfAsked(ctx, md, func() error { _, err := stream.Recv(); return err }); err != nil {
		return err
	}
	for i := 0; ; i++ {
		req := new(testpb.StreamingOutputCallRequest)
		var err error
		if i%2 == 0 {
			req, err = stream.Recv()
		} else {
			err = stream.RecvMsg(req)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for j, p := range req.ResponseParameters {
			resp := &testpb.StreamingOutputCallResponse{Payload: payload(p.Size)}
			if j%2 == 0 {
				err = stream.Send(resp)
			} else {
				err = stream.SendMsg(resp)
			}
			if err != nil {
				return err
			}
		}
	}
	return chosenError(md)
}

// HalfDuplexCall reads every request with RecvMsg, then sends the
// responses they ask for with SendMsg; its headers leave with the first
// response.
func (s *testService) HalfDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	stream.SetTrailer(seen(ctx))
	var reqs []*testpb.StreamingOutputCallRequest
	for {
		req := new(testpb.StreamingOutputCallRequest)
		if err := stream.RecvMsg(req); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		reqs = append(reqs, req)
	}
	if err := stream.SetHeader(echoed(md)); err != nil {
		return err
	}
	for _, req := range reqs {
		for _, p := range req.ResponseParameters {
			if err := stream.SendMsg(&testpb.StreamingOutputCallResponse{Payload: payload(p.Size)}); err != nil {
				return err
			}
		}
	}
	s.watchIfAsked(ctx, md)
	return chosenError(md)
}
