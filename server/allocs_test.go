//go:build !race

// Allocation counts are not checked under the race detector, which
// allocates on its own account; this file is left out of -race builds.

package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// allocEcho answers unary calls through grpc-go's generated registration.
type allocEcho struct{ pb.UnimplementedExampleServer }

func (allocEcho) UnaryUnary(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return &pb.ExampleReply{Message: r.Value}, nil
}

// TestUnaryAllocs bounds what one unary call allocates, client and server
// together in this process, through grpc-go's generated stubs on both
// sides, with a deadline: the path the benchmarks measure. Counts are
// deterministic; the bound leaves a little room above today's count (16
// in December 2026, of which about 8 are protobuf's, the generated code's
// and the handler's; 27 before the server stream's context carried the
// deadline itself), so a real regression fails, not noise.
func TestUnaryAllocs(t *testing.T) {
	srv := server.New()
	pb.RegisterExampleServer(srv, allocEcho{})
	cc := serveAndDial(t, srv)
	ec := pb.NewExampleClient(cc)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req := &pb.ExampleRequest{Value: "x"}
	call := func() {
		if r, err := ec.UnaryUnary(ctx, req); err != nil || r.Message != "x" {
			t.Fatalf("call: %v, %v", r, err)
		}
	}
	for range 50 {
		call() // grow the connection's buffers and tables
	}
	n := testing.AllocsPerRun(200, call)
	t.Logf("%v allocations per unary call", n)
	if n > unaryAllocBound {
		t.Errorf("a unary call allocates %v times, want at most %d", n, unaryAllocBound)
	}
}

const unaryAllocBound = 19
