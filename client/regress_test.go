package client_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// Regression tests for what a review of the connection states and the
// transparent retry found.

// A send while the receiving goroutine replays the call on a new stream:
// the sender must not read the stream the replay writes (race detector).
func TestSendDuringReplay(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	s, err := pb.NewExampleClient(c).StreamStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&pb.ExampleRequest{Value: "one"}); err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	recvd := make(chan error, 1)
	go func() { _, err := s.Recv(); recvd <- err }() // finds the refusal, replays
	time.Sleep(100 * time.Millisecond)               // let the replay run first, most of the time
	if err := s.Send(&pb.ExampleRequest{Value: "two"}); err != nil {
		t.Fatal(err)
	}
	s.CloseSend()
	requestBytes(t, p, 3)
	p.WriteHeaders(3, true, append(h2test.ResponseFields(), h2test.TrailerFields("0")...))
	if err := <-recvd; err.Error() != "EOF" {
		t.Fatalf("Recv: %v, want io.EOF", err)
	}
}

// Header takes part in the retry: it waits for the new stream's header.
func TestHeaderDuringRetry(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	s, err := pb.NewExampleClient(c).UnaryStream(ctx, &pb.ExampleRequest{Value: "x"})
	if err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	header := make(chan error, 1)
	go func() {
		md, err := s.Header()
		if err == nil && (len(md["k"]) != 1 || md["k"][0] != "v") {
			err = status.Newf(status.Internal, "header %v", md)
		}
		header <- err
	}()
	requestBytes(t, p, 3)
	p.WriteHeaders(3, false, h2test.ResponseFields(hpack.HeaderField{Name: "k", Value: "v"}))
	p.WriteData(3, false, h2test.Message(mustMarshal(t, &pb.ExampleReply{Message: "ok"})))
	p.WriteHeaders(3, true, h2test.TrailerFields("0"))
	if err := <-header; err != nil {
		t.Errorf("Header: %v, while the call was retried", err)
	}
	if r, err := s.Recv(); err != nil || r.Message != "ok" {
		t.Fatalf("Recv: %v, %v", r, err)
	}
}

// A retry that waits for a connection past the call's deadline ends with
// DEADLINE_EXCEEDED, not the refusal.
func TestRetryCutShortByDeadline(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	var n atomic.Int32
	c, p := dialFake(t, func(ctx context.Context, a string) (net.Conn, error) {
		if n.Add(1) > 1 {
			return nil, context.DeadlineExceeded // the server is gone
		}
		return dialer(ctx, a)
	}, peers)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := pb.NewExampleClient(c).UnaryUnary(cctx, &pb.ExampleRequest{}, grpc.WaitForReady(true))
		done <- err
	}()
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteGoAway(0, http2.ErrCodeNo)
	if err := <-done; status.CodeOf(err) != status.DeadlineExceeded {
		t.Errorf("got %v, want DEADLINE_EXCEEDED", err)
	}
}

// Insecure credentials keep :scheme http, as in grpc-go.
func TestInsecureCredentialsScheme(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers, client.WithTransportCredentials(insecure.NewCredentials()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		pb.NewExampleClient(c).UnaryUnary(cctx, &pb.ExampleRequest{})
	}()
	if f := p.Expect(http2.FrameHeaders, 1); f.Header(":scheme") != "http" {
		t.Errorf(":scheme %q over insecure credentials, want http", f.Header(":scheme"))
	}
	<-done
}

// A server that accepts and closes at once never becomes a connection:
// the attempts fail and back off instead of redialling on every call.
func TestServerClosingAtOnceBacksOff(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var accepts atomic.Int32
	go func() {
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			nc.Close()
		}
	}()
	c := dial(t, lis.Addr().String(), client.WithLazyConnect())
	ctx := testserver.Context(t, 5*time.Second)
	for i := range 20 {
		if _, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{}); status.CodeOf(err) != status.Unavailable {
			t.Fatalf("call %d: %v, want UNAVAILABLE", i, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := accepts.Load(); n > 2 {
		t.Errorf("%d connections for 20 calls within the first backoff (1 s)", n)
	}
}

// WithBackoff fills what it is not given: no tight redial loop.
func TestZeroBackoffDoesNotSpin(t *testing.T) {
	var dials atomic.Int32
	c := dial(t, "x:1", client.WithLazyConnect(), client.WithBackoff(client.Backoff{MaxDelay: time.Second}),
		client.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			dials.Add(1)
			return nil, net.ErrClosed
		}))
	ctx := testserver.Context(t, 5*time.Second)
	pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{})
	time.Sleep(100 * time.Millisecond)
	if n := dials.Load(); n > 2 {
		t.Errorf("%d dials in 100ms with Backoff{MaxDelay: 1s} (BaseDelay defaults to 1s)", n)
	}
}

// lateContext is a context that is late the way one can be on a loaded
// machine: Err reports its end (a cancel, or the deadline having passed)
// before Done is closed, so context.AfterFunc callbacks have not run.
type lateContext struct {
	context.Context // never done until release
	release         context.CancelFunc
	deadline        time.Time
	canceled        atomic.Bool
}

func newLateContext(deadline time.Time) *lateContext {
	ctx, release := context.WithCancel(context.Background())
	return &lateContext{Context: ctx, release: release, deadline: deadline}
}

func (c *lateContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *lateContext) Err() error {
	if c.canceled.Load() {
		return context.Canceled
	}
	return nil
}

// A call whose context was cancelled sends nothing more, even before the
// context's callback runs: CloseSend resets the stream instead of sending
// END_STREAM, which would let the server complete a cancelled call.
func TestCloseSendAfterCancel(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	lc := newLateContext(time.Time{})
	defer lc.release()
	s, err := pb.NewExampleClient(c).StreamStream(lc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&pb.ExampleRequest{Value: "one"}); err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	lc.canceled.Store(true)
	if err := s.Send(&pb.ExampleRequest{Value: "two"}); err == nil {
		t.Error("Send after the cancel succeeded")
	}
	s.CloseSend()
	if f := p.Next(); f.Type != http2.FrameRSTStream || f.StreamID != 1 || f.ErrCode != http2.ErrCodeCancel {
		t.Fatalf("after the cancel the server got %v, want RST_STREAM(CANCEL) on stream 1", f)
	}
	if _, err := s.Recv(); status.CodeOf(err) != status.Canceled {
		t.Fatalf("Recv: %v, want CANCELLED", err)
	}
}

// Header reports a CANCEL reset that follows the deadline as
// DEADLINE_EXCEEDED, as RecvMsg does, even before the context's timer
// fires.
func TestHeaderAfterDeadlineReset(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	lc := newLateContext(time.Now().Add(50 * time.Millisecond))
	defer lc.release()
	s, err := pb.NewExampleClient(c).StreamStream(lc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&pb.ExampleRequest{Value: "one"}); err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	time.Sleep(100 * time.Millisecond) // past the deadline
	p.WriteRSTStream(1, http2.ErrCodeCancel)
	if _, err := s.Header(); status.CodeOf(err) != status.DeadlineExceeded {
		t.Errorf("Header: %v, want DEADLINE_EXCEEDED", err)
	}
	if _, err := s.Recv(); status.CodeOf(err) != status.DeadlineExceeded {
		t.Errorf("Recv: %v, want DEADLINE_EXCEEDED", err)
	}
}
