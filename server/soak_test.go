package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The soak tests (README, "Tests"): many streams on one connection, then
// many connections, all four call patterns with messages from 0 B to
// 1 MiB, loopback only, bounded in count and time; every call's result is
// checked, and once everything is closed the goroutines and the heap must
// come back to where they were. The full size runs without the race
// detector (`make soak`); under -race (`go test -race ./...`) the counts
// are smaller, since the race detector allows at most 8128 live
// goroutines (soak_race_test.go, soak_norace_test.go).

// Sizes of the soak. Under -race: at most ~5 goroutines per stream and
// ~8 per connection (both sides) stay well under the race detector's 8128.
var (
	soakStreams = map[bool]int{false: 10_000, true: 2_000}[raceEnabled]
	soakConns   = map[bool]int{false: 1_000, true: 200}[raceEnabled]
)

const (
	// soakTimeout bounds each soak test as a whole: every call's context
	// ends then, and so do the waits below. The full size takes a few
	// seconds on a 2-core machine (README, "Tests"); this is for a
	// loaded CI machine.
	soakTimeout = 90 * time.Second
	// soakBarrierTimeout bounds the wait for every call to be open, well
	// before the calls' contexts end, so that the report of a hang shows
	// the goroutines where they are stuck.
	soakBarrierTimeout = 60 * time.Second
	// soakSettleTimeout bounds the wait for goroutines and heap to come
	// back after everything is closed.
	soakSettleTimeout = 15 * time.Second
)

// soakCall is one call of a soak: its pattern (0 unary, 1 server
// streaming, 2 client streaming, 3 bidi), the sizes of the blobs of its
// requests and replies, and how many messages its streaming side sends.
type soakCall struct {
	id                int
	pattern           int
	reqSize, respSize int
	count             int32
}

func (c soakCall) String() string {
	return fmt.Sprintf("call %d (%s, request %d B, reply %d B, %d messages)",
		c.id, [...]string{"unary", "server streaming", "client streaming", "bidi"}[c.pattern], c.reqSize, c.respSize, c.count)
}

// soakSize spreads sizes over the calls: a third 0 B, most of the rest
// 1 KiB, one in 61 of 64 KiB, one in 2503 of 1 MiB (4 calls of 10,000,
// one of each pattern).
func soakSize(i int) int {
	switch {
	case i%2503 == 0:
		return 1 << 20
	case i%61 == 1:
		return 64 << 10
	case i%3 == 0:
		return 0
	default:
		return 1 << 10
	}
}

// newSoakCall describes call i: patterns in turn, sizes from soakSize,
// 1 to 4 messages on the streaming side.
func newSoakCall(i int) soakCall {
	return soakCall{id: i, pattern: i % 4, reqSize: soakSize(i), respSize: soakSize(i + 1), count: int32(1 + (i/4)%4)}
}

// Blob contents depend on the call, the direction and the message's
// sequence number, so a message delivered to the wrong call, twice or out
// of order fails the check.
func blobSeed(id int, reply bool, seq int32) uint32 {
	s := uint32(id)*2654435761 + uint32(seq)*40503
	if reply {
		s ^= 0x9e3779b9
	}
	return s
}

func fillBlob(n int, seed uint32) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(seed + uint32(j)*7 + uint32(j>>8))
	}
	return b
}

func checkBlob(b []byte, n int, seed uint32) error {
	if len(b) != n {
		return fmt.Errorf("blob of %d bytes, want %d", len(b), n)
	}
	for j, c := range b {
		if want := byte(seed + uint32(j)*7 + uint32(j>>8)); c != want {
			return fmt.Errorf("blob byte %d is %#x, want %#x", j, c, want)
		}
	}
	return nil
}

// soakBarrier holds every call open until all have arrived: the server's
// handlers once they have the first request (and, streaming, sent the
// first reply), the client's streaming calls once their first message is
// sent and, but for client streaming, the first reply received. Nothing can
// finish before it opens, since every handler waits for it.
type soakBarrier struct {
	need    int64
	arrived atomic.Int64 // both sides; the arrival that makes it need opens
	server  atomic.Int64 // handlers arrived, for the report
	client  atomic.Int64 // client streams arrived, for the report
	release chan struct{}
	abort   chan struct{} // closed: client streams stop waiting (TestSoakAbort)
}

func newSoakBarrier(need int) *soakBarrier {
	return &soakBarrier{need: int64(need), release: make(chan struct{}), abort: make(chan struct{})}
}

func (b *soakBarrier) arrive(side *atomic.Int64) {
	side.Add(1)
	if b.arrived.Add(1) == b.need {
		close(b.release)
	}
}

func (b *soakBarrier) wait(ctx context.Context) error {
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// soakService is the example service with every reply's contents
// computed from the call (the request's Value is the call id) and checked
// requests. When barrier is set, each handler arrives at it after its
// first exchange and waits for it to open.
type soakService struct {
	pb.UnimplementedExampleServer
	barrier *soakBarrier

	mu    sync.Mutex
	peers map[string]bool // remote addresses seen, when not nil
}

func (s *soakService) arrive(ctx context.Context) error {
	if s.peers != nil {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return grpcstatus.Error(codes.Internal, "no peer in the handler's context")
		}
		s.mu.Lock()
		s.peers[p.Addr.String()] = true
		s.mu.Unlock()
	}
	if s.barrier == nil {
		return nil
	}
	s.barrier.arrive(&s.barrier.server)
	if err := s.barrier.wait(ctx); err != nil {
		return grpcstatus.Errorf(codes.DeadlineExceeded, "handler waiting at the barrier: %v", err)
	}
	return nil
}

func soakID(r *pb.ExampleRequest) (int, error) {
	id, err := strconv.Atoi(r.Value)
	if err != nil {
		return 0, grpcstatus.Errorf(codes.InvalidArgument, "value %q is not a call id", r.Value)
	}
	return id, nil
}

func checkRequest(r *pb.ExampleRequest, id int, seq int32) error {
	if r.Value != strconv.Itoa(id) {
		return grpcstatus.Errorf(codes.InvalidArgument, "request %d of call %d has value %q", seq, id, r.Value)
	}
	if err := checkBlob(r.Blob, len(r.Blob), blobSeed(id, false, seq)); err != nil {
		return grpcstatus.Errorf(codes.InvalidArgument, "request %d of call %d: %v", seq, id, err)
	}
	return nil
}

func soakReply(r *pb.ExampleRequest, id int, seq int32) *pb.ExampleReply {
	return &pb.ExampleReply{Message: r.Value, Seqno: seq, Blob: fillBlob(int(r.ResponseSize), blobSeed(id, true, seq))}
}

func (s *soakService) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	id, err := soakID(r)
	if err != nil {
		return nil, err
	}
	if err := checkRequest(r, id, 0); err != nil {
		return nil, err
	}
	if err := s.arrive(ctx); err != nil {
		return nil, err
	}
	return soakReply(r, id, 0), nil
}

func (s *soakService) UnaryStream(r *pb.ExampleRequest, st grpc.ServerStreamingServer[pb.ExampleReply]) error {
	id, err := soakID(r)
	if err != nil {
		return err
	}
	if err := checkRequest(r, id, 0); err != nil {
		return err
	}
	for seq := range r.ResponseCount {
		if err := st.Send(soakReply(r, id, seq)); err != nil {
			return err
		}
		if seq == 0 {
			if err := s.arrive(st.Context()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *soakService) StreamUnary(st grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	var first *pb.ExampleRequest
	id, n := 0, int32(0)
	for {
		r, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if first == nil {
			first = r
			if id, err = soakID(r); err != nil {
				return err
			}
		}
		if err := checkRequest(r, id, n); err != nil {
			return err
		}
		n++
		if n == 1 {
			if err := s.arrive(st.Context()); err != nil {
				return err
			}
		}
	}
	if first == nil {
		return grpcstatus.Error(codes.InvalidArgument, "client stream without messages")
	}
	reply := soakReply(first, id, 0)
	reply.Seqno = n
	return st.SendAndClose(reply)
}

func (s *soakService) StreamStream(st grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	id := -1
	for n := int32(0); ; n++ {
		r, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if id < 0 {
			if id, err = soakID(r); err != nil {
				return err
			}
		}
		if err := checkRequest(r, id, n); err != nil {
			return err
		}
		if err := st.Send(soakReply(r, id, n)); err != nil {
			return err
		}
		if n == 0 {
			if err := s.arrive(st.Context()); err != nil {
				return err
			}
		}
	}
}

// Stages of a soak call, for the report when calls hang.
const (
	stageStarted int32 = iota + 1
	stageArrived
	stageDone
)

// runSoakCall makes call c and checks its result: every reply's contents
// and number, and status OK. When barrier is set, streaming calls arrive
// at it after their first exchange. Client streaming sends the rest at
// once: it waits unread in the server while the barrier holds handlers,
// which must stall nothing else (TestUnreadStreamsDoNotStallConnection).
func runSoakCall(ctx context.Context, ec pb.ExampleClient, c soakCall, barrier *soakBarrier, stage *atomic.Int32) error {
	stage.Store(stageStarted)
	defer stage.Store(stageDone)
	arrive := func() {
		stage.Store(stageArrived)
		if barrier != nil {
			barrier.arrive(&barrier.client)
		}
	}
	value := strconv.Itoa(c.id)
	req := func(seq int32) *pb.ExampleRequest {
		return &pb.ExampleRequest{Value: value, Blob: fillBlob(c.reqSize, blobSeed(c.id, false, seq)), ResponseSize: int32(c.respSize), ResponseCount: c.count}
	}
	checkReply := func(r *pb.ExampleReply, seq int32) error {
		if r.Message != value || r.Seqno != seq {
			return fmt.Errorf("reply %d: message %q seqno %d, want %q %d", seq, r.Message, r.Seqno, value, seq)
		}
		if err := checkBlob(r.Blob, c.respSize, blobSeed(c.id, true, seq)); err != nil {
			return fmt.Errorf("reply %d: %v", seq, err)
		}
		return nil
	}
	switch c.pattern {
	case 0:
		r, err := ec.UnaryUnary(ctx, req(0))
		if err != nil {
			return err
		}
		return checkReply(r, 0)
	case 1:
		s, err := ec.UnaryStream(ctx, req(0))
		if err != nil {
			return err
		}
		for seq := int32(0); ; seq++ {
			r, err := s.Recv()
			if err == io.EOF {
				if seq != c.count {
					return fmt.Errorf("server stream ended after %d of %d replies", seq, c.count)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("reply %d: %w", seq, err)
			}
			if err := checkReply(r, seq); err != nil {
				return err
			}
			if seq == 0 {
				arrive()
			}
		}
	case 2:
		s, err := ec.StreamUnary(ctx)
		if err != nil {
			return err
		}
		for seq := range c.count {
			if err := s.Send(req(seq)); err != nil {
				break // the status comes with CloseAndRecv
			}
			if seq == 0 {
				arrive()
			}
		}
		r, err := s.CloseAndRecv()
		if err != nil {
			return err
		}
		if r.Seqno != c.count {
			return fmt.Errorf("client stream counted %d of %d messages", r.Seqno, c.count)
		}
		r.Seqno = 0
		return checkReply(r, 0)
	default:
		s, err := ec.StreamStream(ctx)
		if err != nil {
			return err
		}
		for seq := range c.count {
			if err := s.Send(req(seq)); err != nil {
				_, err = s.Recv() // the status
				return fmt.Errorf("send %d: %w", seq, err)
			}
			r, err := s.Recv()
			if err != nil {
				return fmt.Errorf("reply %d: %w", seq, err)
			}
			if err := checkReply(r, seq); err != nil {
				return err
			}
			if seq == 0 {
				arrive()
			}
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		switch r, err := s.Recv(); {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("after %d replies: %w", c.count, err)
		default:
			return fmt.Errorf("after %d replies, another: %v", c.count, r)
		}
	}
}

// soakServe serves svc on a loopback port; stop shuts the server down
// gracefully (bounded) and checks Serve's result.
func soakServe(t *testing.T, svc *soakService, opts ...server.Option) (addr string, stop func()) {
	t.Helper()
	srv := server.New(opts...)
	pb.RegisterExampleServer(srv, svc)
	return soakServeServer(t, srv)
}

// soakServeServer serves srv on a loopback port; stop shuts it down
// gracefully (bounded) and checks Serve's result.
func soakServeServer(t *testing.T, srv *server.Server) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown with every client closed: %v", err)
				srv.Stop()
			}
			if err := <-served; err != server.ErrServerStopped {
				t.Errorf("Serve returned %v, want ErrServerStopped", err)
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// TestSoakStreams runs soakStreams calls at once on one connection, all
// four patterns, 0 B to 1 MiB: every call opens and makes its first
// exchange before any may finish, every result is checked, and after
// everything is closed goroutines and heap come back.
func TestSoakStreams(t *testing.T) {
	n := soakStreams
	// A client goroutine and a handler per call, and a few more.
	base := takeSoakBaseline(t, 2*n+100)
	peak := startPeakSampler()

	calls := make([]soakCall, n)
	clientArrivals := 0
	for i := range calls {
		calls[i] = newSoakCall(i)
		if calls[i].pattern != 0 {
			clientArrivals++
		}
	}
	barrier := newSoakBarrier(n + clientArrivals)
	svc := &soakService{barrier: barrier}
	addr, stopServer := soakServe(t, svc, server.MaxConcurrentStreams(uint32(n)))

	ctx, cancel := context.WithTimeout(context.Background(), soakTimeout)
	defer cancel()
	start := time.Now()
	cc, err := client.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	ec := pb.NewExampleClient(cc)
	errs := make([]error, n)
	stages := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { errs[i] = runSoakCall(ctx, ec, calls[i], barrier, &stages[i]) })
	}

	var opened time.Duration
	timer := time.NewTimer(soakBarrierTimeout)
	defer timer.Stop()
	select {
	case <-barrier.release:
		opened = time.Since(start)
	case <-timer.C:
		t.Errorf("barrier not reached within %v: %d of %d handlers and %d of %d client streams arrived; stages %v",
			soakBarrierTimeout, barrier.server.Load(), n, barrier.client.Load(), clientArrivals, stageCounts(stages))
		reportPending(t, calls, stages)
		t.Logf("goroutines, grouped:\n%s", groupedStacks(nil))
		cancel()
	}
	if !waitTimeout(&wg, soakTimeout-time.Since(start)+5*time.Second) {
		t.Errorf("calls still running %v after the start; stages %v", time.Since(start), stageCounts(stages))
		reportPending(t, calls, stages)
		t.Logf("goroutines, grouped:\n%s", groupedStacks(nil))
		cancel()
		if !waitTimeout(&wg, 10*time.Second) {
			t.Fatal("calls still running 10s after their context was cancelled")
		}
	}
	elapsed := time.Since(start)
	checkSoakErrors(t, calls, errs)
	t.Logf("%d calls on one connection: all %d open at once after %v, all done after %v; peak %d goroutines",
		n, n, opened.Round(time.Millisecond), elapsed.Round(time.Millisecond), peak.goroutines())

	if err := cc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	stopServer()
	cancel()
	base.check(t, peak.stop())
}

// TestSoakConns opens soakConns connections to one server at once, each
// its own client Conn, and makes one call of each pattern on each at the
// same time; all connections stay open until every one has finished its
// calls, and the server must have seen them all.
func TestSoakConns(t *testing.T) {
	n := soakConns
	// Per connection: its goroutine in the test, 4 calls and 4 handlers,
	// each side's reader and writer, and a few more.
	base := takeSoakBaseline(t, 14*n+100)
	peak := startPeakSampler()

	svc := &soakService{peers: map[string]bool{}}
	addr, stopServer := soakServe(t, svc)

	ctx, cancel := context.WithTimeout(context.Background(), soakTimeout)
	defer cancel()
	start := time.Now()
	const perConn = 4
	calls := make([]soakCall, n*perConn)
	errs := make([]error, n*perConn)
	stages := make([]atomic.Int32, n*perConn)
	dialErrs := make([]error, n)
	conns := make([]*client.Conn, n)
	var connsDone sync.WaitGroup // each connection's calls have finished
	connsDone.Add(n)
	allDone := make(chan struct{})
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			cc, err := client.Dial(addr)
			if err != nil {
				dialErrs[c] = err
				connsDone.Done()
				return
			}
			conns[c] = cc
			ec := pb.NewExampleClient(cc)
			var calls1 sync.WaitGroup
			for k := range perConn {
				i := c*perConn + k
				// Pattern k, rotated per connection; sizes from
				// soakSize, so a few 64 KiB and one 1 MiB.
				calls[i] = newSoakCall(i)
				calls[i].pattern = (k + c) % 4
				calls1.Go(func() { errs[i] = runSoakCall(ctx, ec, calls[i], nil, &stages[i]) })
			}
			calls1.Wait()
			connsDone.Done()
			// Hold the connection open until every connection has made
			// its calls, so all n are open at once.
			select {
			case <-allDone:
			case <-ctx.Done():
			}
		})
	}
	if waitTimeout(&connsDone, soakTimeout) {
		close(allDone)
	} else {
		t.Errorf("connections still making calls after %v; stages %v", soakTimeout, stageCounts(stages))
		reportPending(t, calls, stages)
		t.Logf("goroutines, grouped:\n%s", groupedStacks(nil))
		cancel()
	}
	if !waitTimeout(&wg, 10*time.Second) {
		t.Fatalf("connection goroutines still running 10s after the calls ended")
	}
	elapsed := time.Since(start)
	failedDials := 0
	for c, err := range dialErrs {
		if err != nil {
			failedDials++
			if failedDials <= 10 {
				t.Errorf("Dial %d: %v", c, err)
			}
		}
	}
	if failedDials > 0 {
		t.Errorf("%d of %d dials failed", failedDials, n)
	}
	for c := range calls {
		if errs[c] == nil && stages[c].Load() != stageDone {
			errs[c] = fmt.Errorf("never made (its connection failed)")
		}
	}
	checkSoakErrors(t, calls, errs)
	svc.mu.Lock()
	peers := len(svc.peers)
	svc.mu.Unlock()
	if peers != n {
		t.Errorf("the server saw calls from %d client addresses, want %d", peers, n)
	}
	t.Logf("%d connections, %d calls: all done after %v; peak %d goroutines",
		n, len(calls), elapsed.Round(time.Millisecond), peak.goroutines())

	var closing sync.WaitGroup
	for _, cc := range conns {
		if cc != nil {
			closing.Go(func() {
				if err := cc.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
	}
	if !waitTimeout(&closing, 10*time.Second) {
		t.Errorf("closing the client connections took more than 10s")
	}
	stopServer()
	cancel()
	base.check(t, peak.stop())
}
