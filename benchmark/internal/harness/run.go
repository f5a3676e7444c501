package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// Sample is what one run measured. In one process, the Client fields hold
// the whole process (client and server together) and the Server fields
// are 0.
type Sample struct {
	Ops     int64   `json:"ops"`     // operations completed: calls, round trips or messages
	Bytes   int64   `json:"bytes"`   // payload bytes the client received
	Seconds float64 `json:"seconds"` // the window, until the last operation in flight ended
	// ConnectSeconds and WarmupSeconds are how long connecting (and
	// opening the streams) and the warm-up took: where a slow run's time
	// went.
	ConnectSeconds float64 `json:"connect_s,omitempty"`
	WarmupSeconds  float64 `json:"warmup_s,omitempty"`
	P50us          float64 `json:"p50_us"` // latency of an operation (not for streams)
	P99us          float64 `json:"p99_us"`

	ClientCPU        float64 `json:"client_cpu_s"` // user + system CPU seconds in the window
	ServerCPU        float64 `json:"server_cpu_s"`
	ClientAllocs     uint64  `json:"client_allocs"` // heap allocations in the window
	ClientAllocBytes uint64  `json:"client_alloc_bytes"`
	ServerAllocs     uint64  `json:"server_allocs"`
	ServerAllocBytes uint64  `json:"server_alloc_bytes"`

	// Cut counts operations cancelled because they were still in flight
	// cutGrace after the window: stalls of the machine, not counted in
	// Ops or the latencies.
	Cut int64 `json:"cut,omitempty"`

	Mem *MemSample `json:"mem,omitempty"` // memory workloads only
}

// MemSample is the memory each side holds per idle connection or stream:
// the difference over N of them, each side measured in its own process
// after collecting garbage and returning free memory to the system.
type MemSample struct {
	N      int      `json:"n"`
	Client MemDelta `json:"client"`
	Server MemDelta `json:"server"`
}

// MemDelta is bytes per connection or stream.
type MemDelta struct {
	RSS   float64 `json:"rss"`
	Heap  float64 `json:"heap_inuse"`
	Stack float64 `json:"stack_inuse"`
}

func memDelta(before, after procStats, n int) MemDelta {
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	return MemDelta{
		RSS:   per(before.RSS, after.RSS),
		Heap:  per(before.HeapInuse, after.HeapInuse),
		Stack: per(before.StackInuse, after.StackInuse),
	}
}

// statsFunc reads the server's counters; see readStats for settle.
type statsFunc func(settle bool) (procStats, error)

// timing is how long a load workload warms up and is measured.
type timing struct {
	Warmup, Window time.Duration
}

// op is one operation of a load workload: a call, a round trip, a
// streamed message. It returns the payload bytes received. Each op is
// used by one goroutine.
type op interface {
	do() (int, error)
}

// runLoad runs a load workload from clientStack against the server at
// addr: Conc ops in parallel for t.Warmup, then for t.Window, measured.
// server reads the server process's counters at both ends of the window;
// nil means the server is in this process, whose counters then cover both.
func runLoad(ctx context.Context, w workload, clientStack, addr string, t timing, server statsFunc) (Sample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the streams before their connections close
	t0 := time.Now()
	ops, closeAll, err := newOps(ctx, w, clientStack, addr)
	if err != nil {
		return Sample{}, err
	}
	defer closeAll()
	connected := time.Since(t0)
	warmup, err := runPhase(ops, t.Warmup, newWorkers(len(ops)), nil)
	if err != nil {
		return Sample{}, fmt.Errorf("warm-up: %w", err)
	}
	workers := newWorkers(len(ops))
	var srvBefore, srvAfter procStats
	if server != nil {
		if srvBefore, err = server(false); err != nil {
			return Sample{}, err
		}
	}
	before := readStats(false)
	// Cancelling the context ends gRPC calls; closing ends TCP round trips.
	cut := func() {
		cancel()
		closeAll()
	}
	elapsed, err := runPhase(ops, t.Window, workers, cut)
	after := readStats(false)
	if err != nil {
		return Sample{}, err
	}
	if server != nil {
		if srvAfter, err = server(false); err != nil {
			return Sample{}, err
		}
	}

	var h hist
	s := Sample{Seconds: elapsed.Seconds(), ConnectSeconds: connected.Seconds(), WarmupSeconds: warmup.Seconds()}
	for _, wk := range workers {
		h.merge(&wk.hist)
		s.Ops += wk.ops
		s.Bytes += wk.bytes
		if wk.cut {
			s.Cut++
		}
	}
	if w.Kind != kindStream {
		s.P50us = float64(h.quantile(0.50)) / 1e3
		s.P99us = float64(h.quantile(0.99)) / 1e3
	}
	s.ClientCPU = (after.CPU - before.CPU).Seconds()
	s.ClientAllocs = after.Mallocs - before.Mallocs
	s.ClientAllocBytes = after.TotalAlloc - before.TotalAlloc
	if server != nil {
		s.ServerCPU = (srvAfter.CPU - srvBefore.CPU).Seconds()
		s.ServerAllocs = srvAfter.Mallocs - srvBefore.Mallocs
		s.ServerAllocBytes = srvAfter.TotalAlloc - srvBefore.TotalAlloc
	}
	return s, nil
}

// worker is one goroutine's tally in a phase. Each is allocated on its own
// so that goroutines do not share cache lines.
type worker struct {
	hist  hist
	ops   int64
	bytes int64
	err   error
	cut   bool // its last operation was cancelled after the window
}

func newWorkers(n int) []*worker {
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = new(worker)
	}
	return ws
}

// cutGrace is how long operations still in flight after the window may
// take before they are cancelled. On a shared machine an operation
// sometimes stalls for seconds; without a bound, each stall would stretch
// its run, and `make bench` past its time.
const cutGrace = time.Second

// runPhase runs each op in its own goroutine, over and over, until d has
// passed; the operations in flight then finish and count. It returns the
// time until the last one ended. With cut (which must make the ops'
// calls fail), operations still in flight cutGrace after d are cancelled
// and not counted.
func runPhase(ops []op, d time.Duration, workers []*worker, cut func()) (time.Duration, error) {
	var stop, cutting atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	if cut != nil {
		cutTimer := time.AfterFunc(d+cutGrace, func() {
			cutting.Store(true)
			cut()
		})
		defer cutTimer.Stop()
	}
	for i, o := range ops {
		wk := workers[i]
		wg.Go(func() {
			for !stop.Load() {
				t0 := time.Now()
				n, err := o.do()
				if err != nil {
					if cutting.Load() {
						wk.cut = true
					} else {
						wk.err = err
						stop.Store(true)
					}
					return
				}
				wk.hist.record(time.Since(t0))
				wk.ops++
				wk.bytes += int64(n)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var errs []error
	for _, wk := range workers {
		errs = append(errs, wk.err)
	}
	return elapsed, errors.Join(errs...)
}

// newOps makes w.Conc ops for clientStack against addr: for gRPC, on one
// connection; for TCP, one connection each. closeAll closes what they use.
func newOps(ctx context.Context, w workload, clientStack, addr string) (ops []op, closeAll func(), err error) {
	var closers []io.Closer
	closeAll = func() {
		for _, c := range closers {
			c.Close()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	if clientStack == stackTCP {
		for range w.Conc {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, closeAll, err
			}
			closers = append(closers, c)
			ops = append(ops, &tcpOp{c: c, buf: make([]byte, w.Size), size: w.Size})
		}
		return ops, closeAll, nil
	}
	cc, closer, err := dial(ctx, clientStack, addr)
	if err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, closer)
	for range w.Conc {
		o, err := newGRPCOp(ctx, w, clientStack, cc)
		if err != nil {
			return nil, closeAll, err
		}
		ops = append(ops, o)
	}
	return ops, closeAll, nil
}

func newGRPCOp(ctx context.Context, w workload, clientStack string, cc grpc.ClientConnInterface) (op, error) {
	tc := testpb.NewTestServiceClient(cc)
	size := int32(w.Size)
	params := []*testpb.ResponseParameters{{Size: size}}
	raw := []grpc.CallOption{grpc.CallContentSubtype(rawSubtype(clientStack))}
	switch {
	case w.Kind == kindUnary && w.Codec == codecRaw:
		return &rawUnaryOp{ctx: ctx, cc: cc, opts: raw, req: &rawMessage{b: payload[:w.Size]}, size: w.Size}, nil
	case w.Kind == kindUnary:
		req := &testpb.SimpleRequest{ResponseSize: size, Payload: &testpb.Payload{Body: body(size)}}
		return &unaryOp{ctx: ctx, c: tc, req: req, size: w.Size}, nil
	case w.Kind == kindPingPong && w.Codec == codecRaw:
		s, err := cc.NewStream(ctx, &rawStreamDesc, rawPingPongPath, raw...)
		if err != nil {
			return nil, err
		}
		return &rawPingPongOp{s: s, req: &rawMessage{b: payload[:w.Size]}, size: w.Size}, nil
	case w.Kind == kindPingPong:
		s, err := tc.FullDuplexCall(ctx)
		if err != nil {
			return nil, err
		}
		req := &testpb.StreamingOutputCallRequest{ResponseParameters: params, Payload: &testpb.Payload{Body: body(size)}}
		return &pingPongOp{s: s, req: req, size: w.Size}, nil
	case w.Kind == kindStream:
		s, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
		if err != nil {
			return nil, err
		}
		return &streamOp{s: s, size: w.Size}, nil
	}
	return nil, fmt.Errorf("no load workload %q with codec %q", w.Kind, w.Codec)
}

func checkSize(got, want int) error {
	if got != want {
		return fmt.Errorf("received %d bytes, want %d", got, want)
	}
	return nil
}

type unaryOp struct {
	ctx  context.Context
	c    testpb.TestServiceClient
	req  *testpb.SimpleRequest
	size int
}

func (o *unaryOp) do() (int, error) {
	resp, err := o.c.UnaryCall(o.ctx, o.req)
	if err != nil {
		return 0, err
	}
	n := len(resp.GetPayload().GetBody())
	return n, checkSize(n, o.size)
}

type rawUnaryOp struct {
	ctx       context.Context
	cc        grpc.ClientConnInterface
	opts      []grpc.CallOption
	req, resp *rawMessage
	size      int
}

func (o *rawUnaryOp) do() (int, error) {
	if o.resp == nil {
		o.resp = new(rawMessage)
	}
	if err := o.cc.Invoke(o.ctx, rawUnaryPath, o.req, o.resp, o.opts...); err != nil {
		return 0, err
	}
	return o.resp.n, checkSize(o.resp.n, o.size)
}

type pingPongOp struct {
	s    grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]
	req  *testpb.StreamingOutputCallRequest
	size int
}

func (o *pingPongOp) do() (int, error) {
	if err := o.s.Send(o.req); err != nil {
		return 0, err
	}
	resp, err := o.s.Recv()
	if err != nil {
		return 0, err
	}
	n := len(resp.GetPayload().GetBody())
	return n, checkSize(n, o.size)
}

type rawPingPongOp struct {
	s         grpc.ClientStream
	req, resp *rawMessage
	size      int
}

func (o *rawPingPongOp) do() (int, error) {
	if o.resp == nil {
		o.resp = new(rawMessage)
	}
	if err := o.s.SendMsg(o.req); err != nil {
		return 0, err
	}
	if err := o.s.RecvMsg(o.resp); err != nil {
		return 0, err
	}
	return o.resp.n, checkSize(o.resp.n, o.size)
}

type streamOp struct {
	s    grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse]
	size int
}

func (o *streamOp) do() (int, error) {
	resp, err := o.s.Recv()
	if err != nil {
		return 0, err
	}
	n := len(resp.GetPayload().GetBody())
	return n, checkSize(n, o.size)
}

// tcpOp is the loopback floor's round trip: size bytes out, the same back.
type tcpOp struct {
	c    net.Conn
	buf  []byte
	size int
}

// tcpWriteAhead is the largest message tcpOp writes before it reads: a
// larger one is written by another goroutine while it reads, or writer and
// echo could both block on full socket buffers.
const tcpWriteAhead = 64 << 10

func (o *tcpOp) do() (int, error) {
	if o.size <= tcpWriteAhead {
		if _, err := o.c.Write(payload[:o.size]); err != nil {
			return 0, err
		}
		return io.ReadFull(o.c, o.buf)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := o.c.Write(payload[:o.size])
		werr <- err
	}()
	n, err := io.ReadFull(o.c, o.buf)
	if err2 := <-werr; err == nil {
		err = err2
	}
	return n, err
}
