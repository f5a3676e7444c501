package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/peer"
)

// soakConfig is what the --soak_* flags say.
type soakConfig struct {
	iterations     int
	maxFailures    int
	maxLatency     time.Duration // of one iteration
	overallTimeout time.Duration
	minInterval    time.Duration // between the starts of a worker's iterations
	requestSize    int
	responseSize   int
	threads        int
}

// soakResult is what one worker saw.
type soakResult struct {
	succeeded, failed int
	latencies         []time.Duration // of the iterations that succeeded
	firstErr          error
}

// rpcSoak runs large unary calls in sequence on the case's Conn.
func rpcSoak(ctx context.Context, e *env) error { return runSoak(ctx, e, false) }

// channelSoak runs large unary calls in sequence, each on a new Conn,
// dialled for it and closed after it.
func channelSoak(ctx context.Context, e *env) error { return runSoak(ctx, e, true) }

// runSoak runs --soak_iterations large unary calls spread over
// --soak_num_threads workers, as grpc-go's interop.DoSoakTest does: an
// iteration fails when its call fails or takes longer than the allowed
// latency; the test fails when more than --soak_max_failures iterations
// fail or the overall timeout passes before all have run.
func runSoak(ctx context.Context, e *env, newConn bool) error {
	sc := e.soak
	if sc.threads < 1 || sc.iterations < 0 {
		return fmt.Errorf("soak: --soak_num_threads must be at least 1 and --soak_iterations not negative")
	}
	ctx, cancel := context.WithTimeout(ctx, sc.overallTimeout)
	defer cancel()
	start := time.Now()
	results := make([]soakResult, sc.threads)
	var wg sync.WaitGroup
	for w := range sc.threads {
		// Iterations that do not divide evenly go to the first workers.
		n := sc.iterations / sc.threads
		if w < sc.iterations%sc.threads {
			n++
		}
		wg.Go(func() { results[w] = soakWorker(ctx, e, w, n, start, newConn) })
	}
	wg.Wait()

	var total soakResult
	for _, r := range results {
		total.succeeded += r.succeeded
		total.failed += r.failed
		total.latencies = append(total.latencies, r.latencies...)
		if total.firstErr == nil {
			total.firstErr = r.firstErr
		}
	}
	fmt.Fprintf(e.log, "soak (%s): %d / %d iterations succeeded, %d failed; latency of those that succeeded: %s\n",
		e.target, total.succeeded, sc.iterations, total.failed, latencySummary(total.latencies))
	if ran := total.succeeded + total.failed; ran != sc.iterations {
		return fmt.Errorf("soak: ran %d of %d iterations within the overall timeout of %v (first failure: %v)",
			ran, sc.iterations, sc.overallTimeout, total.firstErr)
	}
	if total.failed > sc.maxFailures {
		return fmt.Errorf("soak: %d of %d iterations failed, more than --soak_max_failures=%d (first: %v)",
			total.failed, sc.iterations, sc.maxFailures, total.firstErr)
	}
	return nil
}

// soakWorker runs n iterations, stopping early at the overall timeout,
// and starts them at least minInterval apart.
func soakWorker(ctx context.Context, e *env, worker, n int, start time.Time, newConn bool) soakResult {
	sc := e.soak
	var r soakResult
	for i := range n {
		if ctx.Err() != nil || time.Since(start) >= sc.overallTimeout {
			fmt.Fprintf(e.log, "worker %d: soak stopped at the overall timeout of %v, after %d iterations\n", worker, sc.overallTimeout, i)
			return r
		}
		next := time.Now().Add(sc.minInterval)
		latency, p, err := soakIteration(ctx, e, newConn)
		if err == nil && latency > sc.maxLatency {
			err = fmt.Errorf("took %v, more than the acceptable %v", latency.Round(time.Millisecond), sc.maxLatency)
		}
		if err != nil {
			r.failed++
			if r.firstErr == nil {
				r.firstErr = fmt.Errorf("iteration %d: %w", i, err)
			}
			fmt.Fprintf(e.log, "worker %d: soak iteration %d: elapsed_ms %d peer %v: failed: %v\n", worker, i, latency.Milliseconds(), p, err)
		} else {
			r.succeeded++
			r.latencies = append(r.latencies, latency)
			fmt.Fprintf(e.log, "worker %d: soak iteration %d: elapsed_ms %d peer %v: succeeded\n", worker, i, latency.Milliseconds(), p)
		}
		sleepUntil(ctx, next) // at the overall timeout, the next round stops
	}
	return r
}

// soakIteration makes one large unary call, on a new Conn if newConn, and
// returns how long it took, connecting included.
func soakIteration(ctx context.Context, e *env, newConn bool) (time.Duration, string, error) {
	start := time.Now()
	conn := e.conn
	if newConn {
		c, err := e.dial()
		if err != nil {
			return time.Since(start), "", err
		}
		defer c.Close()
		conn = c
	}
	req := &testpb.SimpleRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseSize: int32(e.soak.responseSize),
		Payload:      payload(e.soak.requestSize),
	}
	var p peer.Peer
	reply, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, req, grpc.Peer(&p))
	latency := time.Since(start)
	addr := ""
	if p.Addr != nil {
		addr = p.Addr.String()
	}
	if err != nil {
		return latency, addr, fmt.Errorf("UnaryCall: %w", err)
	}
	return latency, addr, checkPayload("UnaryCall", reply.GetPayload(), e.soak.responseSize)
}

// sleepUntil waits until t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// latencySummary is min / median / p90 / max of ls, in milliseconds.
func latencySummary(ls []time.Duration) string {
	if len(ls) == 0 {
		return "none"
	}
	ls = slices.Clone(ls)
	slices.Sort(ls)
	at := func(q float64) int64 { return ls[int(q*float64(len(ls)-1))].Milliseconds() }
	return fmt.Sprintf("min %d ms, median %d ms, p90 %d ms, max %d ms", at(0), at(0.5), at(0.9), at(1))
}
