package harness

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// memParallel is how many connections or streams are opened at once.
const memParallel = 16

// memSettle is how long both sides are left alone after the last
// connection or stream is open, before they are measured.
const memSettle = 200 * time.Millisecond

// usedConnCalls is how many unary calls each connection of kindUsedConns
// makes before it idles: enough to fill the HPACK tables of a stack that
// indexes each call's grpc-timeout (about 75 calls fill 4 KiB).
const usedConnCalls = 100

// runIdleConns measures the memory an idle connection costs each side:
// after a first connection (so one-time costs are not counted), it opens
// w.N more from this process to the server and divides the growth of each
// process's RSS and Go heap by N. For kindUsedConns each connection first
// makes usedConnCalls unary calls of 1 byte each way, each with a
// deadline of its own, as a long-lived connection does: what it keeps of
// them (buffers, header tables) counts too.
func runIdleConns(ctx context.Context, w workload, stack, addr string, server statsFunc) (Sample, error) {
	var (
		mu      sync.Mutex
		closers []io.Closer
	)
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	req := &testpb.SimpleRequest{ResponseSize: 1, Payload: &testpb.Payload{Body: body(1)}}
	open := func() (io.Closer, error) {
		cc, c, err := dial(ctx, stack, addr)
		if err != nil || w.Kind != kindUsedConns {
			return c, err
		}
		tc := testpb.NewTestServiceClient(cc)
		for range usedConnCalls {
			callCtx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err := tc.UnaryCall(callCtx, req)
			cancel()
			if err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	}
	first, err := open()
	if err != nil {
		return Sample{}, err
	}
	closers = append(closers, first)
	if err := waitServer(ctx, server, func(s procStats) bool { return s.Conns >= 1 }); err != nil {
		return Sample{}, err
	}
	return measureMem(ctx, w.N, server,
		func() error {
			c, err := open()
			if err != nil {
				return err
			}
			mu.Lock()
			closers = append(closers, c)
			mu.Unlock()
			return nil
		},
		func(s procStats) bool { return s.Conns >= int64(w.N)+1 })
}

// runIdleStreams measures the memory an open idle stream costs each side:
// on one connection, after a first stream, it opens w.N more
// FullDuplexCalls, each with one 1-byte round trip so that the server's
// handler is running, and divides the growth by N.
func runIdleStreams(ctx context.Context, w workload, stack, addr string, server statsFunc) (Sample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cc, closer, err := dial(ctx, stack, addr)
	if err != nil {
		return Sample{}, err
	}
	defer closer.Close()
	tc := testpb.NewTestServiceClient(cc)
	req := &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1}},
		Payload:            &testpb.Payload{Body: body(1)},
	}
	var (
		mu      sync.Mutex
		streams []grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]
	)
	open := func() error {
		s, err := tc.FullDuplexCall(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(req); err != nil {
			return err
		}
		if _, err := s.Recv(); err != nil {
			return err
		}
		mu.Lock()
		streams = append(streams, s)
		mu.Unlock()
		return nil
	}
	if err := open(); err != nil {
		return Sample{}, err
	}
	s, err := measureMem(ctx, w.N, server, open,
		func(s procStats) bool { return s.Streams >= int64(w.N)+1 })
	runtime.KeepAlive(streams)
	return s, err
}

// measureMem reads both sides' memory, calls open n times (memParallel at
// a time), waits until the server's counters satisfy held and for
// memSettle, reads both sides' memory again and returns the growth per
// opened thing.
func measureMem(ctx context.Context, n int, server statsFunc, open func() error, held func(procStats) bool) (Sample, error) {
	srvBefore, err := server(true)
	if err != nil {
		return Sample{}, err
	}
	before := readStats(true)

	next := make(chan struct{})
	errs := make(chan error, memParallel)
	var wg sync.WaitGroup
	for range memParallel {
		wg.Go(func() {
			for range next {
				if err := open(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	start := time.Now()
	var openErr error
send:
	for range n {
		select {
		case next <- struct{}{}:
		case openErr = <-errs:
			break send
		}
	}
	close(next)
	wg.Wait()
	if openErr == nil {
		select {
		case openErr = <-errs:
		default:
		}
	}
	if openErr != nil {
		return Sample{}, fmt.Errorf("opening %d: %w", n, openErr)
	}
	opened := time.Since(start)
	if err := waitServer(ctx, server, held); err != nil {
		return Sample{}, err
	}
	if err := sleep(ctx, memSettle); err != nil {
		return Sample{}, err
	}

	after := readStats(true)
	srvAfter, err := server(true)
	if err != nil {
		return Sample{}, err
	}
	return Sample{
		Ops:     int64(n),
		Seconds: opened.Seconds(),
		Mem: &MemSample{
			N:      n,
			Client: memDelta(before, after, n),
			Server: memDelta(srvBefore, srvAfter, n),
		},
	}, nil
}

// waitServer polls the server's counters until held says yes.
func waitServer(ctx context.Context, server statsFunc, held func(procStats) bool) error {
	for {
		s, err := server(false)
		if err != nil {
			return err
		}
		if held(s) {
			return nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for the server (it holds %d connections, %d streams): %w", s.Conns, s.Streams, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
