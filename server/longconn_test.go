package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/internal/testserver"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// TestLongLivedConnectionHoldsNothingPerCall: tens of thousands of calls
// on one connection leave the live heap where it was after the first
// thousand. A connection that kept something per completed call (it kept
// each call's context, registered under its own, until it closed) grows
// by megabytes here.
func TestLongLivedConnectionHoldsNothingPerCall(t *testing.T) {
	calls := map[bool]int{false: 40_000, true: 8_000}[raceEnabled]
	_, addr := testserver.Start(t, testserver.Hooks{})
	cc := dial(t, addr)
	ec := pb.NewExampleClient(cc)
	ctx := testserver.Context(t, 2*time.Minute)
	run := func(n int) {
		const workers = 16
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					_, err := ec.UnaryUnary(cctx, &pb.ExampleRequest{Value: "x"})
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
