package server_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// TestLongLivedConnectionHoldsNothingPerCall: tens of thousands of calls
// of the four patterns on one connection leave the live heap where it was after the first
// thousand. A connection that kept something per completed call (it kept
// each call's context, registered under its own, until it closed) grows
// by megabytes here.
func TestLongLivedConnectionHoldsNothingPerCall(t *testing.T) {
	calls := map[bool]int{false: 40_000, true: 8_000}[raceEnabled]
	_, addr := testserver.Start(t, testserver.Hooks{})
	cc := dial(t, addr)
	ctx := testserver.Context(t, 2*time.Minute)
	run := func(n int) {
		const workers = 16
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err := longConnCall(cctx, cc, i%4)
					cancel()
					if err != nil {
						t.Errorf("call %d: %v", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	run(1000) // tables, buffers and pools at their working size
	before := heapAfterGC()
	run(calls)
	after := heapAfterGC()
	growth := int64(after) - int64(before)
	t.Logf("%d calls on one connection: live heap %.1f MiB before, %.1f MiB after", calls, float64(before)/(1<<20), float64(after)/(1<<20))
	// 32 bytes a call would be 1.2 MiB over 40,000 calls; what a call
	// leaves behind is at least a context (about 100 bytes).
	if limit := int64(calls) * 32; growth > limit {
		t.Errorf("live heap grew %d KiB over %d calls on one connection, want under %d KiB", growth>>10, calls, limit>>10)
	}
}

// longConnCall makes one call of pattern p (unary, server streaming,
// client streaming, bidi) with two messages where it streams, and reads
// it to its end.
func longConnCall(ctx context.Context, cc *client.Conn, p int) error {
	req := &pb.ExampleRequest{Value: "x", ResponseCount: 2}
	switch p {
	case 0:
		_, err := client.Unary[pb.ExampleReply](ctx, cc, testserver.Unary, req)
		return err
	case 1:
		s, err := client.ServerStream[pb.ExampleReply](ctx, cc, testserver.ServerStream, req)
		if err != nil {
			return err
		}
		for {
			if _, err := s.Recv(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	case 2:
		s, err := client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, cc, testserver.ClientStream)
		if err != nil {
			return err
		}
		for range 2 {
			if err := s.Send(req); err != nil {
				break
			}
		}
		_, err = s.CloseAndRecv()
		return err
	default:
		s, err := client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, cc, testserver.Bidi)
		if err != nil {
			return err
		}
		for range 2 {
			if err := s.Send(req); err != nil {
				return err
			}
			if _, err := s.Recv(); err != nil {
				return err
			}
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		if _, err := s.Recv(); err != io.EOF {
			return fmt.Errorf("bidi end: %v, want EOF", err)
		}
		return nil
	}
}
