package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// TestSoakAbort opens soakStreams calls on one connection as
// TestSoakStreams does, and once every one is open and past its first
// exchange ends them all at once: by cancelling their context, by closing
// the client Conn, or by stopping the server. Every call must end with
// the status that says so, and goroutines and heap come back.
func TestSoakAbort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		abort func(cancel context.CancelFunc, cc *client.Conn, srv *server.Server)
		want  codes.Code
	}{
		{"cancel", func(cancel context.CancelFunc, _ *client.Conn, _ *server.Server) { cancel() }, codes.Canceled},
		{"client close", func(_ context.CancelFunc, cc *client.Conn, _ *server.Server) { cc.Close() }, codes.Unavailable},
		{"server stop", func(_ context.CancelFunc, _ *client.Conn, srv *server.Server) { go srv.Stop() }, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := soakStreams
			// Up to a client goroutine, a handler and a cancellation
			// goroutine per call, and a few more.
			base := takeSoakBaseline(t, 5*n/2+100)
			peak := startPeakSampler()

			calls := make([]soakCall, n)
			clientArrivals := 0
			for i := range calls {
				calls[i] = newSoakCall(i)
				if calls[i].pattern != 0 {
					clientArrivals++
				}
			}
			// One arrival more than there are: the barrier never opens.
			barrier := newSoakBarrier(n + clientArrivals + 1)
			srv := server.New(server.MaxConcurrentStreams(uint32(n)))
			pb.RegisterExampleServer(srv, &soakService{barrier: barrier})
			addr, stopServer := soakServeServer(t, srv)

			ctx, cancel := context.WithTimeout(context.Background(), soakTimeout)
			defer cancel()
			callCtx, cancelCalls := context.WithCancel(ctx)
			defer cancelCalls()
			cc, err := client.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			ec := pb.NewExampleClient(cc)
			errs := make([]error, n)
			stages := make([]atomic.Int32, n)
			var wg sync.WaitGroup
			for i := range calls {
				wg.Go(func() { errs[i] = runSoakCall(callCtx, ec, calls[i], barrier, &stages[i]) })
			}
			deadline := time.Now().Add(soakBarrierTimeout)
			for barrier.arrived.Load() < int64(n+clientArrivals) {
				if time.Now().After(deadline) {
					t.Errorf("not all open within %v: %d of %d handlers and %d of %d client streams arrived; stages %v",
						soakBarrierTimeout, barrier.server.Load(), n, barrier.client.Load(), clientArrivals, stageCounts(stages))
					t.Logf("goroutines, grouped:\n%s", groupedStacks(nil))
					break
				}
				time.Sleep(10 * time.Millisecond)
			}

			start := time.Now()
			close(barrier.abort) // client streams go on to CloseAndRecv, and get the status
			tc.abort(cancelCalls, cc, srv)
			if !waitTimeout(&wg, 20*time.Second) {
				t.Errorf("calls still running 20s after the abort; stages %v", stageCounts(stages))
				reportPending(t, calls, stages)
				t.Logf("goroutines, grouped:\n%s", groupedStacks(nil))
				cancel()
				if !waitTimeout(&wg, 10*time.Second) {
					t.Fatal("calls still running 10s after their context was cancelled")
				}
			}
			elapsed := time.Since(start)
			got := map[codes.Code]int{}
			shown := 0
			for i, err := range errs {
				code := grpcstatus.Code(err)
				got[code]++
				if code != tc.want && shown < 10 {
					t.Errorf("%v: %v, want %v", calls[i], err, tc.want)
					shown++
				}
			}
			t.Logf("%d calls ended %v after the abort: %v", n, elapsed.Round(time.Millisecond), got)

			cancelCalls()
			cc.Close()
			stopServer()
			cancel()
			base.check(t, peak.stop())
		})
	}
}
