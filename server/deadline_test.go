package server_test

import (
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// ctxReport is what a handler saw of its context and of the children it
// made of it once its context ended.
type ctxReport struct {
	err, cause            error
	childErrs             []error
	childCauses           []error
	goroutinesForChildren int
}

// childrenHandler makes n children of its context of three kinds
// (WithCancel, WithTimeout, AfterFunc), waits for its context to end and
// reports; ready is closed once the children exist.
func childrenHandler(n int, ready chan<- struct{}, report chan<- ctxReport) func(context.Context, *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return func(ctx context.Context, _ *pb.ExampleRequest) (*pb.ExampleReply, error) {
		before := runtime.NumGoroutine()
		var children []context.Context
		afterFuncs := make(chan struct{}, n)
		for i := range n {
			switch i % 3 {
			case 0:
				c, cancel := context.WithCancel(ctx)
				defer cancel()
				children = append(children, c)
			case 1:
				c, cancel := context.WithTimeout(ctx, time.Hour)
				defer cancel()
				children = append(children, c)
			default:
				stop := context.AfterFunc(ctx, func() { afterFuncs <- struct{}{} })
				defer stop()
			}
		}
		grown := runtime.NumGoroutine() - before
		close(ready)
		<-ctx.Done()
		for range n / 3 {
			<-afterFuncs
		}
		r := ctxReport{err: ctx.Err(), cause: context.Cause(ctx), goroutinesForChildren: grown}
		for _, c := range children {
			<-c.Done()
			r.childErrs = append(r.childErrs, c.Err())
			r.childCauses = append(r.childCauses, context.Cause(c))
		}
		report <- r
		return nil, ctx.Err()
	}
}

// TestHandlerContextDeadline: when the request's deadline passes, the
// handler's context and every context it derived end with
// DeadlineExceeded, its AfterFuncs run, and the client gets
// DEADLINE_EXCEEDED. The children are registered with the stream's
// context: making 300 of them starts no goroutine.
func TestHandlerContextDeadline(t *testing.T) {
	const n = 300
	ready := make(chan struct{})
	report := make(chan ctxReport, 1)
	_, addr := testserver.Start(t, testserver.Hooks{Unary: childrenHandler(n, ready, report)})
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Timeout: "200m"})
	if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{}), false, nil); err != nil {
		t.Fatal(err)
	}
	<-ready
	if _, s := trailerStatus(t, st); s.Code() != status.DeadlineExceeded {
		t.Errorf("status %v, want DEADLINE_EXCEEDED", s)
	}
	r := <-report
	if r.goroutinesForChildren >= n/3 {
		t.Errorf("making %d children of a handler's context started %d goroutines", n, r.goroutinesForChildren)
	}
	if r.err != context.DeadlineExceeded || r.cause != context.DeadlineExceeded {
		t.Errorf("handler's context: Err %v, Cause %v; want DeadlineExceeded for both", r.err, r.cause)
	}
	for i := range r.childErrs {
		if r.childErrs[i] != context.DeadlineExceeded || r.childCauses[i] != context.DeadlineExceeded {
			t.Fatalf("child %d: Err %v, Cause %v; want DeadlineExceeded for both", i, r.childErrs[i], r.childCauses[i])
		}
	}
}

// TestHandlerContextResetCause: the client's RST_STREAM(CANCEL) ends the
// handler's context and its children with Canceled, and context.Cause
// says the peer reset the stream.
func TestHandlerContextResetCause(t *testing.T) {
	ready := make(chan struct{})
	report := make(chan ctxReport, 1)
	_, addr := testserver.Start(t, testserver.Hooks{Unary: childrenHandler(30, ready, report)})
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Timeout: "1H"})
	if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{}), false, nil); err != nil {
		t.Fatal(err)
	}
	<-ready
	st.Cancel(status.New(status.Canceled, "test cancels"))
	r := <-report
	wantCause := func(err error) bool {
		return status.CodeOf(err) == status.Canceled && status.Convert(err).Message() == "stream reset by peer: CANCEL"
	}
	if r.err != context.Canceled || !wantCause(r.cause) {
		t.Errorf("handler's context: Err %v, Cause %v; want Canceled, the peer's reset", r.err, r.cause)
	}
	for i := range r.childErrs {
		if r.childErrs[i] != context.Canceled || !wantCause(r.childCauses[i]) {
			t.Fatalf("child %d: Err %v, Cause %v; want Canceled, the peer's reset", i, r.childErrs[i], r.childCauses[i])
		}
	}
}

// pipeListener accepts one connection, the server's end of a net.Pipe,
// so that a server runs inside a synctest bubble.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener(nc net.Conn) *pipeListener {
	l := &pipeListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conns <- nc
	return l
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestDeadlinePassedWhileWaiting: a request whose deadline passes while it
// waits for a handler slot (the one slot is held by a handler that ignores
// its context, its own call already ended by its deadline) gets
// DEADLINE_EXCEEDED as soon as it gets the slot, and its handler never
// runs: the deadline counts from the request's arrival.
func TestDeadlinePassedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var runs atomic.Int32
		srv := server.New(server.MaxConcurrentStreams(1))
		server.RegisterUnary(srv, testserver.Unary, func(context.Context, *pb.ExampleRequest) (*pb.ExampleReply, error) {
			runs.Add(1)
			<-release // ignores its context
			return &pb.ExampleReply{}, nil
		})
		a, b := net.Pipe()
		go srv.Serve(newPipeListener(a))
		defer srv.Stop()
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		p := h2test.NewClient(ctx, t, b)
		defer p.Close()
		p.Handshake()
		timeout := hf("grpc-timeout", "1S")
		req := fakeMessage(t, &pb.ExampleRequest{})

		p.WriteHeaders(1, false, h2test.RequestFields(testserver.Unary, timeout))
		p.WriteData(1, true, req)
		if got := fakeTrailers(t, fakeResponse(t, p, 1)).Header("grpc-status"); got != "4" {
			t.Fatalf("first call: grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
		}
		p.WriteHeaders(3, false, h2test.RequestFields(testserver.Unary, timeout))
		p.WriteData(3, true, req)
		time.Sleep(2 * time.Second) // the second call's deadline passes while it waits
		synctest.Wait()
		close(release)
		if got := fakeTrailers(t, fakeResponse(t, p, 3)).Header("grpc-status"); got != "4" {
			t.Fatalf("second call: grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("the handler ran %d times, want once (not for the call whose deadline had passed)", n)
		}
	})
}
