package middleware_test

import (
	"slices"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// The retry client interceptors call again after UNAVAILABLE: a unary call
// through the invoker, a server-streaming call by opening a new stream
// from RecvMsg. The retry count is a per-call option here, so it must
// reach the interceptor among the call options; each retry carries
// x-retry-attempt metadata added to the outgoing context.
func TestRetry(t *testing.T) {
	backoff := retry.WithBackoff(retry.BackoffLinear(time.Millisecond))
	eachPairing(t, func(t *testing.T, p pairing) {
		svc := &service{}
		c := p.dial(t, p.serve(t, svc, serverInts{}), clientInts{
			unary:  []grpc.UnaryClientInterceptor{retry.UnaryClientInterceptor(backoff)},
			stream: []grpc.StreamClientInterceptor{retry.StreamClientInterceptor(backoff)},
		})
		ctx := testContext(t)

		// Without the option the interceptor does not retry: the service's
		// first failure reaches the caller.
		_, err := unaryCall(ctx, c, "flaky")
		wantStatus(t, "unary without retries", err, codes.Unavailable, "try again")
		// With it, the first attempt meets the second failure and the
		// first retry succeeds.
		got, err := unaryCall(ctx, c, "flaky", retry.WithMax(3))
		if err != nil || got != "flaky" {
			t.Errorf("unary with retries: %q, %v", got, err)
		}
		if got := svc.flakyAttempts("/nameko.example/unary_unary"); !slices.Equal(got, []string{"", "", "1"}) {
			t.Errorf("unary: the service saw attempts %q, want [\"\" \"\" \"1\"]", got)
		}

		replies, err := serverStreamCall(ctx, c, "flaky", 2, retry.WithMax(3))
		if err != nil || !slices.Equal(replies, []string{"flaky", "flaky"}) {
			t.Errorf("server stream with retries: %q, %v", replies, err)
		}
		// Two failures, two retries; x-retry-attempt of each attempt.
		if got, want := svc.flakyAttempts("/nameko.example/unary_stream"), []string{"", "1", "2"}; !slices.Equal(got, want) {
			t.Errorf("server stream: the service saw attempts %q, want %q", got, want)
		}
	})
}
