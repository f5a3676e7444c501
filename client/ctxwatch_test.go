package client_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// TestContextWatchReuse: a call's registration with its context goes back
// to a pool when the call ends (ctxwatch.go) and serves later calls; the
// end of the first call's context must then reach none of them. Calls
// whose contexts are cancelled while they run, from other goroutines, end
// CANCELLED or complete, and leave the others alone.
func TestContextWatchReuse(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	c := dial(t, addr)
	live := testserver.Context(t, time.Minute)
	req := &pb.ExampleRequest{Value: "x"}
	for range 100 {
		ctx, cancel := context.WithCancel(live)
		if _, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, req); err != nil {
			t.Fatal(err)
		}
		s, err := client.BidiStream[pb.ExampleRequest, pb.ExampleReply](live, c, testserver.Bidi)
		if err != nil {
			t.Fatal(err)
		}
		cancel() // the first call's context, after its registration was reused
		if err := s.Send(req); err != nil {
			t.Fatalf("send after another call's context ended: %v", err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("receive after another call's context ended: %v", err)
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("end of the stream: %v, want EOF", err)
		}
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithCancel(live)
				go cancel()
				_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, req)
				if err != nil && status.CodeOf(err) != status.Canceled {
					t.Errorf("call whose context was cancelled: %v, want OK or CANCELLED", err)
				}
				if _, err := client.Unary[pb.ExampleReply](live, c, testserver.Unary, req); err != nil {
					t.Errorf("call on a live context: %v", err)
				}
			}
		})
	}
	wg.Wait()
}
