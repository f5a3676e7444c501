package dropin_test

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// What a handler's errors become on the wire, and what the client makes of
// statuses and of its own context ending.

// wantErrors is what grpc-go's server sends for each of handlerErrors: a
// status as it is (a wrapped one with the wrapping text), a context error
// as CANCELLED or DEADLINE_EXCEEDED with its text, anything else as
// UNKNOWN with its text.
var wantErrors = map[string]*status.Status{
	"status.Error":             status.New(codes.NotFound, "no such thing"),
	"status.Errorf":            status.New(codes.PermissionDenied, `user "bob" may not read`),
	"status.New.Err":           status.New(codes.ResourceExhausted, "naïve 100% \"quoted\"\tand\nsplit ✓"),
	"WithDetails":              detailedStatus(),
	"context.Canceled":         status.New(codes.Canceled, "context canceled"),
	"context.DeadlineExceeded": status.New(codes.DeadlineExceeded, "context deadline exceeded"),
	"wrapped Canceled":         status.New(codes.Canceled, "fetching: context canceled"),
	"wrapped DeadlineExceeded": status.New(codes.DeadlineExceeded, "fetching: context deadline exceeded"),
	"errors.New":               status.New(codes.Unknown, "disk on fire"),
	"errors.New non-ASCII":     status.New(codes.Unknown, "naïve 100%\nfailure ✓"),
	"wrapped status":           status.New(codes.Unavailable, "lookup: rpc error: code = Unavailable desc = backend down"),
}

// Every kind of handler error reaches the client with its code, message
// and details, whether it ends the call trailers-only, after the headers,
// or after messages, and the trailers set before it arrive with it.
func TestHandlerErrors(t *testing.T) {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range handlerErrors {
			if !yield(n) {
				return
			}
		}
	})
	if len(names) != len(wantErrors) {
		t.Fatalf("%d handler errors, %d expectations", len(handlerErrors), len(wantErrors))
	}
	// Each way of calling returns the call's error and its trailers.
	calls := []struct {
		name string
		call func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error)
	}{
		{"EmptyCall trailers-only", func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error) {
			var tr metadata.MD
			_, err := e.tc.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&tr))
			return tr, err
		}},
		{"UnaryCall after headers", func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error) {
			var tr metadata.MD
			_, err := e.tc.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&tr))
			return tr, err
		}},
		{"StreamingOutputCall trailers-only", func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error) {
			stream, err := e.tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			return stream.Trailer(), err
		}},
		{"StreamingOutputCall after messages", func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error) {
			stream, err := e.tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
				ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}},
			})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := stream.Recv(); err != nil {
					t.Fatalf("Recv before the error: %v", err)
				}
			}
			_, err = stream.Recv()
			return stream.Trailer(), err
		}},
		{"StreamingInputCall", func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error) {
			stream, err := e.tc.StreamingInputCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(3)}); err != nil {
				t.Fatal(err)
			}
			_, err = stream.CloseAndRecv()
			return stream.Trailer(), err
		}},
		{"FullDuplexCall after messages", func(t *testing.T, e *env, ctx context.Context) (metadata.MD, error) {
			stream, err := e.tc.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("Recv before the error: %v", err)
			}
			stream.CloseSend()
			_, err = stream.Recv()
			return stream.Trailer(), err
		}},
	}
	matrix(t, func(t *testing.T, e *env) {
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) {
				for _, name := range names {
					tr, err := c.call(t, e, outgoing(callCtx(t), "x-error", name))
					checkStatus(t, err, wantErrors[name])
					checkEcho(t, name+": trailer", tr)
					if len(tr.Get("seen-method")) != 1 {
						t.Errorf("%s: trailer lacks what the handler set: %v", name, tr)
					}
				}
			})
		}
	})
}

// A trailers-only response (the handler ends the call before sending
// anything): stream.Header returns no metadata and no error, as grpc-go's
// does, Recv the status, Trailer what the handler set; the same for
// grpc.Header and grpc.Trailer on a unary call. Headers set before the
// error are not trailers-only: they arrive.
func TestTrailersOnly(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name string
			kv   []string
			want error
		}{
			{"OK", nil, io.EOF},
			{"error", []string{"x-error", "status.Error"}, wantErrors["status.Error"].Err()},
		} {
			t.Run("stream "+tc.name, func(t *testing.T) {
				stream, err := e.tc.StreamingOutputCall(outgoing(callCtx(t), tc.kv...), &testpb.StreamingOutputCallRequest{})
				if err != nil {
					t.Fatal(err)
				}
				header, err := stream.Header()
				if err != nil || len(header) != 0 {
					t.Errorf("Header() = %v, %v; want no metadata and no error", header, err)
				}
				_, err = stream.Recv()
				if tc.want == io.EOF {
					if err != io.EOF {
						t.Errorf("Recv: %v, want io.EOF", err)
					}
				} else {
					checkStatus(t, err, status.Convert(tc.want))
				}
				tr := stream.Trailer()
				checkEcho(t, "trailer", tr)
				e.checkSeen(t, tr, methodStreamOut, contentTypeDefault)
			})
		}
		t.Run("unary error", func(t *testing.T) {
			var header, trailer metadata.MD
			_, err := e.tc.EmptyCall(outgoing(callCtx(t), "x-error", "status.Error"), &testpb.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer))
			checkStatus(t, err, wantErrors["status.Error"])
			if len(header) != 0 {
				t.Errorf("grpc.Header stored %v, want nothing", header)
			}
			checkEcho(t, "trailer", trailer)
			e.checkSeen(t, trailer, methodEmpty, contentTypeDefault)
		})
		t.Run("unary error after grpc.SetHeader", func(t *testing.T) {
			var header, trailer metadata.MD
			_, err := e.tc.EmptyCall(outgoing(callCtx(t), "x-error", "WithDetails", "x-set-header", "1"), &testpb.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer))
			checkStatus(t, err, detailedStatus())
			checkEcho(t, "header", header)
			checkEcho(t, "trailer", trailer)
		})
	})
}

// The client's own context ending: DEADLINE_EXCEEDED or CANCELLED with
// grpc-go's text, and the handler's context ends too, with Recv then
// failing. When the deadline passes, grpc-go's own server sees either
// error, depending on whether its timer or the client's RST_STREAM comes
// first, so the handler's side accepts both there.
func TestClientContextEnds(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		handlerSaw := func(t *testing.T, method string, want ...error) ended {
			t.Helper()
			select {
			case got := <-e.svc.ended:
				if got.method != method || !slices.Contains(want, got.ctxErr) {
					t.Errorf("handler of %s saw its context end with %v, want %s with one of %v", got.method, got.ctxErr, method, want)
				}
				return got
			case <-time.After(5 * time.Second):
				t.Fatalf("the handler of %s did not see its context end", method)
				return ended{}
			}
		}
		t.Run("unary deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			_, err := e.tc.UnaryCall(outgoing(ctx, "x-wait", "1"), &testpb.SimpleRequest{})
			checkDeadlineExceeded(t, err)
			handlerSaw(t, methodUnary, context.DeadlineExceeded, context.Canceled)
		})
		t.Run("stream deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			stream, err := e.tc.FullDuplexCall(outgoing(ctx, "x-wait", "1"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Header(); err != nil {
				t.Fatalf("Header: %v", err)
			}
			_, err = stream.Recv()
			checkDeadlineExceeded(t, err)
			got := handlerSaw(t, methodFullDuplex, context.DeadlineExceeded, context.Canceled)
			if got.recvCode != codes.DeadlineExceeded && got.recvCode != codes.Canceled {
				t.Errorf("the handler's Recv after its context ended: %v, want DeadlineExceeded or Canceled", got.recvCode)
			}
		})
		t.Run("stream cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(callCtx(t))
			defer cancel()
			stream, err := e.tc.FullDuplexCall(outgoing(ctx, "x-wait", "1"))
			if err != nil {
				t.Fatal(err)
			}
			// Headers mean the handler runs.
			if _, err := stream.Header(); err != nil {
				t.Fatalf("Header: %v", err)
			}
			cancel()
			_, err = stream.Recv()
			checkStatus(t, err, status.New(codes.Canceled, "context canceled"))
			got := handlerSaw(t, methodFullDuplex, context.Canceled)
			if got.recvCode != codes.Canceled {
				t.Errorf("the handler's Recv after its context ended: %v, want Canceled", got.recvCode)
			}
		})
		t.Run("canceled before the call", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := e.tc.EmptyCall(ctx, &testpb.Empty{})
			checkStatus(t, err, status.New(codes.Canceled, "context canceled"))
		})
	})
}

// checkDeadlineExceeded checks the error of a call whose deadline passed:
// DEADLINE_EXCEEDED, with the text of the client's own deadline or, when
// the server's RST_STREAM(CANCEL) came first, grpc-go's text for that.
func checkDeadlineExceeded(t *testing.T, err error) {
	t.Helper()
	checkCode(t, err, codes.DeadlineExceeded)
	if msg := status.Convert(err).Message(); msg != "context deadline exceeded" && msg != "stream terminated by RST_STREAM with error code: CANCEL" {
		t.Errorf("error %v: message %q, want grpc-go's", err, msg)
	}
}

// When the server resets a call with RST_STREAM(CANCEL) after the call's
// deadline has passed, the call ends with DEADLINE_EXCEEDED, as grpc-go's
// client makes it: grpc-go's server resets a call when its deadline passes,
// and that reset can overtake the client's own deadline timer. The context
// here shows that case without the race: its deadline passes a second
// before it is done, and the handler lingers after its context ends, so
// grpc-go's server resets the call before anything else happens (h2grpc's
// sends DEADLINE_EXCEEDED trailers instead).
func TestDeadlinePassedServerResetIsDeadlineExceeded(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		ctx := lateDoneContext(t, 300*time.Millisecond, time.Second)
		_, err := e.tc.UnaryCall(outgoing(ctx, "x-wait", "1", "x-linger", "1"), &testpb.SimpleRequest{})
		checkDeadlineExceeded(t, err)
		select { // the handler has ended before the server stops
		case <-e.svc.ended:
		case <-time.After(5 * time.Second):
			t.Error("the handler did not see its context end")
		}
	})
}

// lateDoneContext returns a context whose deadline is in d but which is
// done only after lag more: what a context looks like between its deadline
// and the moment its timer has run.
func lateDoneContext(t *testing.T, d, lag time.Duration) context.Context {
	ctx, cancel := context.WithTimeoutCause(t.Context(), d+lag, context.DeadlineExceeded)
	t.Cleanup(cancel)
	return lateDone{ctx, time.Now().Add(d)}
}

type lateDone struct {
	context.Context
	deadline time.Time
}

func (c lateDone) Deadline() (time.Time, bool) { return c.deadline, true }

// A handler's context ends when the handler returns, as grpc-go's does:
// a goroutine watching it does not outlive the call.
func TestHandlerContextEndsOnReturn(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		for _, call := range []struct {
			method string
			run    func(ctx context.Context) error
		}{
			{methodUnary, func(ctx context.Context) error {
				_, err := e.tc.UnaryCall(ctx, &testpb.SimpleRequest{})
				return err
			}},
			{methodHalfDuplex, func(ctx context.Context) error {
				stream, err := e.tc.HalfDuplexCall(ctx)
				if err != nil {
					return err
				}
				stream.CloseSend()
				if _, err := stream.Recv(); err != io.EOF {
					return err
				}
				return nil
			}},
		} {
			if err := call.run(outgoing(callCtx(t), "x-watch-context", "1")); err != nil {
				t.Fatalf("%s: %v", call.method, err)
			}
			select {
			case got := <-e.svc.ended:
				if got.method != call.method || got.ctxErr != context.Canceled {
					t.Errorf("%s's context ended with %v (%s), want context.Canceled", call.method, got.ctxErr, got.method)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("%s's context did not end after the handler returned", call.method)
			}
		}
	})
}

// A client stream's Context ends once the call has ended, as grpc-go's
// does (grpc-go documents the stream's context as the call's; code that
// watches it, e.g. to stop a sending goroutine, relies on this). Beyond
// the list, which names Header and Trailer for client streams.
func TestClientStreamContextEndsWithCall(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		stream, err := e.tc.FullDuplexCall(callCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv: %v, want io.EOF", err)
		}
		select {
		case <-stream.Context().Done():
		case <-time.After(time.Second):
			t.Error("stream.Context() still live after the call ended")
		}
	})
}
