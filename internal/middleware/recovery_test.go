package middleware_test

import (
	"slices"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The recovery interceptors turn a handler's panic into the call's status
// (UNKNOWN "panic caught: ..." by default, the handler's status with
// WithRecoveryHandler) for every call pattern, also after replies were
// sent, and the server goes on serving on the same connection.
func TestRecovery(t *testing.T) {
	handlers := []struct {
		name string
		opts []recovery.Option
		code codes.Code
		msg  string // the message's start
	}{
		{"default", nil, codes.Unknown, "panic caught: boom"},
		{"WithRecoveryHandler", []recovery.Option{recovery.WithRecoveryHandler(func(p any) error {
			return status.Errorf(codes.Internal, "recovered: %v", p)
		})}, codes.Internal, "recovered: boom"},
	}
	eachPairing(t, func(t *testing.T, p pairing) {
		for _, h := range handlers {
			t.Run(h.name, func(t *testing.T) {
				addr := p.serve(t, &service{}, serverInts{
					unary:  []grpc.UnaryServerInterceptor{recovery.UnaryServerInterceptor(h.opts...)},
					stream: []grpc.StreamServerInterceptor{recovery.StreamServerInterceptor(h.opts...)},
				})
				c := p.dial(t, addr, clientInts{})
				ctx := testContext(t)
				stillServes := func(after string) {
					t.Helper()
					if got, err := unaryCall(ctx, c, "ok"); err != nil || got != "ok" {
						t.Errorf("unary call after the %s panic: %q, %v", after, got, err)
					}
				}

				_, err := unaryCall(ctx, c, "panic")
				wantStatus(t, "unary", err, h.code, h.msg)
				stillServes("unary")

				got, err := serverStreamCall(ctx, c, "panic-after-send", 0)
				wantStatus(t, "server stream", err, h.code, h.msg)
				if want := []string{"before the panic"}; !slices.Equal(got, want) {
					t.Errorf("server stream: replies %q before the status, want %q", got, want)
				}
				stillServes("server stream")

				_, err = clientStreamCall(ctx, c, "a", "panic")
				wantStatus(t, "client stream", err, h.code, h.msg)
				stillServes("client stream")

				got, err = bidiCall(ctx, c, "a", "panic")
				wantStatus(t, "bidi", err, h.code, h.msg)
				if want := []string{"a"}; !slices.Equal(got, want) {
					t.Errorf("bidi: replies %q before the status, want %q", got, want)
				}
				stillServes("bidi")

				// Streaming calls work too after all that.
				if got, err := bidiCall(ctx, c, "x", "y"); err != nil || !slices.Equal(got, []string{"x", "y"}) {
					t.Errorf("bidi call after the panics: %q, %v", got, err)
				}
			})
		}
	})
}
